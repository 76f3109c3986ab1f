"""Atomic file writes: a reader sees either the old file or the complete new one,
never a half-written one (the temporary file lives in the same folder, so the final
``os.replace`` is a rename on one file system).

Replacement applies to regular files and new paths only. Anything else is written to,
never replaced: ``-`` (and a path that is the process's own standard output or error,
such as ``/dev/stdout``) means that stream; a character device or a FIFO is streamed to
directly; a symbolic link is written through, so the link and whatever it points to
stay what they are (``--jsonl /dev/stdout`` run as root must not replace ``/dev/stdout``
with a regular file). Folders, block devices, sockets and paths under a file are
refused with one line naming the path (:func:`check_output_path`), which commands also
call before any work starts. A write that fails because the disk or device is full
(``--jsonl /dev/full``), over quota, read-only or failing is one line naming the output
too, never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from inkface.core.errors import InkfaceError
from inkface.core.input_gate import file_kind

STDOUT = "-"  # the output name that means standard output

_NAME_CHARS = 80  # of the target's name kept in a temporary file's name
# A write that fails for one of these reasons is the output's fault (a full disk or
# device such as /dev/full, a quota, a file-size limit, an I/O error, a read-only mount).
WRITE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO", "EROFS")
    if hasattr(errno, name)
)


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InkfaceError(f"{path}: cannot be written ({reason})") from None


def _nearest_folder(target: Path, what: str) -> Path:
    """The closest existing ancestor of a new path; it must be a folder."""
    for ancestor in (target.parent, *target.parent.parents):
        info = _stat_or_none(ancestor)
        if info is None:
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise InkfaceError(
                f"{target}: {what} cannot be created: {ancestor} is "
                f"{file_kind(info.st_mode)}, not a folder"
            )
        return ancestor
    return Path(".")


def check_output_path(path: str | os.PathLike[str], what: str, folder: bool = False) -> Path:
    """Refuse an output path that cannot be written, before any work starts.

    A file output (``folder=False``) may be ``-`` (standard output), a new path whose
    nearest existing ancestor is a writable folder, a regular file in a writable folder,
    a character device or a FIFO. A folder output (``folder=True``) must be an existing
    folder or a new path. Anything else raises one :class:`InkfaceError` line naming
    the path and ``what`` it is for (``--out``, ``--jsonl``...).
    """
    text = os.fspath(path)
    if text == STDOUT:
        if folder:
            raise InkfaceError(f"{text}: {what} must be a folder, not standard output")
        return Path(text)
    target = Path(text)
    if not folder and _standard_stream(target) is not None:
        return target
    info = _stat_or_none(target)
    if info is None and os.path.lexists(target):
        raise InkfaceError(f"{target}: {what} is a dangling symbolic link")
    if info is None:
        where = _nearest_folder(target, what)
    elif folder:
        if not stat.S_ISDIR(info.st_mode):
            raise InkfaceError(f"{target}: {what} is {file_kind(info.st_mode)}, not a folder")
        where = target
    elif stat.S_ISDIR(info.st_mode):
        raise InkfaceError(f"{target}: {what} is a folder; give a file name")
    elif stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
        where = target
    elif stat.S_ISREG(info.st_mode):
        where = target if os.path.islink(target) else target.parent  # links: written through
    else:
        raise InkfaceError(
            f"{target}: {what} is {file_kind(info.st_mode)}; expected a regular file, "
            "a character device or a FIFO"
        )
    if not os.access(where, os.W_OK):
        raise InkfaceError(f"{target}: {what} cannot be written ({where}: permission denied)")
    return target


def _same_file(info: os.stat_result, stream: IO[Any]) -> bool:
    try:
        other = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # replaced streams (tests, notebooks)
        return False
    return (info.st_dev, info.st_ino) == (other.st_dev, other.st_ino)


def _standard_stream(target: Path) -> IO[str] | None:
    """``sys.stdout`` / ``sys.stderr`` when ``target`` is ``-`` or names one of them
    (``/dev/stdout``, ``/proc/self/fd/2``...), else None."""
    if os.fspath(target) == STDOUT:
        return sys.stdout
    info = _stat_or_none(target)
    if info is None or stat.S_ISREG(os.lstat(target).st_mode):
        return None
    return next((s for s in (sys.stdout, sys.stderr) if _same_file(info, s)), None)


def is_standard_output(path: str | os.PathLike[str]) -> bool:
    """Whether writing to ``path`` writes to this process's standard output (``-``,
    ``/dev/stdout``, ``/proc/self/fd/1``...)."""
    return _standard_stream(Path(os.fspath(path))) is sys.stdout


WriteKind = Literal["replace", "stream", "standard"]


def _write_kind(target: Path) -> WriteKind:
    """``replace`` for a regular file or a new path, ``standard`` for stdout / stderr,
    ``stream`` for everything written to in place (links, devices, FIFOs)."""
    if _standard_stream(target) is not None:
        return "standard"
    try:
        mode = os.lstat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "replace"
    return "replace" if stat.S_ISREG(mode) else "stream"


def _temp_prefix(target: Path) -> str:
    # A UTF-8-safe, bounded name: OpenCV writes some of these files and cannot take
    # undecodable names, and the suffix must still fit the file system's name limit.
    name = target.name.encode("utf-8", "replace").decode("utf-8")[:_NAME_CHARS]
    return f".{name}."


def _write_error(target: Path, exc: OSError) -> InkfaceError:
    return InkfaceError(f"{target}: cannot be written ({exc.strerror or exc})")


def _fails_to_flush(handle: IO[Any]) -> bool:
    """Whether ``handle`` cannot be flushed now (its write failed, not someone else's)."""
    try:
        handle.flush()
    except OSError:
        return True
    except ValueError:  # already closed
        return False
    return False


@contextlib.contextmanager
def _written(target: Path, handle: IO[Any]) -> Iterator[IO[Any]]:
    """Yield ``handle``; a failed write to it becomes one line naming ``target``."""
    try:
        yield handle
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS and _fails_to_flush(handle):
            raise _write_error(target, exc) from None
        raise


@contextlib.contextmanager
def _closing_errors(target: Path) -> Iterator[None]:
    """A write error raised when the output is flushed and closed, as one line."""
    try:
        yield
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS:
            raise _write_error(target, exc) from None
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only on success.

    For an output that is written to rather than replaced (see the module docstring)
    the temporary file lives in the system's temporary folder and its bytes are copied
    to the output on success.
    """
    target = check_output_path(path, "output")
    kind = _write_kind(target)
    folder = target.parent if kind == "replace" else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=suffix or ".tmp", dir=folder)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with _closing_errors(target):
            if kind == "replace":
                # mkstemp creates 0600 files; give the result the permissions of a normal
                # file.
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp_path, 0o666 & ~umask)
                os.replace(tmp_path, target)
            else:
                _copy_out(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def _copy_out(source: Path, target: Path) -> None:
    """Copy a finished temporary file into a stream output."""
    stream = _standard_stream(target)
    with open(source, "rb") as data:
        if stream is not None:
            stream.flush()
            binary = _binary(stream, target)
            shutil.copyfileobj(data, binary)
            binary.flush()
        else:
            with open(target, "wb") as out:
                shutil.copyfileobj(data, out)


def _binary(stream: IO[str], target: Path) -> IO[bytes]:
    binary = getattr(stream, "buffer", None)
    if binary is None:
        raise InkfaceError(f"{target}: this standard stream takes text only")
    return binary


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing and rename it over ``path`` when closed cleanly
    (``-`` and standard streams: yield the stream itself; devices, FIFOs and links:
    opened and written directly). A write that fails because the disk or device is full
    (or read-only, or failing) is one :class:`InkfaceError` line naming ``path``."""
    target = check_output_path(path, "output")
    kind = _write_kind(target)
    if kind == "replace":
        with (
            _closing_errors(target),
            atomic_path(target) as tmp,
            open(tmp, mode, **kwargs) as handle,
            _written(target, handle),
        ):
            yield handle
    elif kind == "standard":
        stream = _standard_stream(target) or sys.stdout
        yield _binary(stream, target) if "b" in mode else stream
        stream.flush()
    else:
        with (
            _closing_errors(target),
            open(target, mode, **kwargs) as handle,
            _written(target, handle),
        ):
            yield handle


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=2, sort_keys=False)
        handle.write("\n")
