"""MediaPipe's BlazeFace, the smile report's detector (§5.5.5, §7.1), run in PyTorch.

BlazeFace (Bazarevsky et al. 2019, arXiv:1907.05047) is an SSD-style network: each anchor
of a fixed grid predicts a face score and a box plus six keypoints relative to itself.
MediaPipe ships two models, both read from their ``.tflite`` files by
:mod:`inkface.faces.detection.tflite` and run by
:mod:`inkface.faces.detection.tflite_torch` (why no TFLite runtime: see there):

- ``short`` (``face_detection_short_range.tflite``, MediaPipe's ``model_selection=0``):
  128x128 input, 896 anchors on 16x16 (2 per cell) and 8x8 (6 per cell) grids, for faces
  within about 2 m of a selfie camera; score threshold 0.5.
- ``full`` (``face_detection_full_range_sparse.tflite``, ``model_selection=1``): 192x192
  input, 2304 anchors on a 48x48 grid, for smaller faces up to about 5 m; threshold 0.6.

The pre- and post-processing follow MediaPipe's face detection graphs: the frame is
letterboxed into the square input (aspect ratio kept, RGB scaled to [-1, 1]), box
offsets are divided by the input size and added to the anchor centres (anchors have unit
size), scores are clipped to +-100 and passed through a sigmoid, and overlapping
detections are merged by weighted NMS at IoU 0.3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from inkface.core.errors import InkfaceError
from inkface.faces.detection.nms import weighted_nms
from inkface.faces.detection.tflite import read_tflite
from inkface.faces.detection.tflite_torch import load_tflite_module
from inkface.faces.detection.weights import remote_files, resolve_weights
from inkface.faces.types import Face, check_image, clip_box


@dataclass(frozen=True)
class BlazeFaceConfig:
    """One MediaPipe BlazeFace model: its input side, anchor grids and thresholds."""

    model: str  # weights catalogue name
    side: int
    grids: tuple[tuple[int, int], ...]  # (stride, anchors per cell)
    score_threshold: float
    nms_threshold: float = 0.3
    score_clip: float = 100.0


# MediaPipe face_detection_{short,full}_range graphs (SsdAnchorsCalculator and
# TensorsToDetectionsCalculator options). Short: strides 8, 16, 16, 16 with one
# aspect ratio plus one interpolated scale each -> 2 anchors per 8-px cell and 3 x 2 per
# 16-px cell. Full: one stride-4 layer without the interpolated scale -> 1 per cell.
VARIANTS = {
    "short": BlazeFaceConfig("blazeface", 128, ((8, 2), (16, 6)), 0.5),
    "full": BlazeFaceConfig("blazeface_full", 192, ((4, 1),), 0.6),
}


def anchor_centres(config: BlazeFaceConfig) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in [0, 1], in the network's output order."""
    rows = []
    for stride, per_cell in config.grids:
        n = math.ceil(config.side / stride)
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        centres = np.stack([(xs + 0.5) / n, (ys + 0.5) / n], -1).reshape(-1, 1, 2)
        rows.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(rows).astype(np.float64)


