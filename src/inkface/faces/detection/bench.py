"""Face detector speed in the layout of the smile report's Table 7.1, plus accuracy.

:func:`bench_detectors` times every detector backend that can run here on ``side`` x
``side`` frames (Table 7.1: FPS and seconds per frame on 350x350 frames, CPU only) and
scores it on synthetic multi-face scenes: precision / recall at IoU 0.5, matched by the
rule of :mod:`inkface.faces.detection.matching`. The timing helpers here
(:func:`time_calls`, :func:`system_info`, :func:`print_tables`) are shared with the
pipeline benchmark (:mod:`inkface.faces.pipeline.bench`).
"""

from __future__ import annotations

import json
import os
import platform
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
import onnxruntime
import torch

from inkface.core.errors import InkfaceError
from inkface.faces.detection.detectors import get_detector, list_detectors
from inkface.faces.detection.matching import count_matches
from inkface.faces.synth.generator import generate_faces
from inkface.faces.types import Box

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
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "torch threads": str(threads or torch.get_num_threads()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


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


def print_tables(*tables: str) -> None:
    """Print tables separated by blank lines (stdout, flushed)."""
    sys.stdout.write("\n\n".join(tables) + "\n")
    sys.stdout.flush()


def square_frame(image: np.ndarray, side: int = FRAME_SIDE) -> np.ndarray:
    """Centre square crop resized to ``side`` x ``side`` (faces keep their shape)."""
    h, w = image.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(image[y : y + s, x : x + s], (side, side), interpolation=cv2.INTER_AREA)


def synthetic_scenes(
    folder: Path, n: int, seed: int = 0
) -> tuple[list[np.ndarray], list[list[Box]]]:
    """``n`` multi-face synthetic scene frames (0-5 faces) and their true boxes."""
    generate_faces(
        folder, "smile", 5 * n, seed=seed, scenes=True, n_frames=1, workers=1, progress=False
    )
    truth = json.loads((folder / "scenes" / "boxes.json").read_text())
    names = sorted(truth)[:n]
    images = [cv2.imread(str(folder / "scenes" / name)) for name in names]
    return images, [[tuple(f["box"]) for f in truth[name]] for name in names]


@dataclass(frozen=True)
class DetectorRow:
    """One detector's timings (seconds per frame) and accuracy, or why it did not run."""

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
        found = [detector.detect(im) for im in images]
        counts = count_matches(
            [[f.box for f in faces] for faces in found],
            truths,
            [[f.score for f in faces] for faces in found],
        )
        note = info.note if info else ""
        rows.append(
            DetectorRow(name, True, note, spf, counts.precision, counts.recall, counts.n_truths)
        )
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
