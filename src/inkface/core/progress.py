"""When to draw progress bars: only when asked and only on a terminal.

A bar redrawn into a log file (CI, ``make demo > log``) is thousands of lines of noise;
every ``tqdm`` in inkface takes ``disable=not show_bars(progress)``.
"""

from __future__ import annotations

import sys
from typing import TextIO


def show_bars(progress: bool, stream: TextIO | None = None) -> bool:
    """True when ``progress`` is asked for and ``stream`` (default: standard error,
    where tqdm draws) is a terminal."""
    if not progress:
        return False
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty())
