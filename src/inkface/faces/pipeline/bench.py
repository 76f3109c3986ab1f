"""End-to-end speed of the face pipeline, side by side per inference backend.

:func:`bench_pipeline` times the whole pipeline (smile report §7.3: detector, then the
classifier on each face, plus tracking and drawing) with one and with five faces per
frame, for PyTorch eager, ONNX Runtime fp32 and ONNX Runtime int8 in the same run, so
their ratios are measured under the same load. The detector benchmark (Table 7.1) and
the shared timing helpers are in :mod:`inkface.faces.detection.bench`.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inkface.core.errors import InkfaceError
from inkface.faces.classification.classifier import (
    FaceClassifier,
    init_untrained_classifier,
    load_face_classifier,
)
from inkface.faces.detection.bench import FRAME_SIDE, time_calls
from inkface.faces.detection.detectors import FaceDetector, get_detector
from inkface.faces.detection.matching import count_matches
from inkface.faces.pipeline.analyze import FacePipeline
from inkface.faces.pipeline.sinks import draw_result
from inkface.faces.pipeline.sources import open_source
from inkface.faces.synth.compose import random_background
from inkface.faces.synth.generator import generate_faces, render_single
from inkface.faces.synth.sampling import rng_for
from inkface.faces.types import Box
from inkface.models.run import load_run_model, read_meta
from inkface.runtime.backends import TorchBackend
from inkface.runtime.export import export_onnx
from inkface.runtime.onnx_session import OnnxBackend


def face_frames(
    n_faces: int,
    n_frames: int,
    side: int = FRAME_SIDE,
    seed: int = 0,
    detector: FaceDetector | None = None,
) -> tuple[list[np.ndarray], list[list[Box]]]:
    """Frames with exactly ``n_faces`` synthetic faces (tiles on a random background).

    With a ``detector``, candidates are drawn until ``n_frames`` frames are found on
    which it detects exactly the true faces (at IoU 0.5, at most 20x as many tries), so
    the classifier really sees ``n_faces`` crops per frame.
    """
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
            found = detector.detect(canvas)
            counts = count_matches([[f.box for f in found]], [truth], [[f.score for f in found]])
            if counts.tp != n_faces or counts.n_detections != n_faces:
                continue
        frames.append(canvas)
        boxes.append(truth)
    return frames, boxes


@dataclass(frozen=True)
class PipelineRow:
    """One (faces per frame, backend) measurement: per-frame latencies and stage means."""

    faces: str
    backend: str
    latencies_ms: list[float]
    detect_ms: float
    classify_ms: float
    found_per_frame: float


@dataclass
class PipelineReport:
    """Every row of one :func:`bench_pipeline` run, with notes on what was left out."""

    rows: list[PipelineRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    model: str = ""
    warmup: int = 0
    repeats: int = 0


def _export_variants(run_dir: Path, work: Path, threads: int | None) -> tuple[dict, list[str]]:
    """ONNX fp32 / int8 loaders for a copy of ``run_dir`` (notes say what is missing).

    int8 is calibrated on synthetic smile faces prepared by the run's own classifier on
    PyTorch, so the calibration inputs are what the network sees in the pipeline.
    """
    notes: list[str] = []
    copy = work / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("*.onnx", "export.json"))
    variants: dict[str, Callable[[], Any]] = {}
    try:
        fp32 = export_onnx(copy, progress=False)
        variants["onnx-fp32"] = lambda: OnnxBackend(copy / fp32.onnx_path, threads=threads)
    except (ImportError, InkfaceError, RuntimeError, ValueError) as exc:
        return {}, [f"onnx: not available (export failed: {exc})"]
    generate_faces(work / "calib", "smile", 32, seed=1, workers=1, progress=False)
    try:
        torch_head = load_face_classifier(copy, prefer="torch", threads=threads)
        int8 = export_onnx(
            copy, int8=True, calibration=work / "calib", progress=False, predictor=torch_head
        )
        variants["onnx-int8"] = lambda: OnnxBackend(copy / int8.int8_path, threads=threads)
    except (ImportError, InkfaceError, RuntimeError, ValueError) as exc:
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
    detector_weights: str | Path | None = None,
    detector_options: dict[str, Any] | None = None,
) -> PipelineReport:
    """End-to-end frame latency (detect, track, crop, classify, smooth, draw) per backend.

    ``source`` ``"synthetic"`` makes frames with exactly each of ``face_counts`` faces;
    anything else is opened with :func:`~inkface.faces.pipeline.sources.open_source` and its first
    ``frames`` frames are used. Each (face count, backend) pair runs ``warmup`` untimed
    frames (first calls of a new batch shape are slow in PyTorch) and then ``repeats``
    timed passes over the frames. Without ``run_dir`` an untrained ``model`` is timed (the
    speed of a network does not depend on its weights). ``detector`` (``auto`` included)
    gets ``detector_weights`` and ``detector_options`` as in
    :func:`~inkface.faces.detection.detectors.get_detector`.
    """
    if threads:
        torch.set_num_threads(threads)
    report = PipelineReport(warmup=warmup, repeats=repeats)
    det = get_detector(detector, detector_weights, **dict(detector_options or {}))
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
