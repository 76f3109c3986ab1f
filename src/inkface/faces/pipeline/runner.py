"""Frames of a source through a :class:`FacePipeline`, one step after the other or
overlapped across frames (:mod:`inkface.faces.pipeline.stages`), results in frame order.

Overlapped, a frame goes reader -> detect (``workers`` threads, each with its own
detector) -> track (in order) -> classify (``workers`` threads) -> finish (smoothing, in
order) -> the caller, with at most ``budget.slots`` detections and classifications
running at once. Both ways make the same calls on the same frames in the same order of
state updates, so on a file they give identical results.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from inkface.faces.detection.detectors import FaceDetector
from inkface.faces.pipeline.face_pipeline import FacePipeline, Located
from inkface.faces.pipeline.results import FrameResult
from inkface.faces.pipeline.sources import Frame, FrameSource
from inkface.faces.pipeline.stages import Overlapped, Stage
from inkface.faces.pipeline.threads import ThreadBudget, stage_threads
from inkface.faces.types import Face


@dataclass
class Job:
    """One frame on its way through the steps: ``seq`` is its place among the frames that
    entered (the detect-every count), ``started`` when its reading began
    (``time.perf_counter``), so ``now - started`` is its latency at any point."""

    seq: int
    frame: Frame
    started: float
    read_ms: float
    faces: list[Face] | None = None
    detect_ms: float = 0.0
    located: Located | None = None
    probs: dict[str, np.ndarray] | None = None
    classify_ms: float = 0.0
    result: FrameResult | None = None


def read_jobs(frames: Iterable[Frame]) -> Iterator[Job]:
    """A :class:`Job` per frame, timing each read. ``seq`` is filled in on entry."""
    iterator = iter(frames)
    while True:
        t0 = time.perf_counter()
        frame = next(iterator, None)
        if frame is None:
            return
        yield Job(-1, frame, t0, 1e3 * (time.perf_counter() - t0))


def _detect(pipeline: FacePipeline, detector: FaceDetector, job: Job) -> Job:
    job.faces, job.detect_ms = pipeline.detect(
        job.frame.image, pipeline.detects_on(job.seq), detector
    )
    return job


def _track(pipeline: FacePipeline, job: Job) -> Job:
    assert job.faces is not None
    job.located = pipeline.track(job.faces, pipeline.detects_on(job.seq), job.detect_ms)
    return job


def _classify(pipeline: FacePipeline, job: Job) -> Job:
    assert job.located is not None
    job.probs, job.classify_ms = pipeline.classify(job.frame.image, job.located)
    return job


def _finish(pipeline: FacePipeline, job: Job) -> Job:
    assert job.located is not None and job.probs is not None
    frame = job.frame
    job.result = pipeline.finish(
        job.located, job.probs, job.classify_ms, frame.index, frame.timestamp_s
    )
    job.result.timings_ms["read"] = job.read_ms
    return job


def _numbered(seq: int, job: Job) -> Job:
    job.seq = seq
    return job


class FrameRunner:
    """``with FrameRunner(pipeline, source, budget) as jobs: for job in jobs: ...``:
    each job with its ``result``, in frame order.

    With ``budget.overlap`` (and more than one frame) the steps overlap across frames
    with at most ``in_flight`` frames between reading and the caller (default
    ``2 * total``: every slot busy and one frame ready behind each); otherwise the
    calling thread runs them in turn. ``limit`` caps the frames read from a file; a live
    source is read until the caller stops, and ``dropped`` counts the frames it lost to a
    slower pipeline.
    """

    def __init__(
        self,
        pipeline: FacePipeline,
        source: FrameSource,
        budget: ThreadBudget,
        in_flight: int | None = None,
        limit: int | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.source = source
        self.budget = budget
        self.overlap = budget.overlap and source.frame_count != 1
        self.limit = limit
        self.in_flight = in_flight or 2 * budget.total
        self._run: Overlapped | None = None
        self._first_detector = threading.Lock()
        self._given: list[FaceDetector] = [pipeline.detector]

    @property
    def dropped(self) -> int:
        return self._run.dropped if self._run is not None else 0

    @property
    def stragglers(self) -> list[str]:
        return self._run.stragglers if self._run is not None else []

    def _worker(self, step: Callable[..., Job], with_detector: bool = False) -> Callable:
        """What a worker thread maps jobs with, made in that thread: its PyTorch thread
        count and, for detection, its own detector (the pipeline's for the first)."""

        def make() -> Callable[[Job], Job]:
            stage_threads(self.budget.intra)
            if not with_detector:
                return lambda job: step(self.pipeline, job)
            with self._first_detector:
                detector = self._given.pop() if self._given else self.pipeline.new_detector()
            return lambda job: step(self.pipeline, detector, job)

        return make

    def __enter__(self) -> FrameRunner:
        if not self.overlap:
            return self
        workers = self.budget.workers
        detect_workers = workers if self.pipeline.can_clone_detector else 1
        stages = [
            Stage("detect", self._worker(_detect, True), workers=detect_workers),
            Stage("track", self._worker(_track), compute=False),
            Stage("classify", self._worker(_classify), workers=workers),
            Stage("finish", self._worker(_finish), compute=False),
        ]
        live = self.source.live
        self._run = Overlapped(
            read_jobs(self.source),
            stages,
            in_flight=self.in_flight,
            slots=self.budget.slots,
            live=live,
            limit=None if live else self.limit,
            admit=_numbered,
        ).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._run is not None:
            self._run.close()

    def __iter__(self) -> Iterator[Job]:
        if self._run is not None:
            yield from self._run
            return
        for job in itertools.islice(read_jobs(self.source), self.limit):
            job.seq = self.pipeline.frames
            self.pipeline.frames += 1
            pipe = self.pipeline
            located = _track(pipe, _detect(pipe, pipe.detector, job))
            yield _finish(pipe, _classify(pipe, located))
