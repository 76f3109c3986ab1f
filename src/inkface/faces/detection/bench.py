"""Face detector speed in the layout of the smile report's Table 7.1, plus accuracy.

:func:`bench_detectors` times every detector backend that can run here on ``side`` x
``side`` frames (Table 7.1: FPS and seconds per frame on 350x350 frames, CPU only) and on
640x480 frames (VGA, a webcam's), then scores it on the sets of
:mod:`inkface.faces.detection.evaluate`: precision / recall at IoU 0.5 on synthetic
multi-face scenes and per mask class, whether it finds the face in OpenCV's
``messi5.jpg``, its false positives on pictures without faces, and optionally WIDER FACE
or FDDB. The timing helpers here (:func:`time_calls`, :func:`system_info`,
:func:`print_tables`) are shared with the pipeline benchmark
(:mod:`inkface.faces.pipeline.bench`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime
import torch

from inkface.core.errors import InkfaceError
from inkface.faces.detection import evaluate
from inkface.faces.detection.detectors import get_detector, list_detectors
from inkface.faces.detection.matching import MatchCounts
from inkface.faces.synth.generator import generate_faces
from inkface.faces.types import Box

FRAME_SIDE = 350  # Table 7.1 / §7.3: "350x350 RGB images"
LARGE_FRAME = (640, 480)  # width, height: VGA, a webcam's frame
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
    folder: Path, n: int, seed: int = 0, task: str = "smile"
) -> tuple[list[np.ndarray], list[list[Box]]]:
    """``n`` multi-face synthetic scene frames (0-5 faces) of ``task`` and their boxes."""
    generate_faces(
        folder, task, 5 * n, seed=seed, scenes=True, n_frames=1, workers=1, progress=False
    )
    truth = json.loads((folder / "scenes" / "boxes.json").read_text())
    names = sorted(truth)[:n]
    images = [cv2.imread(str(folder / "scenes" / name)) for name in names]
    return images, [[tuple(f["box"]) for f in truth[name]] for name in names]


@contextlib.contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` PyTorch and OpenCV threads (``None``: leave them), restored after."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise InkfaceError(f"threads: must be >= 1, got {threads}")
    old_torch, old_cv = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old_torch)
        cv2.setNumThreads(old_cv)


@dataclass(frozen=True)
class DetectorRow:
    """One detector's timings (seconds per frame) and accuracy, or why it did not run.

    ``precision`` / ``recall`` / ``true_faces`` are on the synthetic scenes; ``sets``
    maps every other scored set (mask classes, ``messi5``, ``no-face``, a benchmark) to
    its match counts.
    """

    name: str
    available: bool
    note: str
    spf: list[float] = field(default_factory=list)
    precision: float | None = None
    recall: float | None = None
    true_faces: int = 0
    spf_large: list[float] = field(default_factory=list)
    sets: dict[str, MatchCounts] = field(default_factory=dict)


def bench_detectors(
    names: Sequence[str] | None = None,
    side: int = FRAME_SIDE,
    warmup: int = 5,
    repeats: int = 50,
    scenes: int = 20,
    seed: int = 0,
    *,
    large: tuple[int, int] | None = LARGE_FRAME,
    per_class: int = 0,
    samples: Path | None = None,
    benchmark: tuple[str, Path, int | None] | None = None,
    threads: int | None = None,
    options: dict[str, dict[str, Any]] | None = None,
) -> list[DetectorRow]:
    """Time each detector on ``side`` x ``side`` frames (and ``large`` (w, h) ones) and
    score it on synthetic scenes, ``per_class`` single faces of each mask class, the
    opencv-doc ``samples`` folder and an optional ``(kind, root, limit)`` benchmark.

    Timing cycles over the scenes, centre-cropped and resized to ``side`` (and resized to
    ``large``); accuracy is measured at each set's own image size. ``options[name]`` are
    passed to that detector's :func:`get_detector`.
    """
    infos = {i.name: i for i in list_detectors()}
    wanted = list(names) if names else list(infos)
    sets = evaluate.synthetic_sets(scenes, per_class, seed)
    scene_set, class_sets = sets[0], sets[1:] if per_class else []
    extra = list(evaluate.sample_photos(samples)) if samples is not None else []
    if benchmark is not None:
        extra.append(evaluate.benchmark_set(*benchmark))
    small = [square_frame(im, side) for im in scene_set.images]
    big = (
        [cv2.resize(im, large, interpolation=cv2.INTER_LINEAR) for im in scene_set.images]
        if large
        else []
    )
    rows = []
    with cpu_threads(threads):
        for name in wanted:
            info = infos.get(name)
            if info is not None and not info.available:
                rows.append(DetectorRow(name, False, info.note))
                continue
            try:
                detector = get_detector(name, **dict((options or {}).get(name, {})))
            except InkfaceError as exc:
                rows.append(DetectorRow(name, False, str(exc)))
                continue

            def timed(frames: list[np.ndarray], d=detector) -> list[float]:
                return time_calls(lambda i: d.detect(frames[i % len(frames)]), warmup, repeats)

            spf, spf_large = timed(small), timed(big) if big else []
            counts = evaluate.score(detector, scene_set.images, scene_set.truths)
            scored = {
                s.name: evaluate.score(detector, s.images, s.truths) for s in class_sets + extra
            }
            note = info.note if info is not None else f"{name} -> {detector.name}"
            rows.append(
                DetectorRow(
                    name,
                    True,
                    note,
                    spf,
                    counts.precision,
                    counts.recall,
                    counts.n_truths,
                    spf_large,
                    scored,
                )
            )
    return rows


def _fps_spf(spf: list[float]) -> str:
    if not spf:
        return f"{'-':>8} {'-':>8} {'-':>8}"
    med = statistics.median(spf)
    return f"{1 / med:>8.1f} {med:>8.4f} {statistics.fmean(spf):>8.4f}"


def format_detector_table(
    rows: Sequence[DetectorRow],
    warmup: int,
    repeats: int,
    side: int = FRAME_SIDE,
    large: tuple[int, int] | None = LARGE_FRAME,
) -> str:
    """Table 7.1's layout (detector, FPS, seconds per frame: median and mean) at
    ``side`` x ``side`` and at ``large``, with P/R on the synthetic scenes; then, when
    scored, the accuracy per mask class and on the sample photos and benchmark."""
    big = f"{large[0]}x{large[1]}" if large else "-"
    lines = [
        f"Face detectors on {side}x{side} and {big} frames, CPU "
        f"({warmup} warm-up calls, {repeats} timed calls each; cf. smile report Table 7.1)",
        f"{'Detector':<15}{'FPS':>8} {'SPF med':>8} {'SPF mean':>8} |{'FPS':>8} {'SPF med':>8} "
        f"{'SPF mean':>8} | {'P@0.5':>6} {'R@0.5':>6}  scenes",
    ]
    for row in rows:
        if not row.available:
            lines.append(f"{row.name:<10} unavailable: {row.note}")
            continue
        lines.append(
            f"{row.name:<15}{_fps_spf(row.spf)} |{_fps_spf(row.spf_large)} | "
            f"{row.precision:>6.3f} {row.recall:>6.3f}  {row.true_faces} true faces"
        )
    lines.append(
        "Paper (Intel i7-8565U, 350x350, Table 7.1): "
        + ", ".join(f"{n} {fps:.1f} FPS / {spf:.3f} s" for n, fps, spf in PAPER_TABLE_7_1)
    )
    scored = [r for r in rows if r.available and r.sets]
    if scored:
        names = list(scored[0].sets)
        lines += ["", "Precision / recall at IoU 0.5 per set (TP/FP/FN in brackets)"]
        lines.append(f"{'Detector':<15}" + "".join(f"{_short(n):>22}" for n in names))
        for row in scored:
            cells = [_cell(n, row.sets[n]) for n in names]
            lines.append(f"{row.name:<15}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def _short(name: str) -> str:
    return {"mask_weared_incorrect": "mask incorrect"}.get(name, name)


def _cell(name: str, c: MatchCounts) -> str:
    if name == "no-face":
        return f"{c.fp} false pos."
    if name == "messi5":
        return "found" if c.tp else f"missed ({c.fp} FP)"
    return f"{c.precision:.2f}/{c.recall:.2f} ({c.tp}/{c.fp}/{c.fn})"
