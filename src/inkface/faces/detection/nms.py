"""Non-maximum suppression for the network detectors' candidate boxes.

:func:`nms` is the greedy rule of MTCNN (Zhang et al. 2016, §2.1: "non-maximum
suppression (NMS) to merge highly overlapped candidates"), with the overlap measured as
IoU (``"union"``) or as intersection over the smaller box (``"min"``, used by its last
stage). :func:`weighted_nms` is MediaPipe's ``WEIGHTED`` variant for BlazeFace
(Bazarevsky et al. 2019, §2.3 "blending"): each kept box is the score-weighted mean of the
candidates it suppresses, which steadies boxes between video frames.
Boxes are float arrays of rows (x1, y1, x2, y2).
"""

from __future__ import annotations

import numpy as np


def overlaps(box: np.ndarray, boxes: np.ndarray, mode: str = "union") -> np.ndarray:
    """Overlap of one box with each row of ``boxes``: IoU, or intersection over the
    smaller area with ``mode="min"``."""
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = iw * ih
    area = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(
        boxes[:, 3] - boxes[:, 1], 0, None
    )
    if mode == "min":
        denom = np.minimum(area, areas)
    elif mode == "union":
        denom = area + areas - inter
    else:
        raise ValueError(f"mode: 'union' or 'min', got {mode!r}")
    return np.where(denom > 0, inter / np.maximum(denom, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Indices of the boxes kept, best score first: a box is dropped when it overlaps an
    already kept one by more than ``threshold``."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        order = rest[overlaps(boxes[best], boxes[rest], mode) <= threshold]
    return np.asarray(keep, np.int64)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, extra: np.ndarray | None = None
) -> list[tuple[np.ndarray, float, np.ndarray | None]]:
    """MediaPipe's weighted NMS: (blended box, best score, blended ``extra`` row) per face.

    ``extra`` (one row per box, e.g. flattened keypoints) is blended with the same weights.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    out = []
    while order.size:
        best = order[0]
        near = overlaps(boxes[best], boxes[order], "union") > threshold
        near[0] = True
        group = order[near]
        weights = scores[group] / max(float(scores[group].sum()), 1e-12)
        box = (boxes[group] * weights[:, None]).sum(0)
        blended = (extra[group] * weights[:, None]).sum(0) if extra is not None else None
        out.append((box, float(scores[best]), blended))
        order = order[~near]
    return out
