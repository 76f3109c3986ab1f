"""Pipeline stages overlapped across frames: a reader thread and worker threads per stage,
results handed back in frame order, at most ``slots`` computing at once.

Run one after the other, a frame costs read + detect + classify. Here frame ``k + 1`` is
detected while frame ``k`` is classified, and a stage with several workers (detection,
classification: no state) works on several frames at once. *Serial* stages (one
worker: tracking, smoothing) take frames strictly in order, so state sees frames in
order and results come back in order. ``slots`` caps how many workers of compute stages
run at the same time: it is the thread budget, so the stages never ask for more cores
than it; every slot does useful work whatever the balance of the stages, so throughput
approaches ``slots`` cores' worth instead of the slowest stage's one core. (On 2 cores
with another process keeping one busy, one fixed thread per stage ran the res10 SSD +
MobileNetV2 system slower than a single thread, 8.4 against 9.5 FPS, the SSD's thread
getting only its share of the cores; with two slots it runs at 17.9 against 10.6 FPS:
``benchmarks/bench_pipeline.py``.)

Memory and latency are bounded by *tokens*: a frame enters only with one of
``in_flight`` tokens and gives it back when the consumer has taken its result. A *file*
then waits; a *live* source (camera, stream) cannot wait without its frames going stale,
so a frame read while no token is free is dropped and counted (``dropped``), and the
next frame read once one frees up is a fresh one. An exception in any thread stops
every thread and is re-raised by the consumer; leaving the ``with`` block (end,
``break``, error, Ctrl-C) stops and joins the threads.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

POLL_S = 0.05  # how often a waiting thread checks for a stop
JOIN_S = 10.0  # how long leaving the block waits for each thread


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


END = _Marker("END")  # after the last item: (count, END) passed down the chain
STOPPED = _Marker("STOPPED")  # returned by a wait that was cut short by a stop


@dataclass(frozen=True)
class Stage:
    """A step of the chain. Each of its ``workers`` threads calls ``make()`` once (in
    that thread: per-thread settings, its own detector...) for the function it maps
    items with. One worker: items in order; more: any order, and the stage must follow
    the reader or a one-worker stage. ``compute`` stages hold a slot while they work."""

    name: str
    make: Callable[[], Callable[[Any], Any]]
    workers: int = 1
    compute: bool = True

    @classmethod
    def of(cls, name: str, fn: Callable[[Any], Any], **kwargs: Any) -> Stage:
        """A stage whose workers all call ``fn``."""
        return cls(name, lambda: fn, **kwargs)


class _InOrder:
    """Takes ``(seq, item)`` pairs from a queue in any order, hands them out by ``seq``."""

    def __init__(self) -> None:
        self.heap: list[tuple[int, int, Any]] = []
        self.next = 0
        self.end: int | None = None
        self._tie = itertools.count()

    def put(self, seq: int, item: Any) -> None:
        if item is END:
            self.end = seq
        else:
            heapq.heappush(self.heap, (seq, next(self._tie), item))

    def ready(self) -> Any:
        """The next item in order, END when all were handed out, else None."""
        if self.heap and self.heap[0][0] == self.next:
            self.next += 1
            return heapq.heappop(self.heap)[2]
        if self.end is not None and self.next >= self.end:
            return END
        return None


class Overlapped:
    """``with Overlapped(items, stages) as run: for out in run: ...``.

    ``items`` is iterated in the reader thread (at most ``limit`` of them); ``live``
    turns waiting for a token into dropping the frame, as the module docstring says;
    ``admit(seq, item)``, when given, is told each item's place among those let in
    (dropped ones get none) and returns what enters.
    """

    def __init__(
        self,
        items: Iterable[Any],
        stages: Sequence[Stage],
        in_flight: int = 4,
        slots: int = 2,
        live: bool = False,
        limit: int | None = None,
        admit: Callable[[int, Any], Any] | None = None,
    ) -> None:
        if in_flight < 1 or slots < 1:
            raise ValueError(f"in_flight and slots: must be >= 1, got {in_flight}, {slots}")
        for before, stage in itertools.pairwise(stages):
            if stage.workers > 1 and before.workers > 1:
                raise ValueError(f"stage {stage.name!r}: a parallel stage after another one")
        self.items = items
        self.stages = list(stages)
        self.live = live
        self.limit = limit
        self.admit = admit
        self.dropped = 0
        self.read = 0
        self.error: BaseException | None = None
        self.stragglers: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._tokens = threading.Semaphore(in_flight)
        self._slots = threading.Semaphore(slots)
        # Unbounded queues: the tokens bound what is in them.
        self._queues: list[queue.Queue] = [queue.Queue() for _ in range(len(stages) + 1)]
        self._ended: set[str] = set()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> Overlapped:
        self._threads = [threading.Thread(target=self._read, name="read", daemon=True)]
        for k, stage in enumerate(self.stages):
            for w in range(stage.workers):
                name = stage.name if stage.workers == 1 else f"{stage.name}-{w}"
                args = (stage, self._queues[k], self._queues[k + 1])
                self._threads.append(
                    threading.Thread(target=self._work, args=args, name=name, daemon=True)
                )
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every thread and wait for it (threads stuck in a blocking call, such as
        a network read, are left behind as daemons and named in ``stragglers``)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(JOIN_S)
            if thread.is_alive():
                self.stragglers.append(thread.name)

    def __iter__(self) -> Iterator[Any]:
        order = _InOrder()
        last = self._queues[-1]
        while True:
            if self.error is not None:
                raise self.error
            item = order.ready()
            if item is END:
                return
            if item is not None:
                yield item
                self._tokens.release()  # the caller is done with it: the next may enter
                continue
            got = self._get(last)
            if got is STOPPED:
                if self.error is not None:
                    raise self.error
                return
            order.put(*got)

    # -- threads -------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
        self._stop.set()

    def _get(self, q: queue.Queue) -> Any:
        while not self._stop.is_set():
            try:
                return q.get(timeout=POLL_S)
            except queue.Empty:
                continue
        return STOPPED

    def _acquire(self, semaphore: threading.Semaphore) -> bool:
        while not self._stop.is_set():
            if semaphore.acquire(timeout=POLL_S):
                return True
        return False

    def _read(self) -> None:
        first = self._queues[0]
        try:
            iterator = iter(self.items)
            seq = 0  # items admitted (a dropped frame gets none, so seqs stay contiguous)
            while not self._stop.is_set() and (self.limit is None or self.read < self.limit):
                item = next(iterator, END)
                if item is END:
                    break
                self.read += 1
                if self.live:
                    if not self._tokens.acquire(blocking=False):
                        with self._lock:
                            self.dropped += 1
                        continue
                elif not self._acquire(self._tokens):
                    return
                first.put((seq, item if self.admit is None else self.admit(seq, item)))
                seq += 1
            first.put((seq, END))
        except BaseException as exc:  # re-raised by the consumer
            self._fail(exc)

    def _work(self, stage: Stage, inbox: queue.Queue, outbox: queue.Queue) -> None:
        try:
            fn = stage.make()
            order = _InOrder() if stage.workers == 1 else None
            while True:
                if order is not None:
                    item = order.ready()
                    if item is None:
                        got = self._get(inbox)
                        if got is STOPPED:
                            return
                        order.put(*got)
                        continue
                    seq = order.next - 1
                    if item is END:
                        outbox.put((order.end, END))
                        return
                else:
                    got = self._get(inbox)
                    if got is STOPPED:
                        return
                    seq, item = got
                    if item is END:
                        self._end_parallel(stage, inbox, outbox, seq)
                        return
                if not stage.compute:
                    outbox.put((seq, fn(item)))
                    continue
                if not self._acquire(self._slots):
                    return
                try:
                    out = fn(item)
                finally:
                    self._slots.release()
                outbox.put((seq, out))
        except BaseException as exc:  # re-raised by the consumer
            self._fail(exc)

    def _end_parallel(self, stage: Stage, inbox: queue.Queue, outbox: queue.Queue, n: int) -> None:
        """The first worker of a parallel stage to see the end passes it on; every
        worker puts it back for its siblings. Items before it were all taken already
        (one thread fed the inbox in order); the next, serial stage waits for them by
        count."""
        with self._lock:
            first = stage.name not in self._ended
            self._ended.add(stage.name)
        if first:
            outbox.put((n, END))
        inbox.put((n, END))
