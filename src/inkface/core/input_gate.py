"""The gate every input file passes before anything parses it.

A path given by a user may name a FIFO, a device, a folder, a dangling symbolic link or
a file of many gigabytes. Opening a FIFO for reading blocks until a writer appears (the
command hangs), and a device or a huge file can fill memory. The checks here use
``os.stat`` only, so a FIFO is refused without ever being opened; :func:`open_input_file`
then opens the file without blocking and checks the opened descriptor again, so a path
swapped for a FIFO between the two calls is refused too. Every refusal is one
:class:`~inkface.core.errors.InkfaceError` line naming the path.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from inkface.core.errors import InkfaceError

# What a path is, in words (for error messages).
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISREG, "a file"),
)


def file_kind(mode: int) -> str:
    """``a file``, ``a folder``, ``a FIFO (named pipe)``... for an ``st_mode``, in words
    (``a special file`` for anything else)."""
    return next((words for test, words in _KINDS if test(mode)), "a special file")


def _stat(path: Path, what: str, error: type[InkfaceError]) -> os.stat_result:
    """``os.stat`` (following links) with every failure as one line naming ``path``."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise error(f"{path}: {what} is a dangling symbolic link") from None
        raise error(f"{path}: {what} not found") from None
    except NotADirectoryError:
        raise error(f"{path}: {what} not found (a parent is a file)") from None
    except PermissionError:
        raise error(f"{path}: {what} cannot be read (permission denied)") from None
    except (OSError, ValueError) as exc:  # ELOOP, ENAMETOOLONG, embedded NUL...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise error(f"{path}: {what} cannot be read ({reason})") from None


def _check_regular(
    path: Path,
    info: os.stat_result,
    what: str,
    max_bytes: int | None,
    error: type[InkfaceError],
) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: {what} is {file_kind(info.st_mode)}, not a regular file")
    if max_bytes is not None and info.st_size > max_bytes:
        raise error(f"{path}: {what} is {info.st_size:,} bytes, above the {max_bytes:,}-byte limit")


def check_input_file(
    path: str | os.PathLike[str],
    what: str = "input file",
    max_bytes: int | None = None,
    *,
    error: type[InkfaceError] = InkfaceError,
) -> os.stat_result:
    """Refuse ``path`` unless it is a readable regular file of at most ``max_bytes``
    bytes (``None``: no size limit); its ``os.stat`` result. Nothing is opened. Failures
    raise ``error`` (an :class:`InkfaceError` subclass such as ``ImageError``)."""
    path = Path(path)
    info = _stat(path, what, error)
    _check_regular(path, info, what, max_bytes, error)
    if not os.access(path, os.R_OK):
        raise error(f"{path}: {what} cannot be read (permission denied)")
    return info


def check_input_folder(
    path: str | os.PathLike[str],
    what: str = "input folder",
    *,
    error: type[InkfaceError] = InkfaceError,
) -> os.stat_result:
    """Refuse ``path`` unless it is a folder (links followed); missing paths, dangling
    links and files, FIFOs or devices given as a folder are each one line naming it."""
    path = Path(path)
    info = _stat(path, what, error)
    if not stat.S_ISDIR(info.st_mode):
        raise error(f"{path}: {what} is {file_kind(info.st_mode)}, not a folder")
    return info


@contextlib.contextmanager
def open_input_file(
    path: str | os.PathLike[str],
    what: str = "input file",
    max_bytes: int | None = None,
    *,
    error: type[InkfaceError] = InkfaceError,
) -> Iterator[BinaryIO]:
    """Open a checked input file for binary reading (see :func:`check_input_file`).

    The file is opened with ``O_NONBLOCK`` (no effect on a regular file, but opening a
    FIFO that replaced the path after the check returns at once) and the opened
    descriptor is checked again before anything is read.
    """
    path = Path(path)
    check_input_file(path, what, max_bytes, error=error)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{path}: {what} cannot be read ({exc.strerror})") from None
    try:
        _check_regular(path, os.fstat(fd), what, max_bytes, error)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_input_bytes(
    path: str | os.PathLike[str],
    what: str = "input file",
    max_bytes: int | None = None,
    *,
    error: type[InkfaceError] = InkfaceError,
) -> bytes:
    """The bytes of a checked input file (at most ``max_bytes`` of them)."""
    with open_input_file(path, what, max_bytes, error=error) as handle:
        data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:  # grew after the check
        raise error(f"{path}: {what} is above the {max_bytes:,}-byte limit")
    return data
