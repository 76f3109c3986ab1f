"""One frame through the face pipeline of the smile report (§7.3, Figure 7.6) and the mask
report's live demo, in four steps that can run in different threads.

:meth:`FacePipeline.detect` finds faces (no state: several frames at once, one detector
per thread); :meth:`FacePipeline.track` updates the tracker (frames in order);
:meth:`FacePipeline.classify` crops every tracked face and classifies all faces of the
frame in one batch per head (no state); :meth:`FacePipeline.finish` smooths each track's
probabilities (frames in order). :mod:`inkface.faces.pipeline.runner` overlaps them
across frames with the same results as :meth:`FacePipeline.process`, which runs the
four in turn.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from inkface.core.errors import InkfaceError
from inkface.faces.classification.classifier import FaceClassifier
from inkface.faces.detection.detectors import FaceDetector
from inkface.faces.pipeline.results import FaceResult, FrameResult, HeadResult
from inkface.faces.pipeline.tracking import IoUTracker, ProbSmoother
from inkface.faces.types import Box, Face, check_image, clip_box, crop_face

MIN_DETECT_SIZE = 32


MAX_MARGIN = 10.0  # a crop 21x the face's side: anything larger is a typo


class ScaledDetector:
    """``detector`` run on a copy of the frame shrunk so that its longer side is ``size``
    pixels, with boxes and landmarks mapped back to the frame (``--detect-size``).

    Detection cost grows with the pixels a detector scans (Haar, HOG, MTCNN's pyramid);
    faces a few times larger than the detector's smallest still come back. Frames
    already that small are passed through unchanged.
    """

    def __init__(self, detector: FaceDetector, size: int) -> None:
        if size < MIN_DETECT_SIZE:
            raise InkfaceError(f"detect_size: must be >= {MIN_DETECT_SIZE}, got {size}")
        self.detector = detector
        self.size = int(size)
        self.name = detector.name

    def detect(self, image: np.ndarray) -> list[Face]:
        image = check_image(image)
        h, w = image.shape[:2]
        scale = self.size / max(h, w)
        if scale >= 1.0:
            return self.detector.detect(image)
        small_w, small_h = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
        sx, sy = w / small_w, h / small_h
        faces = []
        for face in self.detector.detect(small):
            x1, y1, x2, y2 = face.box
            box = clip_box((x1 * sx, y1 * sy, x2 * sx, y2 * sy), image.shape)
            if box is None:
                continue
            marks = face.landmarks
            if marks is not None:
                marks = (np.asarray(marks, np.float32) * np.float32([sx, sy])).astype(np.float32)
            faces.append(Face(box, face.score, marks))
        return faces


@dataclass(frozen=True)
class TrackedFace:
    """A confirmed track as the label half sees it: a snapshot, not the live track."""

    track_id: int
    box: Box
    score: float


@dataclass(frozen=True)
class Located:
    """What :meth:`FacePipeline.locate` found on a frame: the confirmed tracks (by id),
    whether the detector ran, the ids the tracker still keeps, and timings (ms)."""

    detected: bool
    faces: tuple[TrackedFace, ...]
    alive: frozenset[int]
    detect_ms: float
    track_ms: float


def _class_names(head: FaceClassifier, n: int) -> list[str]:
    names = list(head.class_names)
    return names if len(names) == n else [f"class_{i}" for i in range(n)]


class FacePipeline:
    """Detector + classifier heads + tracker for a stream of frames.

    ``make_detector`` builds more detectors like ``detector`` (OpenCV's detectors may
    not be shared between threads), so detection can run on several frames at once; the
    heads are called from several threads (ONNX Runtime sessions and PyTorch modules in
    eval mode allow it).

    The detector runs on every ``detect_every``-th frame; frames in between reuse the
    boxes of the tracks matched at the last detection (kept in place) and are still
    classified, so labels stay live while detection cost drops by ``detect_every``.
    ``detect_size`` runs the detector on frames shrunk to that longer side
    (:class:`ScaledDetector`). Crops are expanded by ``margin`` (and made square),
    preprocessed per each head's saved metadata, and every head sees all faces of the
    frame in one batch.
    """

    def __init__(
        self,
        detector: FaceDetector,
        heads: Mapping[str, FaceClassifier],
        detect_every: int = 1,
        margin: float = 0.1,
        square: bool = True,
        smoothing: float = 0.6,
        tracker: IoUTracker | None = None,
        detect_size: int | None = None,
        make_detector: Callable[[], FaceDetector] | None = None,
    ) -> None:
        if detect_every < 1:
            raise InkfaceError(f"detect_every: must be >= 1, got {detect_every}")
        if not (math.isfinite(margin) and 0 <= margin <= MAX_MARGIN):
            raise InkfaceError(f"margin: must be between 0 and {MAX_MARGIN}, got {margin}")
        if not 0.0 <= smoothing < 1.0:
            raise InkfaceError(f"smoothing: must be in [0, 1), got {smoothing}")
        self.detect_size = detect_size
        self.detector = self._scaled(detector)
        self._make_detector = make_detector
        self.heads = dict(heads)
        self.detect_every = detect_every
        self.margin = margin
        self.square = square
        self.smoothing = smoothing
        self.tracker = tracker or IoUTracker(max_age=max(5, 2 * detect_every))
        self.smoother = ProbSmoother(smoothing)
        self.frames = 0

    def _scaled(self, detector: FaceDetector) -> FaceDetector:
        return detector if self.detect_size is None else ScaledDetector(detector, self.detect_size)

    @property
    def can_clone_detector(self) -> bool:
        return self._make_detector is not None

    def new_detector(self) -> FaceDetector:
        """Another detector like :attr:`detector`, for another thread."""
        if self._make_detector is None:
            raise InkfaceError("this pipeline was given a detector, not a way to make more")
        return self._scaled(self._make_detector())

    def detect(
        self, image: np.ndarray, detect_now: bool, detector: FaceDetector | None = None
    ) -> tuple[list[Face], float]:
        """Faces of one frame (none when ``detect_now`` is false) and the ms it took; no
        state, so several threads may call it, each with its own ``detector``."""
        t0 = time.perf_counter()
        faces = (detector or self.detector).detect(image) if detect_now else []
        return faces, 1e3 * (time.perf_counter() - t0)

    def track(self, faces: list[Face], detected: bool, detect_ms: float = 0.0) -> Located:
        """Update the tracker with one frame's faces (or keep the tracks when the detector
        did not run); frames strictly in order."""
        t0 = time.perf_counter()
        if detected:
            tracks = self.tracker.update([f.box for f in faces], [f.score for f in faces])
        else:
            tracks = self.tracker.current()
        confirmed = sorted(
            (t for t in tracks if self.tracker.confirmed(t)), key=lambda t: t.track_id
        )
        snapshot = tuple(TrackedFace(t.track_id, t.box, t.score) for t in confirmed)
        alive = frozenset(t.track_id for t in self.tracker.tracks)
        track_ms = 1e3 * (time.perf_counter() - t0)
        return Located(detected, snapshot, alive, detect_ms, track_ms)

    def classify(self, image: np.ndarray, located: Located) -> tuple[dict[str, np.ndarray], float]:
        """Every head's probabilities for the located faces (one batch per head) and the
        ms it took; no state, so several threads may call it."""
        t0 = time.perf_counter()
        crops = [crop_face(image, f.box, self.margin, self.square) for f in located.faces]
        probs = {name: head.predict_proba(crops) for name, head in self.heads.items()}
        return probs, 1e3 * (time.perf_counter() - t0)

    def finish(
        self,
        located: Located,
        probs: Mapping[str, np.ndarray],
        classify_ms: float = 0.0,
        index: int = 0,
        timestamp_s: float = 0.0,
    ) -> FrameResult:
        """Smooth each track's probabilities and build the frame's result; frames
        strictly in order."""
        t0 = time.perf_counter()
        faces = located.faces
        per_face: list[dict[str, HeadResult]] = [{} for _ in faces]
        for name, head in self.heads.items():
            raw = probs[name]
            classes = _class_names(head, raw.shape[1]) if len(raw) else []
            for k, face in enumerate(faces):
                smooth = self.smoother.smooth(face.track_id, name, raw[k])
                best = int(np.argmax(smooth))
                per_face[k][name] = HeadResult(
                    classes[best],
                    float(smooth[best]),
                    dict(zip(classes, map(float, smooth), strict=True)),
                    dict(zip(classes, map(float, raw[k]), strict=True)),
                )
        self.smoother.retain(located.alive)
        timings = {
            "detect": located.detect_ms,
            "track": located.track_ms,
            "classify": classify_ms + 1e3 * (time.perf_counter() - t0),
        }
        results = [
            FaceResult(f.box, f.track_id, f.score, located.detected, h)
            for f, h in zip(faces, per_face, strict=True)
        ]
        return FrameResult(index, timestamp_s, located.detected, results, timings)

    def detects_on(self, seq: int) -> bool:
        """Whether the detector runs on the ``seq``-th frame (0-based, in order)."""
        return seq % self.detect_every == 0

    def locate(self, image: np.ndarray) -> Located:
        """:meth:`detect` then :meth:`track` for the next frame in order."""
        detect_now = self.detects_on(self.frames)
        self.frames += 1
        faces, detect_ms = self.detect(image, detect_now)
        return self.track(faces, detect_now, detect_ms)

    def label(
        self, image: np.ndarray, located: Located, index: int = 0, timestamp_s: float = 0.0
    ) -> FrameResult:
        """:meth:`classify` then :meth:`finish` for a located frame."""
        probs, classify_ms = self.classify(image, located)
        return self.finish(located, probs, classify_ms, index, timestamp_s)

    def process(self, image: np.ndarray, index: int = 0, timestamp_s: float = 0.0) -> FrameResult:
        """Detect (or reuse tracks), track, classify and smooth one BGR frame."""
        return self.label(image, self.locate(image), index, timestamp_s)
