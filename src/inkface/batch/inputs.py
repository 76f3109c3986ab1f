"""What a batch job reads: every input of a SOURCE, listed before any work starts.

A SOURCE is a folder (searched recursively for images and videos), a manifest of image
or video paths and URLs (``.txt`` / ``.lst``: one per line; ``.csv``: a ``path``
column), or, for a verification run, a CSV manifest of signature pairs
(``questioned`` and ``reference`` columns; several references joined by ``;``). Relative
paths in a manifest are relative to the manifest's folder; ``file://`` URLs are local
files; any other ``scheme://`` (``s3://``, ``gs://``...) is read through ``fsspec``
when it is installed.

Each input has a ``key``: the string that identifies it in the output, so that a rerun
with the same ``--out`` skips what is already written (:mod:`inkface.batch.output`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from inkface.core.errors import InkfaceError
from inkface.core.images import IMAGE_SUFFIXES
from inkface.core.input_gate import check_input_file, check_input_folder

InputKind = Literal["image", "video", "pair"]
Mode = Literal["faces", "pairs"]

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
MANIFEST_SUFFIXES = frozenset({".txt", ".lst", ".csv"})
MAX_MANIFEST_BYTES = 1 << 30  # 1 GiB of paths: tens of millions of lines
REFERENCE_SEPARATOR = ";"


@dataclass(frozen=True)
class BatchInput:
    """One unit of work: an image, a video (its frames sampled) or a signature pair.

    ``location`` is a local path or a URL; ``references`` are a pair's reference
    signatures (``location`` is then the questioned one)."""

    kind: InputKind
    location: str
    references: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The identity of this input in the output rows (``input`` column, plus the
        ``references`` column for pairs)."""
        return input_key(self.location, self.references)

    def as_item(self) -> dict[str, str]:
        """A flat record of strings (what Ray Data and Spark pass between processes)."""
        return {
            "kind": self.kind,
            "location": self.location,
            "references": json.dumps(list(self.references)) if self.references else "",
        }

    @classmethod
    def from_item(cls, item: dict[str, object]) -> BatchInput:
        """The inverse of :meth:`as_item`; a bare path string is an image or video."""
        refs = str(item.get("references") or "")
        location = str(item["location"])
        kind = str(item.get("kind") or kind_of(location))
        if kind not in ("image", "video", "pair"):
            raise InkfaceError(f"kind: expected image, video or pair, got {kind!r}")
        return cls(kind, location, tuple(json.loads(refs)) if refs else ())  # type: ignore[arg-type]


def input_key(location: str, references: tuple[str, ...] | list[str] = ()) -> str:
    """``location``, followed by the references of a pair (tab-separated)."""
    return "\t".join([location, *references])


def is_url(text: str) -> bool:
    """True for ``scheme://...`` (``file://`` included), false for local paths."""
    scheme = urlparse(text).scheme
    return len(scheme) > 1 and "://" in text


def local_path(location: str) -> Path | None:
    """The local file a location names (plain paths and ``file://`` URLs), else None."""
    if not is_url(location):
        return Path(location)
    parsed = urlparse(location)
    if parsed.scheme != "file":
        return None
    if parsed.netloc not in ("", "localhost"):
        raise InkfaceError(f"{location}: file:// URLs must name a local file (file:///path)")
    return Path(unquote(parsed.path))


def kind_of(location: str) -> InputKind:
    """``video`` for the video suffixes, else ``image`` (decoding decides the rest)."""
    suffix = Path(urlparse(location).path if is_url(location) else location).suffix.lower()
    return "video" if suffix in VIDEO_SUFFIXES else "image"


def list_inputs(source: str | Path, mode: Mode = "faces") -> list[BatchInput]:
    """Every input of ``source`` in a stable order (folders: sorted paths; manifests:
    their order). Unusable sources are one-line errors naming them; an unusable input
    inside a source is not: it becomes a failure row when scored."""
    text = str(source).strip()
    if not text:
        raise InkfaceError("source: empty")
    path = local_path(text)
    if path is None:
        raise InkfaceError(f"{text}: a SOURCE must be a local folder or manifest file")
    if _is_folder(path):
        if mode == "pairs":
            raise InkfaceError(
                f"{path}: a verification run scores pairs: give a CSV manifest with "
                "questioned and reference columns"
            )
        check_input_folder(path, "source folder")
        return list(_folder_inputs(path))
    check_input_file(path, "source manifest", MAX_MANIFEST_BYTES)
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise InkfaceError(
            f"{path}: a SOURCE is a folder or a manifest (.txt, .lst or .csv), not a "
            f"{suffix or 'suffix-less'} file"
        )
    if mode == "pairs":
        if suffix != ".csv":
            raise InkfaceError(f"{path}: pairs come from a .csv manifest (questioned, reference)")
        return _pair_inputs(path)
    return _listed_inputs(path)


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError as exc:  # a name too long, a loop of links...
        raise InkfaceError(f"{path}: source cannot be read ({exc.strerror})") from None


def _folder_inputs(root: Path) -> Iterator[BatchInput]:
    """Images and videos under ``root``, sorted; hidden files and folders skipped."""
    wanted = IMAGE_SUFFIXES | VIDEO_SUFFIXES

    def visible(p: Path) -> bool:
        return not any(part.startswith(".") for part in p.relative_to(root).parts)

    files = (p for p in root.rglob("*") if visible(p))
    for file in sorted(p for p in files if p.suffix.lower() in wanted and not p.is_dir()):
        yield BatchInput(kind_of(str(file)), str(file))


def _resolve(entry: str, folder: Path) -> str:
    entry = entry.strip()
    if is_url(entry):
        return entry
    path = Path(entry).expanduser()
    return str(path if path.is_absolute() else folder / path)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InkfaceError(f"{path}: manifest is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InkfaceError(f"{path}: manifest cannot be read ({exc.strerror})") from None


def _csv_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    reader = csv.DictReader(_read_text(path).splitlines())
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    missing = [name for name in required if name not in fields]
    if missing:
        raise InkfaceError(
            f"{path}: manifest has no {missing[0]!r} column (header: {', '.join(fields) or 'none'})"
        )
    rows = []
    for row in reader:
        rows.append({(k or "").strip().lower(): (v or "").strip() for k, v in row.items()})
    return rows


def _listed_inputs(path: Path) -> list[BatchInput]:
    if path.suffix.lower() == ".csv":
        entries = [row["path"] for row in _csv_rows(path, ("path",))]
    else:
        lines = (line.strip() for line in _read_text(path).splitlines())
        entries = [line for line in lines if line and not line.startswith("#")]
    inputs = []
    for number, entry in enumerate(entries, start=1):
        if not entry:
            raise InkfaceError(f"{path}: entry {number} is empty")
        location = _resolve(entry, path.parent)
        inputs.append(BatchInput(kind_of(location), location))
    return inputs


def _pair_inputs(path: Path) -> list[BatchInput]:
    rows = _csv_rows(path, ("questioned",))
    inputs = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        refs = row.get("reference") or row.get("references") or ""
        references = [r for r in (s.strip() for s in refs.split(REFERENCE_SEPARATOR)) if r]
        if not references or not row["questioned"]:
            raise InkfaceError(
                f"{path}: line {number} needs a questioned signature and at least one "
                "reference (reference column; several joined by ';')"
            )
        inputs.append(
            BatchInput(
                "pair",
                _resolve(row["questioned"], path.parent),
                tuple(_resolve(r, path.parent) for r in references),
            )
        )
    return inputs
