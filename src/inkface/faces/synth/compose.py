"""Compose pictures from drawn faces: a cluttered background, each face patch of
:mod:`inkface.faces.synth.render` shrunk, rotated and blended in with its true box, and
the sensor noise and 8-bit quantisation of a camera.
"""

from __future__ import annotations

import cv2
import numpy as np

from inkface.faces.synth.render import (
    HEAD_CENTRE,
    HEAD_HALF_WIDTH,
    PATCH_SIDE,
    FaceLook,
    face_box_in_patch,
)


def paste_face(
    canvas: np.ndarray,
    patch: np.ndarray,
    alpha: np.ndarray,
    look: FaceLook,
    centre: tuple[float, float],
    half_width: float,
    roll_deg: float,
) -> tuple[int, int, int, int]:
    """Blend the patch into ``canvas`` (float32 BGR, in place) with the head centre at
    ``centre``, head half-width ``half_width`` px and in-plane rotation ``roll_deg``
    (counter-clockwise). Returns the true face box (x1, y1, x2, y2), clipped to the frame:
    the reference box moved with the rotated face, keeping its size."""
    head_x, head_y = HEAD_CENTRE
    scale = half_width / HEAD_HALF_WIDTH
    side = max(4, round(PATCH_SIDE * scale))
    small = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)
    small_a = cv2.resize(alpha, (side, side), interpolation=cv2.INTER_AREA)
    s = side / PATCH_SIDE
    h, w = canvas.shape[:2]
    rot = cv2.getRotationMatrix2D((head_x * s, head_y * s), roll_deg, 1.0)
    rot[0, 2] += centre[0] - head_x * s
    rot[1, 2] += centre[1] - head_y * s
    warped = cv2.warpAffine(small, rot, (w, h), flags=cv2.INTER_LINEAR)
    warped_a = cv2.warpAffine(small_a, rot, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    canvas *= 1.0 - warped_a
    canvas += warped * warped_a
    x1, y1, x2, y2 = face_box_in_patch(look)
    mx, my = (x1 + x2) / 2 * s, (y1 + y2) / 2 * s
    cx = rot[0, 0] * mx + rot[0, 1] * my + rot[0, 2]
    cy = rot[1, 0] * mx + rot[1, 1] * my + rot[1, 2]
    hw, hh = (x2 - x1) / 2 * s, (y2 - y1) / 2 * s
    box = (
        max(0, round(cx - hw)),
        max(0, round(cy - hh)),
        min(w, round(cx + hw)),
        min(h, round(cy + hh)),
    )
    return box


def random_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Clutter: a flat wall with random rectangles, discs and lines, blurred, plus noise
    (float32 BGR)."""
    img = np.empty((height, width, 3), np.float32)
    img[:] = rng.uniform(40, 220, 3)
    span = max(width, height)
    for _ in range(int(rng.integers(3, 14))):
        colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
        p = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        q = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            cv2.rectangle(img, p, q, colour, -1)
        elif kind == 1:
            cv2.circle(img, p, int(rng.integers(3, max(4, span // 4))), colour, -1)
        else:
            cv2.line(img, p, q, colour, int(rng.integers(1, 6)))
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.8, 2.5)))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    gx, gy = rng.uniform(-0.3, 0.3, 2)
    img *= (1.0 + gx * (xs / width - 0.5) + gy * (ys / height - 0.5))[..., None]
    return img


def finish(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise and 8-bit quantisation of a composed picture."""
    noisy = canvas + rng.normal(0.0, rng.uniform(2.0, 7.0), canvas.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)
