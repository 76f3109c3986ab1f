"""Per-classifier inference latency in the layout of the smile report's Tables 7.4 / 7.5.

The report times each network on 1000 frames (one face crop per frame, batch 1) and
prints the average, maximum and standard deviation of the execution time in seconds and
the FPS (1 / average). :func:`measure_latency` does the same for one model after a few
warm-up frames; :func:`latency_table` for every classifier; :func:`format_latency_table`
prints ours beside the paper's CPU (Table 7.4) or GPU (Table 7.5) figures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from inkface.core.errors import InkfaceError
from inkface.models import get_model, model_info

# (avg s, max s, std s, FPS) as printed in the smile report.
PAPER_TABLE_7_4 = {
    "vgg16": (0.272, 0.374, 0.015, 3.680),
    "inception_v3": (0.142, 0.312, 0.014, 7.065),
    "efficientnet_b0": (0.124, 0.202, 0.006, 8.057),
    "mnasnet1_0": (0.054, 0.090, 0.004, 18.598),
    "mobilenetv3_large": (0.064, 0.109, 0.005, 15.511),
    "mobilenetv3_small": (0.041, 0.087, 0.003, 24.582),
    "smile_cnn": (0.022, 0.044, 0.001, 44.712),
}
PAPER_TABLE_7_5 = {
    "vgg16": (0.022, 14.668, 0.463, 45.106),
    "inception_v3": (0.055, 24.345, 0.769, 18.225),
    "efficientnet_b0": (0.051, 1.096, 0.033, 19.749),
    "mnasnet1_0": (0.030, 1.060, 0.033, 33.434),
    "mobilenetv3_large": (0.048, 1.105, 0.033, 20.945),
    "mobilenetv3_small": (0.041, 0.050, 0.001, 24.346),
    "smile_cnn": (0.017, 12.932, 0.409, 59.482),
}
PAPER_LABELS = {
    "vgg16": "VGG16",
    "inception_v3": "Inception V3",
    "efficientnet_b0": "EfficientNet B0",
    "mnasnet1_0": "MNasNet",
    "mobilenetv3_large": "MobileNet V3",
    "mobilenetv3_small": "MobileNet Small V3",
    "smile_cnn": "Proposed model",
}
SMILE_MODELS = tuple(PAPER_TABLE_7_4)


@torch.no_grad()
def measure_latency(
    model: torch.nn.Module,
    input_shape: tuple[int, int, int],
    frames: int = 1000,
    warmup: int = 5,
    device: str = "cpu",
    seed: int = 0,
) -> dict[str, float]:
    """Time ``frames`` single-image forward passes; seconds (avg, max, std) and FPS."""
    if frames < 1:
        raise InkfaceError(f"frames must be >= 1, got {frames}")
    model = model.to(device).eval()
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand((1, *input_shape), generator=generator).to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for _ in range(warmup):
        model(x)
    sync()
    times = np.empty(frames)
    for i in range(frames):
        start = time.perf_counter()
        model(x)
        sync()
        times[i] = time.perf_counter() - start
    avg = float(times.mean())
    return {
        "avg_s": avg,
        "max_s": float(times.max()),
        "std_s": float(times.std()),
        "fps": 1.0 / avg if avg > 0 else float("inf"),
        "frames": frames,
    }


def latency_table(
    names: Sequence[str] = SMILE_MODELS,
    frames: int = 1000,
    device: str = "cpu",
    input_sizes: dict[str, tuple[int, int]] | None = None,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """One row per registered classifier at its registered input size (or ``input_sizes``)."""

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        rows = []
        for name in names:
            spec = model_info(name)
            size = (input_sizes or {}).get(name, spec.input_size)
            torch.manual_seed(0)
            model = get_model(name)
            result = measure_latency(model, (spec.in_channels, *size), frames, device=device)
            rows.append({"model": name, "input": f"{size[0]}x{size[1]}", **result})
        return rows
    finally:
        torch.set_num_threads(previous)


def format_latency_table(rows: Sequence[dict[str, Any]], paper: str = "cpu") -> str:
    """Markdown table, ours (paper's in parentheses) per column, Table 7.4 / 7.5 layout."""
    reference = PAPER_TABLE_7_4 if paper == "cpu" else PAPER_TABLE_7_5
    table = "7.4 (CPU)" if paper == "cpu" else "7.5 (GPU)"
    lines = [
        f"Inference time over {rows[0]['frames'] if rows else 0} frames, batch 1 "
        f"(paper Table {table} in parentheses)",
        "",
        "| Model | input | Avg execution time (s) | Max execution time (s) "
        "| Std execution time (s) | FPS |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ref = reference.get(row["model"])
        cells = []
        for i, key in enumerate(("avg_s", "max_s", "std_s", "fps")):
            ours = f"{row[key]:.3f}"
            cells.append(f"{ours} ({ref[i]:.3f})" if ref else ours)
        label = PAPER_LABELS.get(row["model"], row["model"])
        lines.append(f"| {label} | {row['input']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
