"""The face pipeline's thread budget: how many threads PyTorch, ONNX Runtime and OpenCV
may use, so that together they never ask for more cores than ``--threads``.

Each library sizes its worker pool to every core by default (PyTorch's and ONNX
Runtime's intra-op pools, OpenCV's ``parallel_for`` pool), and their idle workers spin.
With several stages running at once that is two or three full pools on the same cores;
when another process keeps a core busy the frame rate collapses (issue 12, on 2 cores:
1.6 FPS at the defaults against 12.2 FPS with one thread, and one thread beat two). The
budget of ``total`` threads is used as follows:

* ``total == 1`` (or no overlap): the calling thread does every step of a frame in turn,
  and each library gets ``total`` intra-op threads;
* ``total >= 2``: ``total`` *slots*: at most ``total`` detections or classifications run
  at the same time, each on one thread (PyTorch and ONNX Runtime intra-op 1, OpenCV 1),
  by ``total`` detect workers and ``total`` classify workers
  (:mod:`inkface.faces.pipeline.stages`). Parallelism comes from working on several
  frames at once rather than from splitting one small network over cores: it needs no
  synchronisation inside a call (no spinning workers), and a slot left by one stage is
  taken by the other, so all slots stay busy whether detection or classification is the
  slower step (the res10 SSD takes 3-5x the MobileNetV2 head; the smile CNN can take
  more than BlazeFace).

PyTorch's thread count is per OS thread (OpenMP keeps it per thread), so each worker
sets its own (:func:`stage_threads`); OpenCV has one process-wide setting and ONNX
Runtime one per session (``intra_op_num_threads``). Reading frames, tracking, smoothing
and drawing run in threads that hold no slot: they mostly wait or take well under a
millisecond (``read`` / ``track`` / ``draw`` in the per-frame timings).

The default total is the number of cores this process may run on, at most
:data:`MAX_DEFAULT_THREADS`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import torch

from inkface.core.errors import InkfaceError

# Frames in flight (and detectors held) grow with the total: eight slots keep any of the
# project's detectors and heads busy.
MAX_DEFAULT_THREADS = 8


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ThreadBudget:
    """``total`` threads as ``workers`` per parallel stage (``total`` slots) when the
    stages ``overlap``, each call with ``intra`` intra-op threads."""

    total: int
    overlap: bool
    workers: int
    intra: int

    @property
    def slots(self) -> int:
        return self.total if self.overlap else 1

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "slots": self.slots}


def plan_threads(total: int | None = None, overlap: bool = True) -> ThreadBudget:
    """The use of ``total`` threads (``None``: :func:`usable_cores`, at most
    :data:`MAX_DEFAULT_THREADS`) described in the module docstring."""
    if total is None:
        total = min(usable_cores(), MAX_DEFAULT_THREADS)
    if total < 1:
        raise InkfaceError(f"threads: must be >= 1, got {total}")
    if total == 1 or not overlap:
        return ThreadBudget(total, False, 1, total)
    return ThreadBudget(total, True, total, 1)


def stage_threads(n: int) -> None:
    """Give the calling thread ``n`` PyTorch intra-op threads (a per-thread setting)."""
    torch.set_num_threads(n)


@contextlib.contextmanager
def process_threads(budget: ThreadBudget) -> Iterator[None]:
    """OpenCV's pool and this thread's PyTorch threads per ``budget``; restored after."""
    old_torch, old_cv = torch.get_num_threads(), cv2.getNumThreads()
    cv2.setNumThreads(budget.intra)
    torch.set_num_threads(budget.intra)
    try:
        yield
    finally:
        torch.set_num_threads(old_torch)
        cv2.setNumThreads(old_cv)