def letterbox(image: np.ndarray, side: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The RGB frame scaled to fit ``side`` x ``side`` (aspect kept, centred, zero-padded
    in the [-1, 1] range) as a (1, side, side, 3) float array, and (scale, pad_x, pad_y)
    in input pixels to map boxes back."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(
        image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0
    canvas = np.zeros((side, side, 3), np.float32)
    px, py = (side - nw) // 2, (side - nh) // 2
    canvas[py : py + nh, px : px + nw] = rgb
    return canvas[None], (scale, float(px), float(py))


def decode_blazeface(
    regressors: np.ndarray,
    scores: np.ndarray,
    config: BlazeFaceConfig,
    anchors: np.ndarray,
    score_threshold: float | None = None,
) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """Boxes (x1, y1, x2, y2), scores and (6, 2) keypoints in input pixels, after weighted
    NMS, from the raw (N, 16) regressors and (N,) logits."""
    threshold = config.score_threshold if score_threshold is None else score_threshold
    logits = np.clip(
        np.asarray(scores, np.float64).reshape(-1), -config.score_clip, config.score_clip
    )
    prob = 1.0 / (1.0 + np.exp(-logits))
    keep = prob >= threshold
    if not keep.any():
        return []
    raw = np.asarray(regressors, np.float64).reshape(-1, 16)[keep]
    centre = anchors[keep] * config.side
    cx, cy = centre[:, 0] + raw[:, 0], centre[:, 1] + raw[:, 1]
    boxes = np.stack(
        [cx - raw[:, 2] / 2, cy - raw[:, 3] / 2, cx + raw[:, 2] / 2, cy + raw[:, 3] / 2], 1
    )
    points = raw[:, 4:16].reshape(-1, 6, 2) + centre[:, None, :]
    merged = weighted_nms(boxes, prob[keep], config.nms_threshold, points.reshape(-1, 12))
    return [(box, score, pts.reshape(6, 2)) for box, score, pts in merged]


class BlazeFaceDetector:
    """BlazeFace (short or full range) on any frame size; landmarks are its six
    keypoints (right eye, left eye, nose tip, mouth centre, right and left ear tragion),
    so their shape is (6, 2)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        variant: str = "short",
        score_threshold: float | None = None,
        nms_threshold: float | None = None,
    ) -> None:
        if variant not in VARIANTS:
            raise InkfaceError(f"blazeface variant: 'short' or 'full', got {variant!r}")
        config = VARIANTS[variant]
        if nms_threshold is not None:
            config = BlazeFaceConfig(
                config.model, config.side, config.grids, config.score_threshold, nms_threshold
            )
        self.config = config
        self.name = config.model
        filename = remote_files(config.model)[0].filename
        self.model_path = resolve_weights(config.model, filename, model_path, "model_path")
        self.score_threshold = (
            config.score_threshold if score_threshold is None else score_threshold
        )
        if not 0.0 < self.score_threshold < 1.0:
            raise InkfaceError(f"score_threshold: must be in (0, 1), got {self.score_threshold}")
        graph = read_tflite(self.model_path)
        shape = graph.tensors[graph.inputs[0]].shape
        if tuple(shape) != (1, config.side, config.side, 3):
            raise InkfaceError(
                f"{self.model_path}: input {shape} is not BlazeFace {variant}'s "
                f"(1, {config.side}, {config.side}, 3)"
            )
        self._net = load_tflite_module(graph)
        self._anchors = anchor_centres(config)

    def preprocess(self, image: np.ndarray) -> tuple[torch.Tensor, tuple[float, float, float]]:
        tensor, geometry = letterbox(image, self.config.side)
        return torch.from_numpy(tensor), geometry

    def forward(self, tensor: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            regressors, scores = self._net(tensor)
        return regressors[0].numpy(), scores[0].numpy()

    def postprocess(
        self,
        raw: tuple[np.ndarray, np.ndarray],
        geometry: tuple[float, float, float],
        shape: Sequence[int],
    ) -> list[Face]:
        scale, px, py = geometry
        faces = []
        found = decode_blazeface(raw[0], raw[1], self.config, self._anchors, self.score_threshold)
        for box, score, points in found:
            mapped = (box - np.array([px, py, px, py])) / scale
            clipped = clip_box(mapped, shape)
            if clipped is not None:
                landmarks = ((points - np.array([px, py])) / scale).astype(np.float32)
                faces.append(Face(clipped, score, landmarks))
        return sorted(faces, key=lambda f: -f.score)

    def detect(self, image: np.ndarray) -> list[Face]:
        image = check_image(image)
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        tensor, geometry = self.preprocess(image)
        return self.postprocess(self.forward(tensor), geometry, image.shape)


def blazeface_full(model_path: str | Path | None = None, **options) -> BlazeFaceDetector:
    """The full-range BlazeFace (``get_detector("blazeface_full")``)."""
    return BlazeFaceDetector(model_path, variant="full", **options)
