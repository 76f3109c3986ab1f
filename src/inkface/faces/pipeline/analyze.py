"""The real-time face pipeline of the smile report (§7.3, Figure 7.6) and the mask
report's live demo: detect faces, crop them, classify every face of a frame in one batch
per head, track faces across frames, smooth each track's probabilities, then draw /
write / show.

:class:`~inkface.faces.pipeline.face_pipeline.FacePipeline` processes one frame;
:func:`analyze` runs it over any source (:func:`inkface.faces.pipeline.sources.open_source`)
into the sinks, with reading, detection and classification overlapped in their own
threads (:mod:`inkface.faces.pipeline.runner`) under one thread budget
(:mod:`inkface.faces.pipeline.threads`), and returns an :class:`AnalysisSummary` with the
per-stage timings the report measures (FPS and seconds per frame, Table 7.1 / §7.3).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from inkface.core import labels
from inkface.core.atomic import atomic_open, atomic_path, check_output_path
from inkface.core.errors import InkfaceError
from inkface.core.paths import opencv_path
from inkface.core.progress import show_bars
from inkface.faces.classification.classifier import TASK, FaceClassifier, load_face_classifier
from inkface.faces.detection.detectors import FaceDetector, auto_detector_name, get_detector
from inkface.faces.pipeline.face_pipeline import FacePipeline
from inkface.faces.pipeline.runner import FrameRunner
from inkface.faces.pipeline.sinks import (
    JsonlSink,
    LiveWindow,
    draw_result,
    frame_sink,
    gui_support,
    is_image_output,
)
from inkface.faces.pipeline.sources import IMAGE_SUFFIXES, FrameSource, ImageSource, open_source
from inkface.faces.pipeline.threads import ThreadBudget, plan_threads, process_threads
from inkface.models.run import META_FILE, RunMeta, read_meta
from inkface.runtime.backends import BackendName, open_run
from inkface.runtime.onnx_session import Precision

__all__ = [
    "AnalysisSummary",
    "FacePipeline",
    "analyze",
    "check_head_task",
    "check_outputs",
    "load_heads",
    "run_face_task",
]

STAGES = ("read", "detect", "track", "classify", "draw")
FACE_TASKS = ("smile", "expression", "mask")
# The class lists that name a face task, for runs whose meta.json names none.
_TASK_OF_CLASSES = (
    (labels.SMILE_CLASSES, "smile"),
    (labels.FERPLUS_CLASSES, "expression"),
    (labels.AFFECTNET_CLASSES, "expression"),
    (labels.MASK_CLASSES, "mask"),
    (labels.MASK_CLASSES_2, "mask"),
)


@dataclass(frozen=True)
class AnalysisSummary:
    """What :func:`analyze` did and how fast (all times in milliseconds).

    ``p50_ms`` / ``p99_ms`` are per-frame latencies, from the start of reading a frame to
    the end of writing it (queue waits included when the stages overlap); ``stage_ms``
    are the mean times of each stage's own work; ``dropped`` counts frames of a live
    source lost because the pipeline was slower than the source; ``threads`` is the
    budget used (:class:`~inkface.faces.pipeline.threads.ThreadBudget`) and ``backends``
    each head's inference backend (``onnx`` or ``torch``)."""

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
    dropped: int = 0
    threads: dict[str, Any] = field(default_factory=dict)
    backends: dict[str, str] = field(default_factory=dict)

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
            "dropped": self.dropped,
            "threads": self.threads,
            "backends": self.backends,
            "outputs": self.outputs,
            "notes": self.notes,
        }


