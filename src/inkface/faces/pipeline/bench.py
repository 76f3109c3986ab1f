"""Side-by-side speed measurements of the face pipeline, printed as plain-text tables.

``bench_detectors`` reproduces the layout of the smile report's Table 7.1 (FPS and
seconds per frame of each face detector on 350x350 frames, CPU only) for every backend
that can run here, and adds precision / recall at IoU 0.5 on synthetic scenes.
``bench_pipeline`` times the whole pipeline (§7.3: detector, then the classifier on each
face) with one and with five faces per frame, for PyTorch eager, ONNX Runtime fp32 and
ONNX Runtime int8 in the same run, so their ratios are measured under the same load.
"""

from __future__ import annotations

import inspect
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inkface.core.errors import InkfaceError
from inkface.faces.types import Box, box_iou

FRAME_SIDE = 350  # Table 7.1 / §7.3: "350x350 RGB images"
PAPER_TABLE_7_1 = (  # detector, FPS, SPF on an i7-8565U (smile report, Table 7.1)
    ("Haar", 118.292, 0.008),
    ("Media Pipe", 72.830, 0.014),
    ("YOLO", 40.240, 0.025),
    ("Dlib HOG", 12.170, 0.082),
    ("MTCNN", 2.515, 0.398),
)


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo, else ``platform``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def system_info(threads: int | None = None) -> dict[str, str]:
    """CPU, core and thread counts and library versions, for the table header."""
    import torch

    info = {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "torch threads": str(threads or torch.get_num_threads()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "opencv": cv2.__version__,
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = "not installed"
    return info


def time_calls(fn: Callable[[int], Any], warmup: int, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls ``fn(i)`` after ``warmup`` untimed ones."""
    if warmup < 0 or repeats < 1:
        raise InkfaceError(f"warmup >= 0 and repeats >= 1, got {warmup}, {repeats}")
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(warmup + i)
        out.append(time.perf_counter() - t0)
    return out


def precision_recall(
    detections: Sequence[Sequence[Box]], truths: Sequence[Sequence[Box]], iou: float = 0.5
) -> tuple[float, float, int, int, int]:
    """Precision, recall, true positives, detections and true faces over many frames
    (each detection matches at most one face, best IoU first)."""
    tp = n_det = n_true = 0
    for det, true in zip(detections, truths, strict=True):
        n_det += len(det)
        n_true += len(true)
        pairs = sorted(
            ((box_iou(d, t), i, j) for i, d in enumerate(det) for j, t in enumerate(true)),
            reverse=True,
        )
        used_d: set[int] = set()
        used_t: set[int] = set()
        for value, i, j in pairs:
            if value < iou:
                break
            if i not in used_d and j not in used_t:
                used_d.add(i)
                used_t.add(j)
                tp += 1
    precision = tp / n_det if n_det else 0.0
    recall = tp / n_true if n_true else 0.0
    return precision, recall, tp, n_det, n_true


def square_frame(image: np.ndarray, side: int = FRAME_SIDE) -> np.ndarray:
    """Centre square crop resized to ``side`` x ``side`` (faces keep their shape)."""
    h, w = image.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(image[y : y + s, x : x + s], (side, side), interpolation=cv2.INTER_AREA)


def synthetic_scenes(folder: Path, n: int, seed: int = 0) -> tuple[list[np.ndarray], list]:
    """``n`` multi-face synthetic scene frames (0-5 faces) and their true boxes."""
    import json

    from inkface.faces.synth.generator import generate_faces

    generate_faces(
        folder, "smile", 5 * n, seed=seed, scenes=True, n_frames=1, workers=1, progress=False
    )
    truth = json.loads((folder / "scenes" / "boxes.json").read_text())
    names = sorted(truth)[:n]
    images = [cv2.imread(str(folder / "scenes" / name)) for name in names]
    return images, [[tuple(f["box"]) for f in truth[name]] for name in names]


def face_frames(
    n_faces: int, n_frames: int, side: int = FRAME_SIDE, seed: int = 0, detector: Any = None
) -> tuple[list[np.ndarray], list[list[Box]]]:
    """Frames with exactly ``n_faces`` synthetic faces (tiles on a random background).

    With a ``detector``, candidates are drawn until ``n_frames`` frames are found on
    which it detects exactly the true faces (at IoU 0.5, at most 20x as many tries), so
    the classifier really sees ``n_faces`` crops per frame.
    """
    from inkface.faces.synth.generator import render_single, rng_for
    from inkface.faces.synth.render import random_background

    cols = 1 if n_faces == 1 else 3
    rows = -(-n_faces // cols)
    tile = min(side // cols, side // max(rows, 2)) if n_faces > 1 else side // 2
    frames: list[np.ndarray] = []
    boxes: list[list[Box]] = []
    for f in range(20 * n_frames if detector is not None else n_frames):
        if len(frames) == n_frames:
            break
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(n_faces, f)))
        canvas = np.clip(random_background(rng, side, side), 0, 255).astype(np.uint8)
        truth = []
        for k in range(n_faces):
            face = render_single("smile", str(k % 2), rng_for(seed, "smile", 0, f * 8 + k), tile)
            r, c = divmod(k, cols)
            x0 = (side - cols * tile) // 2 + c * tile
            y0 = (side - rows * tile) // 2 + r * tile
            canvas[y0 : y0 + tile, x0 : x0 + tile] = face.image
            x1, y1, x2, y2 = face.box
            truth.append((x1 + x0, y1 + y0, x2 + x0, y2 + y0))
        if detector is not None:
            found = [d.box for d in detector.detect(canvas)]
            _, _, tp, n_det, _ = precision_recall([found], [truth])
            if tp != n_faces or n_det != n_faces:
                continue
        frames.append(canvas)
        boxes.append(truth)
    return frames, boxes


@dataclass(frozen=True)
class DetectorRow:
    name: str
    available: bool
    note: str
    spf: list[float] = field(default_factory=list)
    precision: float | None = None
    recall: float | None = None
    true_faces: int = 0


def bench_detectors(
    names: Sequence[str] | None = None,
    side: int = FRAME_SIDE,
    warmup: int = 5,
    repeats: int = 50,
    scenes: int = 20,
    seed: int = 0,
) -> list[DetectorRow]:
    """Time each detector on ``side`` x ``side`` frames and score it on synthetic scenes.

    Timing cycles over the scenes, centre-cropped and resized to ``side``; precision /
    recall are measured at the scenes' own size (512x384) against their true boxes.
    """
    from inkface.faces.detection.detectors import get_detector, list_detectors

    infos = {i.name: i for i in list_detectors()}
    wanted = list(names) if names else list(infos)
    with tempfile.TemporaryDirectory(prefix="inkface-bench-") as tmp:
        images, truths = synthetic_scenes(Path(tmp), scenes, seed)
    timing_frames = [square_frame(im, side) for im in images]
    rows = []
    for name in wanted:
        info = infos.get(name)
        if info is not None and not info.available:
            rows.append(DetectorRow(name, False, info.note))
            continue
        try:
            detector = get_detector(name)
        except InkfaceError as exc:
            rows.append(DetectorRow(name, False, str(exc)))
            continue
        spf = time_calls(
            lambda i, d=detector: d.detect(timing_frames[i % len(timing_frames)]), warmup, repeats
        )
        found = [[f.box for f in detector.detect(im)] for im in images]
        p, r, _, _, n_true = precision_recall(found, truths, 0.5)
        rows.append(DetectorRow(name, True, info.note if info else "", spf, p, r, n_true))
    return rows


def format_detector_table(
    rows: Sequence[DetectorRow], warmup: int, repeats: int, side: int = FRAME_SIDE
) -> str:
    """Table 7.1's layout (detector, FPS, SPF) with median and mean, plus P/R."""
    lines = [
        f"Face detectors on {side}x{side} frames, CPU "
        f"({warmup} warm-up calls, {repeats} timed calls each; cf. smile report Table 7.1)",
        f"{'Detector':<10} {'FPS med':>9} {'FPS mean':>9} {'SPF med':>9} {'SPF mean':>9} "
        f"{'P@0.5':>7} {'R@0.5':>7}  note",
    ]
    for row in rows:
        if not row.available:
            lines.append(f"{row.name:<10} unavailable: {row.note}")
            continue
        med, mean = statistics.median(row.spf), statistics.fmean(row.spf)
        lines.append(
            f"{row.name:<10} {1 / med:>9.1f} {1 / mean:>9.1f} {med:>9.4f} {mean:>9.4f} "
            f"{row.precision:>7.3f} {row.recall:>7.3f}  {row.true_faces} true faces"
        )
    lines.append(
        "Paper (Intel i7-8565U, Table 7.1): "
        + ", ".join(f"{n} {fps:.1f} FPS / {spf:.3f} s" for n, fps, spf in PAPER_TABLE_7_1)
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class PipelineRow:
    faces: str
    backend: str
    latencies_ms: list[float]
    detect_ms: float
    classify_ms: float
    found_per_frame: float


@dataclass
class PipelineReport:
    rows: list[PipelineRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    model: str = ""
    warmup: int = 0
    repeats: int = 0


def _export_variants(run_dir: Path, work: Path, threads: int | None) -> tuple[dict, list[str]]:
    """ONNX fp32 / int8 loaders for a copy of ``run_dir`` (notes say what is missing)."""
    notes: list[str] = []
    try:
        from inkface.runtime.export import export_onnx
        from inkface.runtime.onnx_session import OnnxBackend
    except ImportError as exc:
        return {}, [f"onnx: not available ({exc})"]
    copy = work / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("*.onnx", "export.json"))
    params = inspect.signature(export_onnx).parameters
    quiet = {"progress": False} if "progress" in params else {}
    variants: dict[str, Callable[[], Any]] = {}
    try:
        fp32 = export_onnx(copy, **quiet)
        variants["onnx-fp32"] = lambda: OnnxBackend(copy / fp32.onnx_path, threads=threads)
    except (InkfaceError, RuntimeError, ValueError) as exc:
        return {}, [f"onnx: not available (export failed: {exc})"]
    if "int8" not in params or "calibration" not in params:
        return variants, ["onnx-int8: not available (export_onnx has no int8 option)"]
    from inkface.faces.synth.generator import generate_faces

    generate_faces(work / "calib", "smile", 32, seed=1, workers=1, progress=False)
    try:
        int8 = export_onnx(copy, int8=True, calibration=work / "calib", **quiet)
        variants["onnx-int8"] = lambda: OnnxBackend(copy / int8.int8_path, threads=threads)
    except (InkfaceError, RuntimeError, ValueError) as exc:
        notes.append(f"onnx-int8: not available ({exc})")
    return variants, notes


def bench_pipeline(
    source: str = "synthetic",
    run_dir: str | Path | None = None,
    model: str = "smile_cnn",
    detector: str = "haar",
    face_counts: Sequence[int] = (1, 5),
    frames: int = 10,
    warmup: int = 10,
    repeats: int = 3,
    threads: int | None = None,
    backends: Sequence[str] = ("torch", "onnx-fp32", "onnx-int8"),
) -> PipelineReport:
    """End-to-end frame latency (detect, track, crop, classify, smooth, draw) per backend.

    ``source`` ``"synthetic"`` makes frames with exactly each of ``face_counts`` faces;
    anything else is opened with :func:`~inkface.faces.pipeline.sources.open_source` and its first
    ``frames`` frames are used. Each (face count, backend) pair runs ``warmup`` untimed
    frames (first calls of a new batch shape are slow in PyTorch) and then ``repeats``
    timed passes over the frames. Without ``run_dir`` an untrained ``model`` is timed (the
    speed of a network does not depend on its weights).
    """
    import torch

    from inkface.faces.classification.classifier import FaceClassifier, init_untrained_classifier
    from inkface.faces.detection.detectors import get_detector
    from inkface.faces.pipeline.analyze import FacePipeline
    from inkface.faces.pipeline.sinks import draw_result
    from inkface.faces.pipeline.sources import open_source
    from inkface.models.run import read_meta
    from inkface.runtime.backends import TorchBackend

    if threads:
        torch.set_num_threads(threads)
    report = PipelineReport(warmup=warmup, repeats=repeats)
    det = get_detector(detector)
    if source == "synthetic":
        sets = []
        for k in face_counts:
            images = face_frames(k, frames, detector=det)[0]
            if len(images) < frames:
                report.notes.append(f"{k} faces: {detector} found them all in {len(images)} frames")
                images = images or face_frames(k, frames)[0]
            sets.append((f"{k}", images))
    else:
        with open_source(source) as src:
            images = [f.image for _, f in zip(range(frames), src, strict=False)]
        if not images:
            raise InkfaceError(f"{source}: no frame could be read")
        sets = [("source", images)]
    with tempfile.TemporaryDirectory(prefix="inkface-bench-") as tmp:
        work = Path(tmp)
        if run_dir is None:
            run_dir = init_untrained_classifier(work / "untrained", model)
            report.notes.append(f"untrained {model} (speed does not depend on the weights)")
        run_dir = Path(run_dir)
        meta = read_meta(run_dir)
        report.model = meta.architecture
        from inkface.models.run import load_run_model

        loaders: dict[str, Callable[[], Any]] = {
            "torch": lambda: TorchBackend(load_run_model(run_dir)[0], threads=threads)
        }
        if any(b.startswith("onnx") for b in backends):
            extra, notes = _export_variants(run_dir, work, threads)
            loaders.update(extra)
            report.notes.extend(notes)
        for name in backends:
            if name not in loaders:
                continue
            head = FaceClassifier(loaders[name](), meta, name="head")
            for label, images in sets:
                pipe = FacePipeline(det, {"head": head})
                stats: dict[str, float] = {"detect": 0.0, "classify": 0.0, "faces": 0.0}

                def step(i: int, pipe=pipe, images=images, stats=stats) -> None:
                    result = pipe.process(images[i % len(images)], i)
                    draw_result(images[i % len(images)], result)
                    for key in ("detect", "classify"):
                        stats[key] += result.timings_ms[key]
                    stats["faces"] += len(result.faces)

                n = repeats * len(images)
                times = time_calls(step, warmup, n)
                scale = 1.0 / (n + warmup)
                report.rows.append(
                    PipelineRow(
                        label,
                        name,
                        [1e3 * t for t in times],
                        stats["detect"] * scale,
                        stats["classify"] * scale,
                        stats["faces"] * scale,
                    )
                )
    return report


def format_pipeline_table(report: PipelineReport, info: dict[str, str]) -> str:
    """FPS, p50 / p99 latency and speed-ups relative to PyTorch eager, side by side."""
    lines = [
        "System: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        f"Pipeline on {FRAME_SIDE}x{FRAME_SIDE} frames: detect + track + classify + draw "
        f"(model {report.model}; {report.warmup} warm-up frames, then {report.repeats} passes "
        "over the frames, timed per frame; cf. smile report §7.3: 28.43 FPS, one face, i7-8565U)",
        f"{'faces':<7} {'backend':<10} {'FPS':>7} {'p50 ms':>8} {'p99 ms':>8} {'det ms':>7} "
        f"{'cls ms':>7} {'found':>6} {'FPS x':>6} {'cls x':>6}",
    ]
    base = {r.faces: r for r in report.rows if r.backend == "torch"}
    for row in report.rows:
        mean = statistics.fmean(row.latencies_ms)
        p50, p99 = np.percentile(row.latencies_ms, [50, 99])
        ref = base.get(row.faces)
        fps_x = statistics.fmean(ref.latencies_ms) / mean if ref else float("nan")
        cls_x = ref.classify_ms / row.classify_ms if ref and row.classify_ms > 0 else float("nan")
        lines.append(
            f"{row.faces:<7} {row.backend:<10} {1e3 / mean:>7.1f} {p50:>8.2f} {p99:>8.2f} "
            f"{row.detect_ms:>7.2f} {row.classify_ms:>7.2f} {row.found_per_frame:>6.2f} "
            f"{fps_x:>6.2f} {cls_x:>6.2f}"
        )
    lines.append("FPS x / cls x: end-to-end FPS and classify-stage speed-up over torch eager")
    lines.extend(f"note: {n}" for n in report.notes)
    return "\n".join(lines)


def print_tables(*tables: str) -> None:
    """Print tables separated by blank lines (stdout, flushed)."""
    sys.stdout.write("\n\n".join(tables) + "\n")
    sys.stdout.flush()
