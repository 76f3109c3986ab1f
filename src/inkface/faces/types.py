"""What a face detector returns, and the box arithmetic every backend and cropper shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inkface.core.errors import ImageError

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``box`` is (x1, y1, x2, y2) in pixels, x2/y2 exclusive, clipped to the frame;
    ``score`` is the backend's confidence (1.0 where it gives none); ``landmarks`` are
    five (x, y) points (eyes, nose tip, mouth corners) when the backend predicts them.
    """

    box: Box
    score: float
    landmarks: np.ndarray | None = None

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def check_image(image: np.ndarray) -> np.ndarray:
    """Accept BGR uint8 (H, W, 3) or grey (H, W) frames; refuse anything else."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ImageError("image: expected a uint8 NumPy array (BGR or grey)")
    if (image.ndim == 3 and image.shape[2] == 3) or image.ndim == 2:
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise ImageError(f"image: empty frame of shape {image.shape}")
        return image
    raise ImageError(f"image: expected shape (H, W) or (H, W, 3), got {image.shape}")


def clip_box(box: Sequence[float], frame_shape: Sequence[int]) -> Box | None:
    """Round ``box`` to pixels and clip it to a frame of ``frame_shape`` (H, W, ...);
    ``None`` when nothing of it is left inside (degenerate or outside)."""
    h, w = int(frame_shape[0]), int(frame_shape[1])
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    x1, x2 = max(0, min(x1, w)), max(0, min(x2, w))
    y1, y2 = max(0, min(y1, h)), max(0, min(y2, h))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return (x1, y1, x2, y2)


def expand_box(
    box: Sequence[float], frame_shape: Sequence[int], margin: float = 0.0, square: bool = False
) -> Box:
    """Grow ``box`` by ``margin`` times its size on every side (0.1 adds 10 % of the width
    left and right and 10 % of the height above and below), optionally to a square of
    the longer side about the same centre, then clip it to the frame."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    w, h = w * (1 + 2 * margin), h * (1 + 2 * margin)
    if square:
        w = h = max(w, h)
    clipped = clip_box((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), frame_shape)
    if clipped is None:
        raise ValueError(f"box {tuple(box)} lies outside the frame {tuple(frame_shape[:2])}")
    return clipped


def crop_face(
    image: np.ndarray,
    face_or_box: Face | Sequence[float],
    margin: float = 0.0,
    square: bool = False,
) -> np.ndarray:
    """The pixels of a face (a copy), expanded by ``margin`` and clipped to the frame.

    Near a frame edge the clipped crop of a ``square`` request may be rectangular: the
    classifier's resize handles that, and inventing padding pixels would hide the edge.
    """
    box = face_or_box.box if isinstance(face_or_box, Face) else face_or_box
    x1, y1, x2, y2 = expand_box(box, image.shape, margin, square)
    return image[y1:y2, x1:x2].copy()


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
