"""The gallery's rows checked in one pass: what cannot be used, and its removal.

A gallery file may be edited by other tools, restored from a damaged copy or written
by a bug; a bad row must be one clear line, never a traceback in the middle of a search
(:func:`scan_rows` runs whenever a gallery is opened). The kinds:

* ``model identity``: ``meta.model_identity`` is not a JSON object (the model that made
  the embeddings is unknown: the gallery cannot be repaired, only re-made);
* ``orphan reference``: a reference whose writer is not in ``writers``;
* ``embedding length``: a blob that is not whole float32 values (or is empty);
* ``embedding dimension``: a blob whose length differs from the gallery's embeddings
  (``meta.embedding_dim``, or the most common length in a gallery made before it);
* ``non-finite embedding``: a NaN or infinite value (every distance to it is NaN);
* ``writer without references``: a writer nothing can be compared with;
* ``orphan writer stats`` / ``writer thresholds``: a ``writer_stats`` row of no writer,
  or whose thresholds are not a JSON object of finite numbers.

:func:`remove_rows` deletes the repairable ones (inside the caller's transaction) with
what depends on them: the stored spread and thresholds of a writer who lost references
(``verify`` computes them again when needed) and writers left without references.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.signatures.identification.gallery_store import (
    create_schema,
    has_schema,
    has_stats,
    json_object,
    read_meta,
    snapshot,
    stored_dim,
)

IDENTITY = "model identity"
ORPHAN_REF = "orphan reference"
LENGTH = "embedding length"
DIMENSION = "embedding dimension"
NON_FINITE = "non-finite embedding"
EMPTY_WRITER = "writer without references"
ORPHAN_STATS = "orphan writer stats"
THRESHOLDS = "writer thresholds"


@dataclass(frozen=True)
class BadRow:
    """One row that cannot be used: its kind, table, row id (or key) and writer."""

    kind: str
    table: str
    row: int | str
    writer: str | None
    detail: str

    @property
    def repairable(self) -> bool:
        return self.kind != IDENTITY

    def describe(self) -> str:
        who = "" if self.writer is None else f" (writer {self.writer!r})"
        return f"{self.table} row {self.row}{who}: {self.detail}"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "repairable": self.repairable}


@dataclass(frozen=True)
class References:
    """The usable references (their writers' ids, one float32 row each) and the refused
    ones."""

    writer_ids: np.ndarray
    matrix: np.ndarray
    bad: list[BadRow]


def _common_dim(blobs: list[object]) -> int | None:
    whole = [len(b) // 4 for b in blobs if isinstance(b, bytes) and b and len(b) % 4 == 0]
    lengths = Counter(whole)
    return lengths.most_common(1)[0][0] if lengths else None


def _blob_problem(blob: object, dim: int | None) -> tuple[str, str] | None:
    if not isinstance(blob, bytes):
        return LENGTH, f"embedding is {type(blob).__name__}, not a float32 blob"
    if not blob or len(blob) % 4:
        return LENGTH, f"embedding of {len(blob)} bytes is not whole float32 values"
    if dim is not None and len(blob) != 4 * dim:
        return DIMENSION, f"embedding has {len(blob) // 4} values, the gallery's have {dim}"
    return None


def read_references(
    db: sqlite3.Connection, dim: int | None, writer_id: int | None = None
) -> References:
    """Every reference (of one writer: ``writer_id``), checked: ``dim`` is the gallery's
    embedding length (None: the most common one)."""
    sql = (
        "SELECT r.id, r.writer_id, w.name, r.embedding FROM refs r "
        "LEFT JOIN writers w ON w.id = r.writer_id"
    )
    params: tuple[int, ...] = ()
    if writer_id is not None:
        sql, params = sql + " WHERE r.writer_id = ?", (writer_id,)
    rows = db.execute(sql + " ORDER BY r.id", params).fetchall()
    if dim is None:
        dim = _common_dim([blob for *_, blob in rows])
    bad: list[BadRow] = []
    good: list[tuple[int, int, str, bytes]] = []
    for ref_id, owner, name, blob in rows:
        if name is None:
            detail = f"its writer id {owner} is not in the writers table"
            bad.append(BadRow(ORPHAN_REF, "refs", ref_id, None, detail))
        elif (problem := _blob_problem(blob, dim)) is not None:
            bad.append(BadRow(problem[0], "refs", ref_id, name, problem[1]))
        else:
            good.append((ref_id, owner, name, blob))
    width = dim or 0
    matrix = np.frombuffer(b"".join(g[3] for g in good), np.float32).reshape(len(good), width)
    finite = np.isfinite(matrix).all(axis=1)
    for i in np.flatnonzero(~finite):
        ref_id, _, name, _ = good[i]
        bad.append(BadRow(NON_FINITE, "refs", ref_id, name, "embedding holds NaN or inf"))
    keep = [g for g, ok in zip(good, finite, strict=True) if ok]
    return References(
        writer_ids=np.array([g[1] for g in keep], dtype=np.int64),
        matrix=matrix[finite],
        bad=sorted(bad, key=lambda b: int(b.row)),
    )


def _thresholds_problem(text: object) -> str | None:
    value = json_object(text)
    if value is None:
        return "thresholds are not a JSON object"
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            return f"threshold {key!r} is not a number"
        if not math.isfinite(number):
            return f"threshold {key!r} is not finite"
    return None


def _stats_rows(db: sqlite3.Connection) -> list[BadRow]:
    if not has_stats(db):
        return []
    bad = []
    rows = db.execute(
        "SELECT s.writer_id, w.name, s.thresholds FROM writer_stats s "
        "LEFT JOIN writers w ON w.id = s.writer_id ORDER BY s.writer_id"
    ).fetchall()
    for writer_id, name, text in rows:
        if name is None:
            detail = f"writer id {writer_id} is not in the writers table"
            bad.append(BadRow(ORPHAN_STATS, "writer_stats", writer_id, None, detail))
        elif (problem := _thresholds_problem(text)) is not None:
            bad.append(BadRow(THRESHOLDS, "writer_stats", writer_id, name, problem))
    return bad


def scan_rows(db: sqlite3.Connection, meta: dict[str, str]) -> list[BadRow]:
    """Every bad row of the gallery (call inside one read transaction)."""
    bad = []
    if json_object(meta.get("model_identity")) is None:
        detail = "the model identity is not a JSON object (the gallery's model is unknown)"
        bad.append(BadRow(IDENTITY, "meta", "model_identity", None, detail))
    bad += read_references(db, stored_dim(meta)).bad
    empty = db.execute(
        "SELECT w.id, w.name FROM writers w "
        "WHERE NOT EXISTS (SELECT 1 FROM refs r WHERE r.writer_id = w.id) ORDER BY w.id"
    ).fetchall()
    bad += [BadRow(EMPTY_WRITER, "writers", i, n, "the writer has no references") for i, n in empty]
    return bad + _stats_rows(db)


def remove_rows(db: sqlite3.Connection, bad: list[BadRow]) -> dict[str, int]:
    """Delete the repairable ``bad`` rows and what depends on them (inside the caller's
    transaction); how many rows went from each table."""
    refs = [(b.row,) for b in bad if b.table == "refs"]
    touched = {
        row[0]
        for (ref_id,) in refs
        for row in db.execute("SELECT writer_id FROM refs WHERE id = ?", (ref_id,))
    }
    removed = {"refs": 0, "writers": 0, "writer_stats": 0}
    removed["refs"] = db.executemany("DELETE FROM refs WHERE id = ?", refs).rowcount
    if has_stats(db):
        stats = {b.row for b in bad if b.table == "writer_stats"} | touched
        removed["writer_stats"] = db.executemany(
            "DELETE FROM writer_stats WHERE writer_id = ?", [(w,) for w in sorted(stats)]
        ).rowcount
        removed["writer_stats"] += db.execute(
            "DELETE FROM writer_stats WHERE writer_id IN (SELECT w.id FROM writers w WHERE "
            "NOT EXISTS (SELECT 1 FROM refs r WHERE r.writer_id = w.id))"
        ).rowcount
    removed["writers"] = db.execute(
        "DELETE FROM writers WHERE NOT EXISTS (SELECT 1 FROM refs r WHERE r.writer_id = writers.id)"
    ).rowcount
    return removed


def bad_rows_error(path: Path, bad: list[BadRow]) -> InkfaceError:
    """One line naming the gallery, its first bad row and how to repair it."""
    first = bad[0]
    more = f" (and {len(bad) - 1} more bad rows)" if len(bad) > 1 else ""
    if first.repairable:
        advice = f"run `inkface gallery check {path} --repair` to remove bad rows"
    else:
        advice = "it cannot be repaired: enrol the writers into a new gallery"
    return InkfaceError(f"{path}: bad gallery row, {first.describe()}{more}; {advice}")


def check_model(path: Path, meta: dict[str, str], identity: dict[str, Any] | None) -> None:
    """Refuse an unreadable model identity, and one that is not ``identity`` (the
    embedder's; None: any model)."""
    stored = json_object(meta.get("model_identity"))
    if stored is None:
        detail = "the model identity is not a JSON object (the gallery's model is unknown)"
        raise bad_rows_error(path, [BadRow(IDENTITY, "meta", "model_identity", None, detail)])
    if identity is not None and stored != json.loads(json.dumps(identity, sort_keys=True)):
        raise InkfaceError(
            f"{path}: gallery was built with {stored.get('architecture')} weights "
            f"{str(stored.get('weights_sha256'))[:12]}; this run's model differs "
            "(embeddings of different models cannot be compared)"
        )


def read_checked(
    db: sqlite3.Connection, path: Path, identity: dict[str, Any] | None
) -> dict[str, str] | None:
    """The gallery's ``meta`` once its header, model (``identity``, see
    :func:`check_model`) and rows are checked; None for a blank SQLite file."""
    with snapshot(db, path):
        (app_id,) = db.execute("PRAGMA application_id").fetchone()
        if app_id == 0 and not has_schema(db):
            return None
        meta = read_meta(db, path)
        check_model(path, meta, identity)
        bad = scan_rows(db, meta)
    if bad:
        raise bad_rows_error(path, bad)
    return meta


def dimension_error(path: Path, dim: int, stored: int | None) -> InkfaceError:
    return InkfaceError(
        f"{path}: the model makes embeddings of {dim} values, the gallery holds {stored}"
    )


def prepare_gallery(db: sqlite3.Connection, path: Path, identity: dict[str, Any], dim: int) -> None:
    """Inside an enrolment's transaction: the tables of a gallery not made yet (a blank
    file), else a check that it is this model's (another process may have made it since
    it was opened) with ``dim`` values per embedding (recorded if made before that was)."""
    if not has_schema(db):
        create_schema(db, json.dumps(identity, sort_keys=True), dim)
        return
    check_model(path, read_meta(db, path), identity)
    db.execute("INSERT OR IGNORE INTO meta VALUES ('embedding_dim', ?)", (str(dim),))
    stored = stored_dim(read_meta(db, path))
    if stored != dim:
        raise dimension_error(path, dim, stored)
