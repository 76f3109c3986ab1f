"""The gallery's SQLite file: schema, connections, transactions and their errors.

No model is needed here, so ``inkface gallery check`` and ``list`` use this layer alone.

* Every change runs in one ``BEGIN IMMEDIATE`` transaction: the write lock is taken
  before anything is read, so two processes enrolling at once queue on the busy timeout
  (:data:`BUSY_TIMEOUT_S`) instead of failing, and a process killed mid-way leaves the
  file as it was (SQLite's journal rolls the half-done transaction back).
* The file is in WAL mode (set at its first change; older galleries switch at their next
  change), so readers (a search, the service) never block a writer nor the reverse.
* A file we cannot write is opened ``immutable``: reading it leaves no ``-wal`` or
  ``-shm`` file beside it, and a change is one "read-only" line.
* Every ``sqlite3`` error becomes one :class:`InkfaceError` line naming the file; a
  lock held longer than the busy timeout is :class:`GalleryLockedError`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from inkface.core.errors import InkfaceError

SCHEMA_VERSION = 1
APPLICATION_ID = 0x494B4647  # "IKFG"
BUSY_TIMEOUT_S = 5.0  # how long a change waits for another process's transaction

# One statement each: executescript would commit the caller's transaction.
SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE writers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
    "created TEXT NOT NULL)",
    """CREATE TABLE refs (
    id INTEGER PRIMARY KEY,
    writer_id INTEGER NOT NULL REFERENCES writers(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    embedding BLOB NOT NULL
)""",
    "CREATE INDEX refs_writer ON refs(writer_id)",
)
STATS_SCHEMA = """
CREATE TABLE IF NOT EXISTS writer_stats (
    writer_id INTEGER PRIMARY KEY REFERENCES writers(id) ON DELETE CASCADE,
    n_refs INTEGER NOT NULL,
    spread REAL,
    rule TEXT NOT NULL,
    thresholds TEXT NOT NULL,
    updated TEXT NOT NULL
)
"""

T = TypeVar("T")

# SQLite's primary result codes (sqlite3.Error.sqlite_errorcode & 0xFF) told apart here;
# the others (SQLITE_CORRUPT, SQLITE_NOTADB...) mean the file is not a readable gallery.
_BUSY, _LOCKED, _READONLY, _IOERR, _FULL, _CANTOPEN = 5, 6, 8, 10, 13, 14


class GalleryLockedError(InkfaceError):
    """Another process held the gallery's write lock longer than the busy timeout."""


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def database_error(path: Path, exc: sqlite3.Error) -> InkfaceError:
    """One line naming the gallery for an ``sqlite3`` error."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(exc)
    if code in (_BUSY, _LOCKED) or "locked" in text:
        return GalleryLockedError(f"{path}: gallery is locked by another process; try again")
    if code == _READONLY:
        return InkfaceError(f"{path}: gallery is read-only (cannot be changed)")
    if code == _FULL:
        return InkfaceError(f"{path}: gallery cannot be written (the disk is full)")
    if code in (_IOERR, _CANTOPEN):
        return InkfaceError(f"{path}: gallery cannot be read or written ({text})")
    return InkfaceError(f"{path}: not a readable inkface gallery ({text})")


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def connect(path: Path, timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit, see
    :func:`write_transaction`) with foreign keys on; ``immutable`` for a file we cannot
    write (``mode=ro`` if a ``-wal`` file holds changes not yet in the file)."""
    try:
        if os.path.lexists(path) and not _writable(path):
            wal = os.path.lexists(f"{path}-wal")
            uri = path.absolute().as_uri() + ("?mode=ro" if wal else "?immutable=1")
            db = sqlite3.connect(uri, timeout=timeout, isolation_level=None, uri=True)
        else:
            db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        db.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise database_error(path, exc) from None
    return db


@contextlib.contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Turn any ``sqlite3`` error raised inside into one line naming ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise database_error(path, exc) from None


def db_errors(method: Callable[..., T]) -> Callable[..., T]:
    """Decorate a method of an object with a ``path``: any ``sqlite3`` error it raises
    becomes one line naming that path."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        with sqlite_errors(self.path):
            return method(self, *args, **kwargs)

    return wrapper


@contextlib.contextmanager
def snapshot(db: sqlite3.Connection, path: Path) -> Iterator[None]:
    """A read transaction: every query inside sees the same state of the file (inside a
    transaction already, that one)."""
    if db.in_transaction:
        yield
        return
    with sqlite_errors(path):
        db.execute("BEGIN")
        try:
            yield
        finally:
            if db.in_transaction:
                db.execute("COMMIT")


def _set_wal(db: sqlite3.Connection) -> None:
    """WAL journal (persistent in the file) when it can be had now: the switch needs the
    file to itself, so while another process reads it the switch waits for a later
    change (a read-only file keeps its mode too)."""
    with contextlib.suppress(sqlite3.OperationalError):
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")


@contextlib.contextmanager
def write_transaction(db: sqlite3.Connection, path: Path) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` transaction: committed whole or rolled back whole.

    A new (blank) file is switched to WAL after its first commit, so a failed first
    change leaves it blank rather than a WAL header."""
    with sqlite_errors(path):
        blank = db.execute("PRAGMA page_count").fetchone()[0] == 0
        if not blank:
            _set_wal(db)
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        if blank:
            _set_wal(db)


def has_schema(db: sqlite3.Connection) -> bool:
    """Whether the file holds any table (a blank SQLite file is a gallery not yet made)."""
    (count,) = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    return count > 0


def create_schema(db: sqlite3.Connection, identity: str, dim: int) -> None:
    """The tables and ``meta`` rows of a new gallery (inside the caller's transaction)."""
    for statement in SCHEMA:
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?)",
        [
            ("schema_version", str(SCHEMA_VERSION)),
            ("model_identity", identity),
            ("embedding_dim", str(dim)),
            ("created", now()),
        ],
    )


def read_meta(db: sqlite3.Connection, path: Path) -> dict[str, str]:
    """The ``meta`` rows of an inkface gallery of this schema version; other SQLite
    files and other versions are refused."""
    (app_id,) = db.execute("PRAGMA application_id").fetchone()
    if app_id != APPLICATION_ID:
        raise InkfaceError(f"{path}: not an inkface gallery (foreign SQLite database)")
    meta = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta").fetchall()}
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        raise InkfaceError(f"{path}: gallery schema {meta.get('schema_version')} unsupported")
    return meta


def stored_dim(meta: dict[str, str]) -> int | None:
    """The embedding length recorded at creation (galleries made before: None)."""
    text = meta.get("embedding_dim", "")
    return int(text) if text.isdigit() and int(text) > 0 else None


def json_object(text: object) -> dict | None:
    """The JSON object stored as ``text`` (a model identity, thresholds), or None when
    the text is not one."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def has_stats(db: sqlite3.Connection) -> bool:
    """Whether the ``writer_stats`` table exists (galleries older than it lack it)."""
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'writer_stats'"
    ).fetchone()
    return row is not None


def discard_blank(db: sqlite3.Connection, path: Path) -> None:
    """Close ``db`` and remove the file a failed first enrolment created, unless it holds
    a gallery by now (another process created it at the same moment and committed)."""
    try:
        blank = not has_schema(db)
    except sqlite3.Error:
        blank = False
    db.close()
    if blank:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