def load_heads(
    heads: Mapping[str, FaceClassifier | str | Path],
    backend: BackendName = "auto",
    threads: int | None = None,
    precision: Precision = "fp32",
) -> dict[str, FaceClassifier]:
    """Head name -> classifier, loading run folders given as paths (``model.onnx`` on
    ONNX Runtime when present and ``backend`` is ``auto``; ``precision="int8"`` takes
    ``model.int8.onnx``, from ``inkface export --int8``)."""
    if not heads:
        raise InkfaceError("heads: give at least one classifier (name -> run folder)")
    loaded = {}
    for name, head in heads.items():
        if isinstance(head, FaceClassifier):
            loaded[name] = head
            continue
        if not Path(head).is_dir():
            raise InkfaceError(f"{head}: run folder of head {name!r} not found")
        if precision == "fp32":
            loaded[name] = load_face_classifier(head, prefer=backend, threads=threads)
        else:
            run = open_run(head, {TASK}, "is not a face classifier", backend, threads, precision)
            loaded[name] = FaceClassifier(run.backend, run.meta, weights_sha256=run.weights_sha256)
    return loaded


def run_face_task(meta: RunMeta) -> str | None:
    """The face task (smile, expression or mask) a run's meta.json head says it does: its
    ``face_task`` (written by ``train-face``), else a ``head`` named after a task, else
    class names that are one task's list; ``None`` when nothing in the head says."""
    extra = meta.extra or {}
    for key in ("face_task", "head"):
        if extra.get(key) in FACE_TASKS:
            return str(extra[key])
    names = extra.get("class_names")
    if isinstance(names, list):
        for classes, task in _TASK_OF_CLASSES:
            if tuple(names) == classes:
                return task
    return None


def check_head_task(run_dir: str | Path, task: str) -> None:
    """Refuse ``--task TASK`` for a run whose meta.json says it does another face task
    (the task names the head's records, so a mask run must not be labelled ``smile``).
    A run that is no face classifier is left to :func:`load_heads` to refuse."""
    meta = read_meta(run_dir)
    if meta.task != TASK:
        return
    found = run_face_task(meta)
    if found is not None and found != task:
        names = ", ".join(map(str, (meta.extra or {}).get("class_names") or ()))
        raise InkfaceError(
            f"{Path(run_dir) / META_FILE}: this run is a {found} classifier ({names}), "
            f"not {task}: give --task {found}, or a {task} run"
        )


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
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return False
    try:
        return not path.is_dir()
    except OSError as exc:  # a name too long for the file system: ENAMETOOLONG
        raise InkfaceError(f"{path}: source cannot be read ({exc.strerror})") from None


def build_detector(
    detector: str | FaceDetector,
    weights: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
) -> FaceDetector:
    """A detector by name (``auto`` included) with its weight file and constructor
    options (``--detector-weights``, ``--detector-option``), or a ready one as it is."""
    if not isinstance(detector, str):
        if weights is not None or options:
            raise InkfaceError("detector weights / options: give a detector name, not a detector")
        return detector
    return get_detector(detector, weights, **dict(options or {}))


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
    *,
    detector_weights: str | Path | None = None,
    detector_options: Mapping[str, Any] | None = None,
    detect_size: int | None = None,
    overlap: bool = True,
    in_flight: int | None = None,
    precision: Precision = "fp32",
) -> AnalysisSummary:
    """Run the face pipeline over ``source`` and write the requested outputs.

    ``heads`` maps a head name (the JSON key, e.g. ``smile``) to a classifier or its run
    folder (on ONNX Runtime when ``model.onnx`` is there and ``backend`` is ``auto``;
    ``precision="int8"`` uses ``model.int8.onnx``, see :func:`load_heads`).
    ``detector`` is a name of :func:`~inkface.faces.detection.detectors.get_detector`
    (``auto`` included) or a detector; ``detect_size`` runs it on frames shrunk to that
    longer side. ``threads`` is the total thread budget (default: the usable cores, see
    :func:`~inkface.faces.pipeline.threads.plan_threads`; heads given loaded keep their
    backend's own thread setting); with two or more, and ``overlap``, reading, detection
    and classification overlap across frames (several frames detected and classified at
    once) with at most ``in_flight`` frames between reading and writing (default
    ``2 * threads``). ``out_video`` is an annotated video, or
    an annotated image when the source is one image; ``out_jsonl`` may be ``-`` (standard
    output). Outputs are checked before any work (:func:`check_outputs`) and written
    atomically (devices and FIFOs are written to directly); ``show`` opens a window only
    where a display and an OpenCV GUI exist (otherwise a note is printed and the run
    goes on).
    """
    if max_frames is not None and max_frames < 1:
        raise InkfaceError(f"max_frames: must be >= 1, got {max_frames}")
    if in_flight is not None and in_flight < 1:
        raise InkfaceError(f"in_flight: must be >= 1, got {in_flight}")
    check_outputs(source, out_video, out_jsonl)
    budget = plan_threads(threads, overlap and not _single_image(source))
    classifiers = load_heads(heads, backend, budget.intra, precision)
    if detector == "auto" and detector_weights is None and not detector_options:
        detector = auto_detector_name()  # once, so that every thread gets the same one
    det = build_detector(detector, detector_weights, detector_options)
    more = None
    if isinstance(detector, str):  # the same detector again, for another thread
        more = partial(build_detector, detector, detector_weights, detector_options)
    pipeline = FacePipeline(
        det, classifiers, detect_every, margin, square, smoothing, detect_size=detect_size,
        make_detector=more,
    )  # fmt: skip
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
    with contextlib.ExitStack() as stack:
        stack.callback(frames.close)
        stack.enter_context(process_threads(budget))
        return _run(pipeline, frames, budget, notes, window, out_video, out_jsonl, progress,
                    max_frames, in_flight)  # fmt: skip


