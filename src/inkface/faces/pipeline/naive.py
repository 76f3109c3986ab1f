"""The per-frame loop of the published face systems, written here as they write it, as the
baseline of :mod:`inkface.faces.pipeline.bench_realtime`.

The face-mask report's demo and the smile report's pipeline (§7.3) read a frame, detect
faces, classify each face on its own with the framework's eager model at its default
thread settings, draw and show or write the frame, one step after the other. Nothing
here is used by the pipeline itself.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import torch

from inkface.faces.classification.classifier import normalize, prepare_crops
from inkface.faces.detection.detectors import get_detector
from inkface.faces.types import crop_face
from inkface.models.run import load_run_model, read_meta


def naive_loop(
    video: Path, detector: str, run_dir: Path, out: Path, threads: tuple[int, int]
) -> tuple[float, list[float], float, float, float]:
    """The published systems' loop: read, detect, classify each face alone with PyTorch
    eager, draw, write; ``threads`` = (PyTorch, OpenCV) threads (their defaults).
    Returns FPS, per-frame latencies (ms), mean detect and classify ms, faces per frame."""
    det = get_detector(detector)
    model, _ = load_run_model(run_dir)
    model.eval()
    meta = read_meta(run_dir)
    channels = int(meta.preprocessing.get("in_channels", 3))
    norm = str(meta.preprocessing.get("normalization", "unit"))
    torch.set_num_threads(threads[0])
    cv2.setNumThreads(threads[1])
    capture = cv2.VideoCapture(str(video))
    fps_in = capture.get(cv2.CAP_PROP_FPS) or 24.0
    writer = None
    latencies, detect, classify, faces = [], 0.0, 0.0, 0
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        ok, frame = capture.read()
        if not ok:
            break
        found = det.detect(frame)
        t1 = time.perf_counter()
        for face in found:
            crop = crop_face(frame, face.box, 0.1, True)
            x = normalize(prepare_crops([crop], meta.input_size, channels), norm)
            with torch.no_grad():
                probs = torch.softmax(model(torch.from_numpy(x)), dim=1)[0]
            x1, y1, x2, y2 = face.box
            cv2.rectangle(frame, (x1, y1), (x2, y2), (0, 200, 0), 2)
            text = f"{100 * float(probs.max()):.1f}%"
            cv2.putText(frame, text, (x1, y1 - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 0), 1)
        t2 = time.perf_counter()
        if writer is None:
            size = (frame.shape[1], frame.shape[0])
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps_in, size)
        writer.write(frame)
        latencies.append(1e3 * (time.perf_counter() - t0))
        detect += t1 - t0
        classify += t2 - t1
        faces += len(found)
    seconds = time.perf_counter() - start
    capture.release()
    if writer is not None:
        writer.release()
    n = max(1, len(latencies))
    return len(latencies) / seconds, latencies, 1e3 * detect / n, 1e3 * classify / n, faces / n
