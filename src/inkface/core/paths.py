"""Where inkface keeps its caches (preprocessed images, downloaded weights)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "INKFACE_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$INKFACE_CACHE_DIR`` when set, else ``~/.cache/inkface``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "inkface")