def _run(
    pipeline: FacePipeline,
    frames: FrameSource,
    budget: ThreadBudget,
    notes: list[str],
    window: LiveWindow | None,
    out_video: str | Path | None,
    out_jsonl: str | Path | None,
    progress: bool,
    max_frames: int | None,
    in_flight: int | None,
) -> AnalysisSummary:
    """The frame loop of :func:`analyze`: results in frame order into the sinks."""
    totals: list[float] = []
    stage_sums = dict.fromkeys(STAGES, 0.0)
    n_faces = 0
    outputs: list[str] = []
    started = time.perf_counter()
    video = jsonl = None
    with contextlib.ExitStack() as sinks:
        if out_video is not None:
            video = frame_sink(out_video, frames.fps or 10.0)  # checks the suffix first
            video.path = sinks.enter_context(atomic_path(out_video, suffix=Path(out_video).suffix))
            sinks.callback(video.close)
            outputs.append(str(out_video))
        if out_jsonl is not None:
            handle = sinks.enter_context(atomic_open(out_jsonl, "w", encoding="utf-8"))
            jsonl = JsonlSink(handle)
            outputs.append(str(out_jsonl))
        if window is not None:
            sinks.callback(window.close)
        total = frames.frame_count
        if total is not None and max_frames is not None:
            total = min(total, max_frames)
        bar = sinks.enter_context(
            tqdm(
                total=total,
                disable=not show_bars(progress),
                unit="frame",
                desc="analyze",
                leave=False,
            )
        )
        runner = sinks.enter_context(FrameRunner(pipeline, frames, budget, in_flight, max_frames))
        for job in runner:
            result = job.result
            assert result is not None
            t0 = time.perf_counter()
            keep_going = True
            if video is not None or window is not None:
                annotated = draw_result(job.frame.image, result)
                if video is not None:
                    video.write(annotated)
                if window is not None:
                    keep_going = window.show(annotated)
            t1 = time.perf_counter()
            result.timings_ms["draw"] = 1e3 * (t1 - t0)
            result.timings_ms["total"] = 1e3 * (t1 - job.started)
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
            if max_frames is not None and len(totals) >= max_frames:
                break
        if not totals:
            raise InkfaceError(f"{frames.name}: no frame could be read from this source")
    seconds = time.perf_counter() - started
    n = len(totals)
    if frames.skipped:
        notes.append(f"skipped {frames.skipped} unreadable image(s)")
    if runner.dropped:
        notes.append(f"dropped {runner.dropped} frame(s) of a live source: the pipeline was slower")
    if runner.stragglers:
        notes.append(f"stage thread(s) still blocked at exit: {', '.join(runner.stragglers)}")
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
        dropped=runner.dropped,
        threads={**budget.to_dict(), "overlap": runner.overlap},
        backends={name: str(getattr(h.backend, "name", "?")) for name, h in pipeline.heads.items()},
    )
