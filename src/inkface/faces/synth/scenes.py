"""Multi-face scenes and a short video with ground truth, for pipeline tests and demos.

Written by :func:`inkface.faces.synth.generator.generate_faces` with ``scenes=True``: frames
holding 0 to 5 faces with ``boxes.json``, and a video of 1 to 5 moving faces whose boxes
and persistent track ids are in ``video_boxes.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inkface.core.atomic import write_json
from inkface.core.labels import TASK_CLASSES
from inkface.faces.synth.compose import finish, paste_face, random_background
from inkface.faces.synth.render import FaceLook, draw_face
from inkface.faces.synth.sampling import (
    SCENE_STREAM,
    VIDEO_STREAM,
    random_look,
    rng_for,
    sample_expression,
    sample_extras,
    uniform,
)

_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 92]


@dataclass(frozen=True)
class SceneInfo:
    frames: int
    video: str
    codec: str


@dataclass
class _Track:
    """One face moving through the video: its drawing and its path."""

    track: int
    label: str
    look: FaceLook
    patch: np.ndarray
    alpha: np.ndarray
    start: np.ndarray
    velocity: np.ndarray
    half: float
    phase: float


def _drawn(task: str, rng: np.random.Generator):
    label = TASK_CLASSES[task][int(rng.integers(len(TASK_CLASSES[task])))]
    look = random_look(rng)
    light = tuple(rng.uniform(-0.35, 0.35, 2))
    extras = sample_extras(task, label, rng)
    patch, alpha = draw_face(look, sample_expression(task, label, rng), extras, light, rng)
    return label, look, patch, alpha


def _place(rng, taken: list, w: int, h: int, half: float) -> tuple[float, float] | None:
    """A head centre whose face keeps clear of the faces already placed."""
    for _ in range(30):
        c = (uniform(rng, 1.2 * half, w - 1.2 * half), uniform(rng, 1.4 * half, h - 1.3 * half))
        if all(
            abs(c[0] - o[0]) > 1.2 * (half + r) or abs(c[1] - o[1]) > 1.5 * (half + r)
            for o, r in taken
        ):
            return c
    return None


def write_scenes(folder: Path, task: str, seed: int, size: int, n: int, n_frames: int):
    """Multi-face frames (0-5 faces) with ``boxes.json`` and a video of 1-5 moving faces
    with per-frame tracked boxes in ``video_boxes.json``."""
    folder.mkdir(parents=True)
    w, h = 4 * size, 3 * size
    frames = max(4, n // 5)
    boxes = {}
    for i in range(frames):
        rng = rng_for(seed, task, SCENE_STREAM, i)
        canvas = random_background(rng, h, w)
        taken, faces = [], []
        for _ in range(int(rng.integers(0, 6))):
            half = uniform(rng, 0.035, 0.11) * w
            centre = _place(rng, taken, w, h, half)
            if centre is None:
                continue
            label, look, patch, alpha = _drawn(task, rng)
            roll = float(np.clip(rng.normal(0.0, 5.0), -15.0, 15.0))
            box = paste_face(canvas, patch, alpha, look, centre, half, roll)
            taken.append((centre, half))
            faces.append({"box": list(box), "label": label})
        name = f"frame_{i + 1:04d}.jpg"
        cv2.imwrite(str(folder / name), finish(canvas, rng), _JPEG)
        boxes[name] = faces
    write_json(folder / "boxes.json", boxes)
    rng = rng_for(seed, task, VIDEO_STREAM, 0)
    background = random_background(rng, h, w)
    tracks, taken = [], []
    for k in range(int(rng.integers(1, 6))):
        half = uniform(rng, 0.045, 0.09) * w
        centre = _place(rng, taken, w, h, half) or (w / 2, h / 2)
        taken.append((centre, half))
        label, look, patch, alpha = _drawn(task, rng)
        step = rng.normal(0.0, 0.004 * w, 2)
        tracks.append(
            _Track(
                k + 1,
                label,
                look,
                patch,
                alpha,
                np.array(centre),
                step,
                half,
                uniform(rng, 0, 2 * math.pi),
            )
        )
    codec, name = "mp4v", "video.mp4"
    writer = cv2.VideoWriter(str(folder / name), cv2.VideoWriter_fourcc(*codec), 12.0, (w, h))
    if not writer.isOpened():
        codec, name = "MJPG", "video.avi"
        writer = cv2.VideoWriter(str(folder / name), cv2.VideoWriter_fourcc(*codec), 12.0, (w, h))
    per_frame = []
    try:
        for f in range(n_frames):
            canvas = background.copy()
            faces = []
            for t in tracks:
                c = t.start + t.velocity * f
                lo = np.array([1.1 * t.half, 1.3 * t.half])
                span = np.array([w, h]) - 2 * lo
                c = lo + span - np.abs(np.mod(c - lo, 2 * span) - span)  # bounce off the edges
                half = t.half * (1.0 + 0.1 * math.sin(0.15 * f + t.phase))
                roll = 8.0 * math.sin(0.1 * f + t.phase)
                box = paste_face(canvas, t.patch, t.alpha, t.look, tuple(c), half, roll)
                faces.append({"track": t.track, "box": list(box), "label": t.label})
            writer.write(finish(canvas, rng_for(seed, task, VIDEO_STREAM, f + 1)))
            per_frame.append(faces)
    finally:
        writer.release()
    write_json(
        folder / "video_boxes.json",
        {
            "video": name,
            "codec": codec,
            "fps": 12.0,
            "size": [w, h],
            "frames": per_frame,
        },
    )
    return SceneInfo(frames, name, codec)
