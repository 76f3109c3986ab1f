"""An enrolment gallery in one SQLite file: writers are added and removed, never retrained.

The identification paper's central contrast: a CNN classifier must be retrained
whenever a writer joins or leaves, a Siamese model only compares. The gallery stores
reference embeddings with the identity of the model that made them, so a gallery built
with one model is never searched with another.

Schema (version 1; ``PRAGMA application_id`` marks the file as an inkface gallery)::

    meta(key TEXT PRIMARY KEY, value TEXT)            -- schema_version, model identity,
                                                      -- embedding_dim (newer galleries)
    writers(id INTEGER PRIMARY KEY, name TEXT UNIQUE, created TEXT)
    refs(id INTEGER PRIMARY KEY, writer_id INTEGER REFERENCES writers ON DELETE CASCADE,
         source TEXT, embedding BLOB)                 -- float32 vector
    writer_stats(writer_id INTEGER PRIMARY KEY REFERENCES writers ON DELETE CASCADE,
         n_refs INTEGER, spread REAL, rule TEXT, thresholds TEXT, updated TEXT)

``writer_stats`` (added with writer thresholds; created by the first enrolment that
needs it, so older galleries open unchanged) records, at each enrolment, the spread of
the writer's references and the writer thresholds derived from it for every operating
point (:mod:`inkface.signatures.verification.claims`). ``verify`` decides with the
writer threshold once a writer has three references and reports the global decision
beside it; a writer enrolled before the table existed gets the spread computed at
verification, and the answer says so.

Every change runs in one transaction (:mod:`.gallery_store`: WAL, a busy timeout, a
clear line when another process holds the lock); images are embedded before the
transaction opens, so a bad image leaves the gallery untouched, and the file is created
by the first successful enrolment only. Opening a gallery checks its rows
(:mod:`.gallery_rows`): a bad one is one line naming it, repaired by
``inkface gallery check --repair``. Searches read all embeddings into one matrix (kept
until the next change): 10,000 references x 128 floats is 5 MB and one matrix product.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from inkface.core.atomic import check_output_path
from inkface.core.errors import InkfaceError
from inkface.core.input_gate import check_input_file
from inkface.evaluation.policy import DecisionPolicy
from inkface.signatures.identification.gallery_rows import (
    bad_rows_error,
    dimension_error,
    prepare_gallery,
    read_checked,
    read_references,
)
from inkface.signatures.identification.gallery_store import (
    BUSY_TIMEOUT_S,
    STATS_SCHEMA,
    connect,
    db_errors,
    discard_blank,
    has_stats,
    json_object,
    now,
    snapshot,
    stored_dim,
    write_transaction,
)
from inkface.signatures.verification.claims import (
    claim_policy,
    decide_claim,
    writer_spread,
    writer_thresholds,
)
from inkface.signatures.verification.embedder import Embedder, ImageInput

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Candidate:
    writer: str
    similarity: float
    distance: float


@dataclass(frozen=True)
class Identification:
    """Top-k writers by similarity and the open-set decision."""

    questioned: str
    candidates: list[Candidate]
    decision: str  # a writer name, or "unknown" below the threshold
    threshold: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Gallery:
    """Open with :func:`open_gallery`; all changes are transactional.

    ``connection`` is None until the file exists (a new path, an empty file): the first
    enrolment creates it. Without an ``embedder`` (``list``, ``remove``, ``check``) the
    gallery can be read and writers removed, but nothing embedded.
    """

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection | None,
        embedder: Embedder | None,
        policy: DecisionPolicy | None = None,
        dim: int | None = None,
        timeout: float = BUSY_TIMEOUT_S,
    ) -> None:
        self.path = path
        self._db = connection
        self.embedder = embedder
        self.policy = policy
        self._dim = dim
        self._timeout = timeout
        self._matrix: tuple[np.ndarray, np.ndarray, list[str]] | None = None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _model(self, what: str) -> Embedder:
        if self.embedder is None:
            raise InkfaceError(f"{self.path}: {what} needs the gallery's embedding run (--run)")
        return self.embedder

    # -- changes ------------------------------------------------------------------------
    @db_errors
    def enrol(
        self,
        writer: str,
        images: Sequence[ImageInput],
        sources: Sequence[str] | None = None,
    ) -> int:
        """Add reference signatures for ``writer`` (created if new); returns their count.

        ``sources`` names each image in the gallery (e.g. uploaded file names) instead of
        its path (or ``<array>``). The writer's spread and writer thresholds are updated
        in the same transaction.
        """
        embedder = self._model("enrol")
        writer = _check_name(writer)
        if not images:
            raise InkfaceError(f"enrol {writer}: give at least one reference image")
        if sources is not None and len(sources) != len(images):
            raise InkfaceError(
                f"enrol {writer}: {len(sources)} source names for {len(images)} images"
            )
        names = [str(s) for s in sources] if sources is not None else [_source(i) for i in images]
        embeddings = np.asarray(embedder.embed(list(images)), np.float32)  # before any write
        for name, emb in zip(names, embeddings, strict=True):
            if not np.isfinite(emb).all():
                raise InkfaceError(f"enrol {writer}: the embedding of {name} is not finite")
        created = self._db is None and not os.path.lexists(self.path)
        if self._db is None:
            self._db = connect(self.path, self._timeout)
        try:
            self._insert(self._db, writer, names, embeddings)
        except BaseException:
            if created:
                discard_blank(self._db, self.path)
                self._db = None
            raise
        self._matrix = None
        return len(images)

    def _insert(
        self, db: sqlite3.Connection, writer: str, names: list[str], embeddings: np.ndarray
    ) -> None:
        dim = int(embeddings.shape[1])
        at = now()
        with write_transaction(db, self.path):
            prepare_gallery(db, self.path, self._model("enrol").identity, dim)
            self._dim = dim
            db.execute("INSERT OR IGNORE INTO writers(name, created) VALUES (?, ?)", (writer, at))
            (writer_id,) = db.execute("SELECT id FROM writers WHERE name = ?", (writer,)).fetchone()
            db.executemany(
                "INSERT INTO refs(writer_id, source, embedding) VALUES (?, ?, ?)",
                [(writer_id, n, e.tobytes()) for n, e in zip(names, embeddings, strict=True)],
            )
            if self.policy is not None:
                self._store_stats(writer_id, writer, at)

    def _references(self, writer_id: int, writer: str) -> np.ndarray:
        assert self._db is not None
        found = read_references(self._db, self._dim, writer_id)
        if found.bad:
            raise bad_rows_error(self.path, found.bad)
        if not len(found.matrix):
            raise InkfaceError(
                f"{self.path}: writer {writer!r} has no references; "
                f"`inkface gallery check {self.path} --repair` removes the writer"
            )
        return found.matrix

    def _store_stats(self, writer_id: int, writer: str, now: str) -> None:
        """Record the writer's spread and writer thresholds (inside the caller's
        transaction)."""
        assert self._db is not None
        refs = self._references(writer_id, writer)
        spread = writer_spread(refs, self.policy)
        thresholds = writer_thresholds(self.policy, len(refs), spread)
        self._db.execute(STATS_SCHEMA)
        self._db.execute(
            "INSERT OR REPLACE INTO writer_stats VALUES (?, ?, ?, ?, ?, ?)",
            (writer_id, len(refs), spread, self.policy.rule, json.dumps(thresholds), now),
        )

    @db_errors
    def writer_record(self, writer: str) -> dict[str, object]:
        """A writer's references count, spread and writer thresholds per operating point
        (as stored at enrolment; computed now for writers enrolled before they were)."""
        writer_id = self._writer_id(writer)
        assert self._db is not None
        with snapshot(self._db, self.path):
            stored = self._stats(writer_id)
            if stored is None:
                refs = self._references(writer_id, writer)
                spread = writer_spread(refs, self.policy)
                stored = (len(refs), spread, writer_thresholds(self.policy, len(refs), spread))
        n_refs, spread, thresholds = stored
        return {
            "writer": writer,
            "references": n_refs,
            "spread": spread,
            "writer_thresholds": thresholds,
            "min_references": None if self.policy is None else self.policy.min_writer_references,
        }

    def _writer_id(self, writer: str) -> int:
        row = None
        if self._db is not None:
            row = self._db.execute("SELECT id FROM writers WHERE name = ?", (writer,)).fetchone()
        if row is None:
            raise InkfaceError(f"{self.path}: no enrolled writer named {writer!r}")
        return int(row[0])

    def _stats(self, writer_id: int) -> tuple[int, float | None, dict] | None:
        """Stored (n_refs, spread, thresholds) if current for this run's rule, else None
        (also for a gallery from before writer thresholds)."""
        if self.policy is None or self._db is None or not has_stats(self._db):
            return None
        row = self._db.execute(
            "SELECT n_refs, spread, rule, thresholds FROM writer_stats WHERE writer_id = ?",
            (writer_id,),
        ).fetchone()
        if row is None or row[2] != self.policy.rule:
            return None
        thresholds = json_object(row[3])
        if thresholds is None:  # unreadable: computed again
            return None
        return int(row[0]), None if row[1] is None else float(row[1]), thresholds

    @db_errors
    def remove(self, writer: str) -> int:
        """Delete a writer and their references; returns how many references went."""
        if self._db is None:
            raise InkfaceError(f"{self.path}: no enrolled writer named {writer!r}")
        with write_transaction(self._db, self.path):
            row = self._db.execute("SELECT id FROM writers WHERE name = ?", (writer,)).fetchone()
            if row is None:
                raise InkfaceError(f"{self.path}: no enrolled writer named {writer!r}")
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM refs WHERE writer_id = ?", (row[0],)
            ).fetchone()
            self._db.execute("DELETE FROM writers WHERE id = ?", (row[0],))
        self._matrix = None
        return int(count)

    # -- queries ------------------------------------------------------------------------
    @db_errors
    def writers(self) -> list[dict[str, object]]:
        """Enrolled writers with their reference counts, by name."""
        if self._db is None:
            return []
        rows = self._db.execute(
            "SELECT w.name, COUNT(r.id), w.created FROM writers w "
            "LEFT JOIN refs r ON r.writer_id = w.id GROUP BY w.id ORDER BY w.name"
        ).fetchall()
        return [{"writer": n, "references": int(c), "enrolled": t} for n, c, t in rows]

    def _load(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        if self._matrix is None:
            if self._db is None:
                return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), []
            with snapshot(self._db, self.path):
                found = read_references(self._db, self._dim)
                names = dict(self._db.execute("SELECT id, name FROM writers").fetchall())
            if found.bad:
                raise bad_rows_error(self.path, found.bad)
            ids = sorted(names)
            position = {wid: i for i, wid in enumerate(ids)}
            owners = np.array([position[int(w)] for w in found.writer_ids], dtype=np.int64)
            self._matrix = (found.matrix, owners, [names[i] for i in ids])
        return self._matrix

    @db_errors
    def scores(self, questioned: ImageInput) -> tuple[np.ndarray, list[str]]:
        """Best (smallest) distance from ``questioned`` to each writer's references."""
        embedder = self._model("identify")
        matrix, owners, names = self._load()
        if not len(matrix):
            raise InkfaceError(f"{self.path}: the gallery has no enrolled writers")
        query = embedder.embed([questioned])[0]
        if query.shape != matrix.shape[1:]:
            raise dimension_error(self.path, query.size, matrix.shape[1])
        distances = np.sqrt(np.maximum(((matrix - query) ** 2).sum(axis=1), 0.0))
        best = np.full(len(names), np.inf)
        np.minimum.at(best, owners, distances)
        return best, names

    def identify(
        self, questioned: ImageInput, top_k: int = 5, threshold: float | None = None
    ) -> Identification:
        """Top-k writers; ``unknown`` when the best similarity is below the threshold."""
        best, names = self.scores(questioned)
        embedder = self._model("identify")
        order = np.argsort(best, kind="stable")[: max(1, top_k)]
        sims = embedder.similarity(best[order])
        candidates = [
            Candidate(names[i], float(s), float(best[i])) for i, s in zip(order, sims, strict=True)
        ]
        limit = embedder.threshold_similarity if threshold is None else float(threshold)
        decision = candidates[0].writer if candidates[0].similarity >= limit else UNKNOWN
        return Identification(_source(questioned), candidates, decision, limit)

    @db_errors
    def verify(
        self,
        claimed: str,
        questioned: ImageInput,
        threshold: float | None = None,
        operating_point: str | None = None,
    ) -> dict:
        """Is ``questioned`` by ``claimed``? Compared with that writer's references only.

        Decided at ``operating_point`` (None: the run's default) with the writer's own
        threshold when they have enough references, the global one otherwise; both are
        reported. ``threshold`` (a similarity) overrides both, as before.
        """
        embedder = self._model("verify")
        writer_id = self._writer_id(claimed)
        assert self._db is not None
        if self.policy is not None:
            self.policy.resolve(operating_point)  # an unknown point fails before embedding
        elif operating_point is not None:
            raise InkfaceError(
                f"operating point {operating_point!r}: this run stores no operating points "
                "(the similarity threshold decides; give --threshold to change it)"
            )
        with snapshot(self._db, self.path):
            refs = self._references(writer_id, claimed)
            stored = self._stats(writer_id)
        query = embedder.embed([questioned])[0]
        notes = []
        spread = None
        if stored is not None and stored[0] == len(refs):
            spread = stored[1]
        elif self.policy is not None and len(refs) >= self.policy.min_writer_references:
            spread = writer_spread(refs, self.policy)
            notes.append("writer spread computed now (enrolled before it was recorded)")
        limit = None if threshold is None else float(threshold)
        decided = decide_claim(embedder, self.policy, refs, query, operating_point, spread, limit)
        decided["notes"] = [*decided["notes"], *notes]
        return {"claimed": claimed, "questioned": _source(questioned), **decided}


