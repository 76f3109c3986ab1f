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
        self._matrix: tuple[np.ndarray, np.ndarray, list[str]] | None = None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- changes ------------------------------------------------------------------------
    def enrol(self, writer: str, images: Sequence[ImageInput]) -> int:
        """Add reference signatures for ``writer`` (created if new); returns their count."""
        writer = _check_name(writer)
        if not images:
            raise InkfaceError(f"enrol {writer}: give at least one reference image")
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
                    (writer_id, _source(im), emb.astype(np.float32).tobytes())
                    for im, emb in zip(images, embeddings, strict=True)
                ],
            )
        self._matrix = None
        return len(images)

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

    def verify(self, claimed: str, questioned: ImageInput, threshold: float | None = None) -> dict:
        """Is ``questioned`` by ``claimed``? Compared with that writer's references only."""
        best, names = self.scores(questioned)
        if claimed not in names:
            raise InkfaceError(f"{self.path}: no enrolled writer named {claimed!r}")
        distance = float(best[names.index(claimed)])
        similarity = float(self.embedder.similarity(distance))
        limit = self.embedder.threshold_similarity if threshold is None else float(threshold)
        return {
            "claimed": claimed,
            "questioned": _source(questioned),
            "distance": distance,
            "similarity": similarity,
            "threshold": limit,
            "decision": "accept" if similarity >= limit else "reject",
        }


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
