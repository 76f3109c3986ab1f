"""The rows a batch job writes, and their schema (README, "Batch scoring").

Every input gives at least one row, and every row carries its input, so rows can be
joined back to inputs whatever order they arrive in:

* **faces** (face heads): one row per face, per image or sampled video frame. An image
  or frame without a face gives one row with ``status="no_face"``. Columns: ``input``
  (path or URL), ``frame`` / ``timestamp_s`` (videos; null for images), ``width`` /
  ``height`` (pixels), ``face`` (0, 1... in detector order), the box ``x1 y1 x2 y2``
  (pixels, x2/y2 exclusive), ``detector_score``, and per head ``<head>_label``,
  ``<head>_score`` and ``<head>_p_<class>`` for every class of the head.
* **pairs** (a verification run): one row per pair. Columns: ``input`` (the questioned
  signature), ``references`` (JSON list), ``distance``, ``threshold``, ``decision``
  (``genuine`` / ``forged``), ``similarity``, ``p_genuine``, ``operating_point``, ``k``.

Both kinds also have ``status`` (``ok``, ``no_face`` or ``failed``) and ``error`` (the
one-line reason of a ``failed`` row, else null). An input that cannot be read gives one
``failed`` row; a truncated video gives its frames' rows and then one ``failed`` row.
The schema is fixed before any input is read (the heads' class names come from their
``meta.json``), so every part file and every engine writes the same columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from inkface.batch.inputs import Mode, input_key

OK, NO_FACE, FAILED = "ok", "no_face", "failed"
_COMMON = [("input", pa.string()), ("status", pa.string()), ("error", pa.string())]
_FACE_FIELDS = [
    ("frame", pa.int64()),
    ("timestamp_s", pa.float64()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("face", pa.int32()),
    ("x1", pa.int32()),
    ("y1", pa.int32()),
    ("x2", pa.int32()),
    ("y2", pa.int32()),
    ("detector_score", pa.float32()),
]
_PAIR_FIELDS = [
    ("references", pa.string()),
    ("distance", pa.float64()),
    ("threshold", pa.float64()),
    ("decision", pa.string()),
    ("similarity", pa.float64()),
    ("p_genuine", pa.float64()),
    ("operating_point", pa.string()),
    ("k", pa.int32()),
]


def column_name(text: str) -> str:
    """``text`` as a column-name part: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_") or "x"


def head_columns(head: str, classes: Sequence[str]) -> list[tuple[str, pa.DataType]]:
    """A head's columns: label, score, then one probability per class."""
    name = column_name(head)
    columns = [(f"{name}_label", pa.string()), (f"{name}_score", pa.float32())]
    columns += [(f"{name}_p_{column_name(c)}", pa.float32()) for c in classes]
    return columns


def output_schema(mode: Mode, heads: Mapping[str, Sequence[str]] | None = None) -> pa.Schema:
    """The schema of ``mode``'s rows; ``heads`` maps head name -> class names (faces)."""
    fields = list(_COMMON)
    if mode == "pairs":
        fields += _PAIR_FIELDS
    else:
        fields += _FACE_FIELDS
        for head, classes in (heads or {}).items():
            fields += head_columns(head, classes)
    names = [n for n, _ in fields]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ValueError(f"two columns would be named {duplicate!r}; rename a head or class")
    return pa.schema(fields)


def to_table(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows (dicts; missing columns are null) as a table of exactly ``schema``."""
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


def key_of_row(row: Mapping[str, Any]) -> str:
    """The input key of a row (see :attr:`inkface.batch.inputs.BatchInput.key`)."""
    refs = row.get("references")
    return input_key(str(row["input"]), json.loads(refs) if refs else ())
