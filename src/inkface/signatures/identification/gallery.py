"""An enrolment gallery in one SQLite file: writers are added and removed, never retrained.

The identification paper's central contrast: a CNN classifier must be retrained
whenever a writer joins or leaves, a Siamese model only compares. The gallery stores
reference embeddings with the identity of the model that made them, so a gallery built
with one model is never searched with another.

Schema (version 1; ``PRAGMA application_id`` marks the file as an inkface gallery)::

    meta(key TEXT PRIMARY KEY, value TEXT)            -- schema_version, model identity
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

Every change runs in one transaction; images are embedded before the transaction
opens, so a bad image leaves the gallery untouched. Searches read all embeddings into
one matrix (kept until the next change): 10,000 references x 128 floats is 5 MB and
one matrix product.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.signatures.verification.claims import (
    claim_policy,
    decide_claim,
    writer_spread,
    writer_thresholds,
)
from inkface.signatures.verification.embedder import Embedder, ImageInput

SCHEMA_VERSION = 1
APPLICATION_ID = 0x494B4647  # "IKFG"
UNKNOWN = "unknown"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE writers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL);
CREATE TABLE refs (
    id INTEGER PRIMARY KEY,
    writer_id INTEGER NOT NULL REFERENCES writers(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX refs_writer ON refs(writer_id);
"""
_STATS_SCHEMA = """
CREATE TABLE IF NOT EXISTS writer_stats (
    writer_id INTEGER PRIMARY KEY REFERENCES writers(id) ON DELETE CASCADE,
    n_refs INTEGER NOT NULL,
    spread REAL,
    rule TEXT NOT NULL,
    thresholds TEXT NOT NULL,
    updated TEXT NOT NULL
)
"""


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
    """Open with :func:`open_gallery`; all methods are transactional."""

    def __init__(self, path: Path, connection: sqlite3.Connection, embedder: Embedder) -> None:
        self.path = path
        self._db = connection
        self.embedder = embedder
        self.policy = claim_policy(embedder)
        self._matrix: tuple[np.ndarray, np.ndarray, list[str]] | None = None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- changes ------------------------------------------------------------------------
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
        writer = _check_name(writer)
        if not images:
            raise InkfaceError(f"enrol {writer}: give at least one reference image")
        if sources is not None and len(sources) != len(images):
            raise InkfaceError(
                f"enrol {writer}: {len(sources)} source names for {len(images)} images"
            )
        names = [str(s) for s in sources] if sources is not None else [_source(i) for i in images]
        embeddings = self.embedder.embed(list(images))  # fails before any write
        now = _now()
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO writers(name, created) VALUES (?, ?)", (writer, now)
            )
            (writer_id,) = self._db.execute(
                "SELECT id FROM writers WHERE name = ?", (writer,)
            ).fetchone()
            self._db.executemany(
                "INSERT INTO refs(writer_id, source, embedding) VALUES (?, ?, ?)",
                [
                    (writer_id, name, emb.astype(np.float32).tobytes())
                    for name, emb in zip(names, embeddings, strict=True)
                ],
            )
            if self.policy is not None:
                self._store_stats(writer_id, now)
        self._matrix = None
        return len(images)

    def _references(self, writer_id: int) -> np.ndarray:
        rows = self._db.execute(
            "SELECT embedding FROM refs WHERE writer_id = ? ORDER BY id", (writer_id,)
        ).fetchall()
        return np.stack([np.frombuffer(e, dtype=np.float32) for (e,) in rows])

    def _store_stats(self, writer_id: int, now: str) -> None:
        """Record the writer's spread and writer thresholds (inside the caller's
        transaction)."""
        refs = self._references(writer_id)
        spread = writer_spread(refs, self.policy)
        thresholds = writer_thresholds(self.policy, len(refs), spread)
        self._db.execute(_STATS_SCHEMA)
        self._db.execute(
            "INSERT OR REPLACE INTO writer_stats VALUES (?, ?, ?, ?, ?, ?)",
            (writer_id, len(refs), spread, self.policy.rule, json.dumps(thresholds), now),
        )

    def writer_record(self, writer: str) -> dict[str, object]:
        """A writer's references count, spread and writer thresholds per operating point
        (as stored at enrolment; computed now for writers enrolled before they were)."""
        writer_id = self._writer_id(writer)
        stored = self._stats(writer_id)
        if stored is None:
            refs = self._references(writer_id)
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
        row = self._db.execute("SELECT id FROM writers WHERE name = ?", (writer,)).fetchone()
        if row is None:
            raise InkfaceError(f"{self.path}: no enrolled writer named {writer!r}")
        return int(row[0])

    def _stats(self, writer_id: int) -> tuple[int, float | None, dict] | None:
        """Stored (n_refs, spread, thresholds) if current for this run's rule, else None."""
        if self.policy is None:
            return None
        try:
            row = self._db.execute(
                "SELECT n_refs, spread, rule, thresholds FROM writer_stats WHERE writer_id = ?",
                (writer_id,),
            ).fetchone()
        except sqlite3.OperationalError:  # a gallery from before writer thresholds
            return None
        if row is None or row[2] != self.policy.rule:
            return None
        return int(row[0]), None if row[1] is None else float(row[1]), json.loads(row[3])

    def remove(self, writer: str) -> int:
        """Delete a writer and their references; returns how many references went."""
        with self._db:
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
    def writers(self) -> list[dict[str, object]]:
        """Enrolled writers with their reference counts, by name."""
        rows = self._db.execute(
            "SELECT w.name, COUNT(r.id), w.created FROM writers w "
            "LEFT JOIN refs r ON r.writer_id = w.id GROUP BY w.id ORDER BY w.name"
        ).fetchall()
        return [{"writer": n, "references": int(c), "enrolled": t} for n, c, t in rows]

    def _load(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        if self._matrix is None:
            rows = self._db.execute(
                "SELECT r.writer_id, r.embedding FROM refs r ORDER BY r.id"
            ).fetchall()
            names = dict(self._db.execute("SELECT id, name FROM writers").fetchall())
            ids = sorted(names)
            position = {wid: i for i, wid in enumerate(ids)}
            owners = np.array([position[w] for w, _ in rows], dtype=np.int64)
            dim = len(rows[0][1]) // 4 if rows else 0
            matrix = np.frombuffer(b"".join(e for _, e in rows), dtype=np.float32).reshape(-1, dim)
            self._matrix = (matrix, owners, [names[i] for i in ids])
        return self._matrix

    def scores(self, questioned: ImageInput) -> tuple[np.ndarray, list[str]]:
        """Best (smallest) distance from ``questioned`` to each writer's references."""
        matrix, owners, names = self._load()
        if not len(matrix):
            raise InkfaceError(f"{self.path}: the gallery has no enrolled writers")
        query = self.embedder.embed([questioned])[0]
        distances = np.sqrt(np.maximum(((matrix - query) ** 2).sum(axis=1), 0.0))
        best = np.full(len(names), np.inf)
        np.minimum.at(best, owners, distances)
        return best, names

    def identify(
        self, questioned: ImageInput, top_k: int = 5, threshold: float | None = None
    ) -> Identification:
        """Top-k writers; ``unknown`` when the best similarity is below the threshold."""
        best, names = self.scores(questioned)
        order = np.argsort(best, kind="stable")[: max(1, top_k)]
        sims = self.embedder.similarity(best[order])
        candidates = [
            Candidate(names[i], float(s), float(best[i])) for i, s in zip(order, sims, strict=True)
        ]
        limit = self.embedder.threshold_similarity if threshold is None else float(threshold)
        decision = candidates[0].writer if candidates[0].similarity >= limit else UNKNOWN
        return Identification(_source(questioned), candidates, decision, limit)

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
        writer_id = self._writer_id(claimed)
        if self.policy is not None:
            self.policy.resolve(operating_point)  # an unknown point fails before embedding
        elif operating_point is not None:
            raise InkfaceError(
                f"operating point {operating_point!r}: this run stores no operating points "
                "(the similarity threshold decides; give --threshold to change it)"
            )
        refs = self._references(writer_id)
        query = self.embedder.embed([questioned])[0]
        stored = self._stats(writer_id)
        notes = []
        spread = None
        if stored is not None and stored[0] == len(refs):
            spread = stored[1]
        elif self.policy is not None and len(refs) >= self.policy.min_writer_references:
            spread = writer_spread(refs, self.policy)
            notes.append("writer spread computed now (enrolled before it was recorded)")
        limit = None if threshold is None else float(threshold)
        decided = decide_claim(
            self.embedder, self.policy, refs, query, operating_point, spread, limit
        )
        decided["notes"] = [*decided["notes"], *notes]
        return {"claimed": claimed, "questioned": _source(questioned), **decided}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _source(image: ImageInput) -> str:
    return "<array>" if isinstance(image, np.ndarray) else str(image)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or name == UNKNOWN:
        raise InkfaceError(f"invalid writer name {name!r}")
    return name


def open_gallery(path: str | Path, embedder: Embedder, create: bool = True) -> Gallery:
    """Open (or create) a gallery for ``embedder``; refuses foreign or mismatched files."""
    path = Path(path)
    exists = path.is_file() and path.stat().st_size > 0
    if not exists and not create:
        raise InkfaceError(f"{path}: gallery not found")
    identity = json.dumps(embedder.identity, sort_keys=True)
    try:
        db = sqlite3.connect(path, isolation_level="DEFERRED")
        db.execute("PRAGMA foreign_keys = ON")
        if exists:
            _check_existing(db, path, identity)
        else:
            with db:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [
                        ("schema_version", str(SCHEMA_VERSION)),
                        ("model_identity", identity),
                        ("created", _now()),
                    ],
                )
    except sqlite3.DatabaseError as exc:
        raise InkfaceError(f"{path}: not a readable inkface gallery ({exc})") from None
    return Gallery(path, db, embedder)


def _check_existing(db: sqlite3.Connection, path: Path, identity: str) -> None:
    (app_id,) = db.execute("PRAGMA application_id").fetchone()
    if app_id != APPLICATION_ID:
        db.close()
        raise InkfaceError(f"{path}: not an inkface gallery (foreign SQLite database)")
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        db.close()
        raise InkfaceError(f"{path}: gallery schema {meta.get('schema_version')} unsupported")
    if meta.get("model_identity") != identity:
        stored = json.loads(meta.get("model_identity") or "{}")
        db.close()
        raise InkfaceError(
            f"{path}: gallery was built with {stored.get('architecture')} weights "
            f"{str(stored.get('weights_sha256'))[:12]}; this run's model differs "
            "(embeddings of different models cannot be compared)"
        )
