"""Micro-batching: inputs of requests that arrive together run as one model call.

A classifier's cost per call is dominated by fixed overheads at the small batch sizes of
a live service (one face per selfie). :class:`MicroBatcher` lets each request submit its
inputs and await its own rows; a collector takes a free worker slot, then gathers what
is queued and what arrives within ``max_wait_s`` (up to ``max_batch`` inputs), runs the
model once in the thread pool and hands every request its slice. With ``max_wait_s`` 0
or ``max_batch`` 1 every request runs alone (the baseline the benchmark compares with).
A request's inputs are never split across calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

BatchFunction = Callable[[list[Any]], np.ndarray]


@dataclass
class _Job:
    items: list[Any]
    future: asyncio.Future


class MicroBatcher:
    """Merge concurrent ``submit`` calls into model calls of up to ``max_batch`` inputs.

    ``fn`` maps a list of inputs to an array with one row per input; it runs in
    ``executor``. ``slots`` bounds the calls of this batcher running at once (at most
    the executor's workers). ``on_batch`` is told each call's size (metrics).
    """

    def __init__(
        self,
        fn: BatchFunction,
        executor: Executor,
        max_batch: int = 32,
        max_wait_s: float = 0.005,
        slots: int = 1,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.fn = fn
        self.executor = executor
        self.max_batch = max(1, max_batch)
        self.max_wait_s = max(0.0, max_wait_s)
        self.on_batch = on_batch
        self._slots = asyncio.Semaphore(max(1, slots))
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._collector: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    @property
    def enabled(self) -> bool:
        return self.max_wait_s > 0 and self.max_batch > 1

    async def submit(self, items: Sequence[Any]) -> np.ndarray:
        """The rows of ``fn`` for ``items`` (computed alone or with other requests')."""
        items = list(items)
        if not self.enabled:
            async with self._slots:
                return await self._call(items)
        loop = asyncio.get_running_loop()
        if self._collector is None or self._collector.done():
            self._collector = loop.create_task(self._collect())
        job = _Job(items, loop.create_future())
        await self._queue.put(job)
        return await job.future

    async def _call(self, items: list[Any]) -> np.ndarray:
        if self.on_batch is not None:
            self.on_batch(len(items))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.fn, items)

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._slots.acquire()
            try:
                jobs = [await self._queue.get()]
            except asyncio.CancelledError:
                self._slots.release()
                raise
            size = len(jobs[0].items)
            deadline = loop.time() + self.max_wait_s
            while size < self.max_batch:
                if self._queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(self._queue.get(), remaining)
                    except TimeoutError:
                        break
                else:
                    job = self._queue.get_nowait()
                if size + len(job.items) > self.max_batch:
                    self._run_later(jobs)
                    jobs, size = [job], len(job.items)
                    await self._slots.acquire()
                    continue
                jobs.append(job)
                size += len(job.items)
            self._run_later(jobs)

    def _run_later(self, jobs: list[_Job]) -> None:
        task = asyncio.get_running_loop().create_task(self._run(jobs))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, jobs: list[_Job]) -> None:
        try:
            flat = [item for job in jobs for item in job.items]
            try:
                rows = await self._call(flat)
            except Exception as exc:
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                return
            start = 0
            for job in jobs:
                end = start + len(job.items)
                if not job.future.done():
                    job.future.set_result(rows[start:end])
                start = end
        finally:
            self._slots.release()

    async def close(self) -> None:
        """Stop collecting; calls already running finish."""
        if self._collector is not None:
            self._collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._collector
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
