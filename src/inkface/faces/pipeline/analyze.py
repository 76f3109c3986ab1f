"""The real-time face pipeline of the smile report (§7.3, Figure 7.6) and the mask
report's live demo: detect faces, crop them, classify every face of a frame in one batch
per head, track faces across frames, smooth each track's probabilities, then draw /
write / show.

:class:`FacePipeline` processes one frame; :func:`analyze` runs it over any source
(:func:`inkface.faces.pipeline.sources.open_source`) into the sinks and returns an
:class:`AnalysisSummary` with the per-stage timings the report measures (FPS and
seconds per frame, Table 7.1 / §7.3).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from inkface.core.atomic import atomic_open, atomic_path, check_output_path
from inkface.core.errors import InkfaceError
from inkface.core.paths import opencv_path
from inkface.faces.classification.classifier import FaceClassifier, load_face_classifier
from inkface.faces.detection.detectors import FaceDetector, get_detector
from inkface.faces.pipeline.results import FaceResult, FrameResult, HeadResult
from inkface.faces.pipeline.sinks import (
    JsonlSink,
    LiveWindow,
    draw_result,
    frame_sink,
    gui_support,
    is_image_output,
)
from inkface.faces.pipeline.sources import IMAGE_SUFFIXES, FrameSource, ImageSource, open_source
from inkface.faces.pipeline.tracking import IoUTracker, smooth_probs
from inkface.faces.types import crop_face
from inkface.runtime.backends import BackendName

STAGES = ("read", "detect", "track", "classify", "draw")


def _class_names(head: FaceClassifier, n: int) -> list[str]:
    names = list(head.class_names)
    return names if len(names) == n else [f"class_{i}" for i in range(n)]


class FacePipeline:
    """Detector + classifier heads + tracker for a stream of frames.

    The detector runs on every ``detect_every``-th frame; frames in between reuse the
    boxes of the tracks matched at the last detection (kept in place) and are still
    classified, so labels stay live while detection cost drops by ``detect_every``.
    Crops are expanded by ``margin`` (and made square), preprocessed per each head's
    saved metadata, and every head sees all faces of the frame in one batch.
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
    ) -> None:
        if detect_every < 1:
            raise InkfaceError(f"detect_every: must be >= 1, got {detect_every}")
        if margin < 0:
            raise InkfaceError(f"margin: must be >= 0, got {margin}")
        if not 0.0 <= smoothing < 1.0:
            raise InkfaceError(f"smoothing: must be in [0, 1), got {smoothing}")
        self.detector = detector
        self.heads = dict(heads)
        self.detect_every = detect_every
        self.margin = margin
        self.square = square
        self.smoothing = smoothing
        self.tracker = tracker or IoUTracker(max_age=max(5, 2 * detect_every))
        self.frames = 0

    def process(self, image: np.ndarray, index: int = 0, timestamp_s: float = 0.0) -> FrameResult:
        """Detect (or reuse tracks), track, classify and smooth one BGR frame."""
        timings: dict[str, float] = {}
        detect_now = self.frames % self.detect_every == 0
        self.frames += 1
        t0 = time.perf_counter()
        faces = self.detector.detect(image) if detect_now else []
        t1 = time.perf_counter()
        if detect_now:
            tracks = self.tracker.update([f.box for f in faces], [f.score for f in faces])
        else:
            tracks = self.tracker.current()
        tracks = sorted((t for t in tracks if self.tracker.confirmed(t)), key=lambda t: t.track_id)
        t2 = time.perf_counter()
        crops = [crop_face(image, t.box, self.margin, self.square) for t in tracks]
        per_face: list[dict[str, HeadResult]] = [{} for _ in tracks]
        for name, head in self.heads.items():
            probs = head.predict_proba(crops)
            classes = _class_names(head, probs.shape[1]) if len(probs) else []
            for k, track in enumerate(tracks):
                smooth = smooth_probs(track, name, probs[k], self.smoothing)
                best = int(np.argmax(smooth))
                per_face[k][name] = HeadResult(
                    classes[best],
                    float(smooth[best]),
                    dict(zip(classes, map(float, smooth), strict=True)),
                    dict(zip(classes, map(float, probs[k]), strict=True)),
                )
        t3 = time.perf_counter()
        timings.update(detect=1e3 * (t1 - t0), track=1e3 * (t2 - t1), classify=1e3 * (t3 - t2))
        results = [
            FaceResult(t.box, t.track_id, t.score, detect_now, h)
            for t, h in zip(tracks, per_face, strict=True)
        ]
        return FrameResult(index, timestamp_s, detect_now, results, timings)


