"""How training talks: a progress bar on a terminal, one summary line per epoch in a log
(a bar redrawn into a file is thousands of lines of noise), and none of Lightning's
start-up banners, tips or known upstream deprecation warnings - for the CLI and the
Python API alike."""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import Literal, TextIO

LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric")
QUIET_WARNINGS = (
    r".*LeafSpec.*",  # torch pytree deprecation triggered inside Lightning
    r".*Checkpoint directory .* exists and is not empty",
    r".*does not have many workers.*",  # advice for GPU input pipelines
    r".*`weights_only` was not set.*",
    r".*module\(s\) in eval mode at the start of training.*",  # frozen backbones, on purpose
)
ProgressStyle = Literal["bar", "lines", "none"]


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Lightning's info messages (device banner, tips, "fit stopped") and known
    warnings silenced for the duration; logger levels and filters restored after."""
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        with warnings.catch_warnings():
            for pattern in QUIET_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            for logger in loggers:
                logger.setLevel(max(logger.level, logging.WARNING))
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def progress_style(progress: bool, stream: TextIO | None = None) -> ProgressStyle:
    """``bar`` when ``stream`` (default stdout, where Lightning draws its bar) is a
    terminal, ``lines`` (one per epoch) otherwise, ``none`` when quiet."""
    if not progress:
        return "none"
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return "bar" if callable(isatty) and isatty() else "lines"
