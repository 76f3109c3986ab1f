"""Cleaning up after interrupted cache builds (see :mod:`inkface.core.cache`).

Temporary files carry ``<host hash>-<pid>`` so a later build can tell a killed build's
leftovers from a running one's; SIGTERM during a build unwinds the stack so ``finally``
blocks remove them; worker processes end themselves once their parent is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

WATCHER = "inkface-cache-parent-watcher"
TAG = re.compile(r"\.([0-9a-f]{8})-(\d+)\.tmp$")  # <host hash>-<pid>, see owner_tag


def in_worker(
    work: Callable[[list[Any]], Sequence[Any]], parent: int, chunk: list[Any]
) -> Sequence[Any]:
    """``work(chunk)`` in a worker that ends itself once ``parent`` is gone: a killed build
    (SIGKILL) would otherwise leave its workers blocked for ever writing results that no
    one reads. The watcher is one named daemon thread per worker."""
    if not any(t.name == WATCHER for t in threading.enumerate()):
        watcher = threading.Thread(target=exit_with, args=(parent,), name=WATCHER, daemon=True)
        watcher.start()
    return work(chunk)


def exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def owner_tag() -> str:
    """``<host hash>-<pid>``: tags temporary files so a later build can tell whose they are."""
    return f"{host_tag()}-{os.getpid()}"


def host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def remove_stale(target: Path) -> None:
    """Remove temporary files left in ``target``'s folder by builds that were killed: those
    of any cache whose process no longer runs on this machine, and untagged ones of
    ``target`` (or its index) from older versions. Another machine's (shared folder) are
    left alone: whether it still runs is unknown."""
    legacy = (f".{target.name}.", f".{target.with_suffix('.json').name}.")
    for candidate in target.parent.glob(".*"):
        tag = TAG.search(candidate.name)
        if tag is None:
            stale = candidate.name.startswith(legacy)
        else:
            stale = tag.group(1) == host_tag() and not running(int(tag.group(2)))
        if stale:
            candidate.unlink(missing_ok=True)


def running(pid: int) -> bool:
    if os.name != "posix":  # no harmless liveness probe: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Terminated(BaseException):
    """SIGTERM during a build, raised so that ``finally`` blocks remove temporary files."""


def _raise_terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut cleanup
    raise _Terminated


@contextlib.contextmanager
def unwind_on_sigterm() -> Iterator[None]:
    """While a build runs, SIGTERM unwinds the stack (the temporary file and worker pool are
    cleaned up) and then ends the process by SIGTERM, as it would have ended at once.
    Only in the main thread and where SIGTERM has its default action: a program's own
    handler (a server's graceful shutdown) is left in charge."""
    if (
        os.name != "posix"
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
