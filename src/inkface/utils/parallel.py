"""Worker processes that are safe next to OpenCV and PyTorch thread pools.

Forking a process whose OpenCV (or OpenMP) thread pool has already run leaves the
child with a pool whose threads do not exist: its first parallel call, or
``cv2.setNumThreads``, can then block forever (seen in this project's test suite).
Workers are therefore *spawned* (a fresh interpreter) and run OpenCV single-threaded,
so two workers on two cores do not oversubscribe them. The price is an interpreter
start per worker (about a second), paid once per pool.

Scripts that create a pool at import time must guard their entry point with
``if __name__ == "__main__":``, as for any spawned multiprocessing.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes with single-threaded OpenCV."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
    )