def _source(image: ImageInput) -> str:
    return "<array>" if isinstance(image, np.ndarray) else str(image)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or name == UNKNOWN:
        raise InkfaceError(f"invalid writer name {name!r}")
    return name


def open_gallery(
    path: str | os.PathLike[str],
    embedder: Embedder | None = None,
    create: bool = True,
    *,
    source: str | os.PathLike[str] | None = None,
    timeout: float = BUSY_TIMEOUT_S,
) -> Gallery:
    """Open a gallery for ``embedder``; refuses foreign or mismatched files, bad rows and
    paths that are not regular files.

    ``create``: a new path (or an empty file) is a gallery with no writers, which the
    first enrolment writes; nothing is created before. ``embedder`` None: list and remove
    only (no model check). ``source``: the run's ``meta.json``, named when its decision
    policy is malformed. ``timeout``: seconds a change waits for another process's lock.
    """
    path = Path(path)
    policy = None
    if embedder is not None:  # a malformed policy fails before any file is touched
        policy = claim_policy(embedder) if source is None else claim_policy(embedder, source)
    if create and not os.path.lexists(path):
        check_output_path(path, "gallery")
        return Gallery(path, None, embedder, policy, timeout=timeout)
    meta = None
    db = connect(path, timeout) if check_input_file(path, "gallery").st_size else None
    if db is not None:
        try:
            meta = read_checked(db, path, None if embedder is None else embedder.identity)
        except BaseException:
            db.close()
            raise
    if meta is None:  # an empty file, or an SQLite file without tables
        if db is not None:
            db.close()
        if not create:
            raise InkfaceError(f"{path}: gallery is empty (no writer enrolled yet)")
        return Gallery(path, None, embedder, policy, timeout=timeout)
    return Gallery(path, db, embedder, policy, stored_dim(meta), timeout)
