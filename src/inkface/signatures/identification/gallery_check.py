"""``inkface gallery check``: a gallery file's integrity and bad rows, and their repair.

No model is needed: the file is checked as SQLite (``PRAGMA integrity_check``) and as a
gallery (:func:`~inkface.signatures.identification.gallery_rows.scan_rows`). A repair
removes every repairable bad row, and what depends on it, in one transaction taken with
the write lock (the rows are found again under it), so a repair killed mid-way changes
nothing; when nothing needs repairing nothing is written. A file SQLite itself finds
damaged is never "repaired" row by row: its rows cannot be trusted, restore a copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from inkface.core.errors import InkfaceError
from inkface.core.input_gate import check_input_file
from inkface.signatures.identification.gallery_rows import BadRow, remove_rows, scan_rows
from inkface.signatures.identification.gallery_store import (
    BUSY_TIMEOUT_S,
    connect,
    read_meta,
    snapshot,
    write_transaction,
)


@dataclass(frozen=True)
class GalleryCheck:
    """What :func:`check_gallery` found (and removed)."""

    path: str
    integrity: list[str]  # PRAGMA integrity_check's lines: ["ok"] for a sound file
    bad_rows: list[BadRow]  # found before any repair
    remaining: list[BadRow]  # still there (the unrepairable ones after a repair)
    removed: dict[str, int] = field(default_factory=dict)  # rows removed per table

    @property
    def sound(self) -> bool:
        return self.integrity == ["ok"]

    @property
    def ok(self) -> bool:
        """A sound file with no bad row left."""
        return self.sound and not self.remaining

    def as_dict(self) -> dict[str, object]:
        return {
            "gallery": self.path,
            "ok": self.ok,
            "integrity": self.integrity,
            "bad_rows": [row.as_dict() for row in self.bad_rows],
            "remaining": [row.as_dict() for row in self.remaining],
            "removed": self.removed,
        }


def check_gallery(
    path: str | os.PathLike[str], repair: bool = False, timeout: float = BUSY_TIMEOUT_S
) -> GalleryCheck:
    """Check the gallery file ``path``; ``repair``: remove its repairable bad rows (one
    transaction, waiting up to ``timeout`` seconds for another process's lock)."""
    path = Path(path)
    if check_input_file(path, "gallery").st_size == 0:
        raise InkfaceError(f"{path}: gallery is empty (no writer enrolled yet)")
    db = connect(path, timeout)
    try:
        with snapshot(db, path):
            integrity = [str(row[0]) for row in db.execute("PRAGMA integrity_check")]
            meta = read_meta(db, path)
            bad = scan_rows(db, meta) if integrity == ["ok"] else []
        if not repair or not any(row.repairable for row in bad):
            if repair and integrity != ["ok"]:
                raise InkfaceError(
                    f"{path}: the file is damaged (integrity check: {integrity[0]}); "
                    "rows cannot be repaired one by one: restore a copy of the gallery"
                )
            return GalleryCheck(str(path), integrity, bad, bad)
        with write_transaction(db, path):
            found = scan_rows(db, read_meta(db, path))  # again, under the write lock
            removed = remove_rows(db, [row for row in found if row.repairable])
            remaining = scan_rows(db, meta)
    finally:
        db.close()
    return GalleryCheck(str(path), integrity, bad, remaining, removed)