@dataclass(frozen=True)
class AnalysisSummary:
    """What :func:`analyze` did and how fast (all times in milliseconds)."""

    source: str
    frames: int
    faces: int
    skipped: int
    seconds: float
    mean_fps: float
    stage_ms: dict[str, float]
    p50_ms: float
    p99_ms: float
    outputs: list[str]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "frames": self.frames,
            "faces": self.faces,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "mean_fps": round(self.mean_fps, 2),
            "stage_ms": {k: round(v, 3) for k, v in self.stage_ms.items()},
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "outputs": self.outputs,
            "notes": self.notes,
        }


def load_heads(
    heads: Mapping[str, FaceClassifier | str | Path],
    backend: BackendName = "auto",
    threads: int | None = None,
) -> dict[str, FaceClassifier]:
    """Head name -> classifier, loading run folders given as paths."""
    if not heads:
        raise InkfaceError("heads: give at least one classifier (name -> run folder)")
    loaded = {}
    for name, head in heads.items():
        if isinstance(head, FaceClassifier):
            loaded[name] = head
        else:
            if not Path(head).is_dir():
                raise InkfaceError(f"{head}: run folder of head {name!r} not found")
            loaded[name] = load_face_classifier(head, prefer=backend, threads=threads)
    return loaded


def check_outputs(
    source: str | Path | FrameSource,
    out_video: str | Path | None,
    out_jsonl: str | Path | None,
) -> None:
    """Refuse unusable outputs before any work starts, with one line naming the path:
    folders, paths under a file, unsupported suffixes, and an image ``out_video``
    (``.png``, ``.jpg``...) for a source that is not a single image."""
    if out_jsonl is not None:
        check_output_path(out_jsonl, "JSON Lines output (--jsonl)")
    if out_video is None:
        return
    target = check_output_path(out_video, "annotated output (--out)")
    frame_sink(target, 10.0)  # the suffix must name a video or an image type
    if not is_image_output(target):
        opencv_path(target.parent, "annotated video's folder")  # OpenCV writes the video
    elif not _single_image(source):
        raise InkfaceError(
            f"{target}: an annotated image needs a single-image source; for {source} use "
            "a video type (.mp4, .avi...)"
        )


def _single_image(source: str | Path | FrameSource) -> bool:
    if isinstance(source, FrameSource):
        return isinstance(source, ImageSource)
    path = Path(str(source).strip())
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.is_dir()


