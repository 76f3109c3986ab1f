"""Where inkface keeps its caches (preprocessed images, downloaded weights)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "INKFACE_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$INKFACE_CACHE_DIR`` when set, else ``~/.cache/inkface``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "inkface")


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path | None:
    """The folder for a cache: ``None`` means :func:`default_cache_dir`, ``""`` means none
    (keep everything in memory, write nothing), anything else is that folder."""
    if cache_dir is None:
        return default_cache_dir()
    if cache_dir == "":
        return None
    return Path(cache_dir)
