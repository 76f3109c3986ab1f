"""Worker processes that are safe next to OpenCV and PyTorch thread pools.

Forking a process whose OpenCV (or OpenMP) thread pool has already run leaves the
child with a pool whose threads do not exist: its first parallel call, or
``cv2.setNumThreads``, can then block forever (seen in this project's test suite).
Workers are therefore *spawned* (a fresh interpreter) and run OpenCV single-threaded,
so two workers on two cores do not oversubscribe them. The price is an interpreter
start per worker (about a second), paid once per pool.

As with any spawned multiprocessing, a script that starts a pool must guard its entry
point with ``if __name__ == "__main__":``; without it the workers die at start-up and
:func:`process_pool` turns that into a one-line :class:`InkfaceError` saying so.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from inkface.core.errors import InkfaceError


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


@contextlib.contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` spawned processes with single-threaded OpenCV."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
    )
    try:
        with pool:
            yield pool
    except BrokenProcessPool:
        raise InkfaceError(
            "worker processes stopped while starting: call this from a script guarded by "
            "`if __name__ == '__main__':`, or pass workers=1"
        ) from None