def analyze(
    source: str | Path | FrameSource,
    heads: Mapping[str, FaceClassifier | str | Path],
    detector: str | FaceDetector = "haar",
    out_video: str | Path | None = None,
    out_jsonl: str | Path | None = None,
    detect_every: int = 1,
    margin: float = 0.1,
    square: bool = True,
    smoothing: float = 0.6,
    show: bool = False,
    progress: bool = True,
    max_frames: int | None = None,
    backend: BackendName = "auto",
    threads: int | None = None,
) -> AnalysisSummary:
    """Run the face pipeline over ``source`` and write the requested outputs.

    ``heads`` maps a head name (the JSON key, e.g. ``smile``) to a classifier or its run
    folder. ``out_video`` is an annotated video, or an annotated image when the source
    is one image; ``out_jsonl`` may be ``-`` (standard output). Outputs are checked before
    any work (:func:`check_outputs`) and written atomically (devices and FIFOs are
    written to directly); ``show`` opens a window only where a display and an OpenCV GUI
    exist (otherwise a note is printed and the run goes on).
    """
    if max_frames is not None and max_frames < 1:
        raise InkfaceError(f"max_frames: must be >= 1, got {max_frames}")
    check_outputs(source, out_video, out_jsonl)
    classifiers = load_heads(heads, backend, threads)
    det = get_detector(detector) if isinstance(detector, str) else detector
    pipeline = FacePipeline(det, classifiers, detect_every, margin, square, smoothing)
    notes: list[str] = []
    window = None
    if show:
        ok, reason = gui_support()
        if ok:
            window = LiveWindow()
        else:
            notes.append(f"no live window: {reason}")
            print(f"note: no live window: {reason}", file=sys.stderr)
    frames = open_source(source) if not isinstance(source, FrameSource) else source
    totals: list[float] = []
    stage_sums = dict.fromkeys(STAGES, 0.0)
    n_faces = 0
    outputs: list[str] = []
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stack.callback(frames.close)
        video = jsonl = None
        if out_video is not None:
            video = frame_sink(out_video, frames.fps or 10.0)  # checks the suffix first
            video.path = stack.enter_context(atomic_path(out_video, suffix=Path(out_video).suffix))
            stack.callback(video.close)
            outputs.append(str(out_video))
        if out_jsonl is not None:
            handle = stack.enter_context(atomic_open(out_jsonl, "w", encoding="utf-8"))
            jsonl = JsonlSink(handle)
            outputs.append(str(out_jsonl))
        if window is not None:
            stack.callback(window.close)
        total = frames.frame_count
        if total is not None and max_frames is not None:
            total = min(total, max_frames)
        bar = stack.enter_context(
            tqdm(total=total, disable=not progress, unit="frame", desc="analyze", leave=False)
        )
        iterator = iter(frames)
        while max_frames is None or len(totals) < max_frames:
            t0 = time.perf_counter()
            frame = next(iterator, None)
            if frame is None:
                break
            t1 = time.perf_counter()
            result = pipeline.process(frame.image, frame.index, frame.timestamp_s)
            result.timings_ms["read"] = 1e3 * (t1 - t0)
            t2 = time.perf_counter()
            keep_going = True
            if video is not None or window is not None:
                annotated = draw_result(frame.image, result)
                if video is not None:
                    video.write(annotated)
                if window is not None:
                    keep_going = window.show(annotated)
            t3 = time.perf_counter()
            result.timings_ms["draw"] = 1e3 * (t3 - t2)
            result.timings_ms["total"] = 1e3 * (t3 - t0)
            if jsonl is not None:
                jsonl.write(result.to_record())
            for stage in STAGES:
                stage_sums[stage] += result.timings_ms.get(stage, 0.0)
            totals.append(result.timings_ms["total"])
            n_faces += len(result.faces)
            bar.update(1)
            if not keep_going:
                notes.append("stopped from the live window")
                break
        if not totals:
            raise InkfaceError(f"{frames.name}: no frame could be read from this source")
    seconds = time.perf_counter() - started
    n = len(totals)
    if frames.skipped:
        notes.append(f"skipped {frames.skipped} unreadable image(s)")
    return AnalysisSummary(
        source=frames.name,
        frames=n,
        faces=n_faces,
        skipped=frames.skipped,
        seconds=seconds,
        mean_fps=n / seconds if seconds > 0 else 0.0,
        stage_ms={k: v / n for k, v in stage_sums.items()},
        p50_ms=float(np.percentile(totals, 50)),
        p99_ms=float(np.percentile(totals, 99)),
        outputs=outputs,
        notes=notes,
    )
