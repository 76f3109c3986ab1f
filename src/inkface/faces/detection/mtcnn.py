"""MTCNN (Zhang, Zhang, Li and Qiao, "Joint Face Detection and Alignment using Multi-task
Cascaded Convolutional Networks", IEEE SPL 2016), the smile report's slowest detector
(§5.5.3, Table 7.1: 2.5 FPS), written here in PyTorch.

Three networks run as a cascade (paper §2.1-2.2, Fig. 1-2):

1. **P-Net**, fully convolutional, slides a 12x12 window (stride 2) over an image pyramid
   (scales ``12 / min_face * factor**k``) and proposes windows whose face probability is
   at least ``thresholds[0]``, each refined by its box regression; NMS merges them within
   each scale (IoU 0.5) and across scales (0.7).
2. **R-Net** re-scores 24x24 crops of those (squared) windows, keeps those above
   ``thresholds[1]``, NMS 0.7, regression again.
3. **O-Net** re-scores 48x48 crops, keeps those above ``thresholds[2]``, predicts five
   landmarks (eyes, nose, mouth corners), regresses the box and merges by NMS on
   intersection over the smaller box (0.7).

Defaults are the published settings (min face 20 px, factor 0.709, thresholds 0.6 /
0.7 / 0.7). The weights are the authors' released Caffe models as converted to PyTorch
state dicts by facenet-pytorch (MIT; read with ``torch.load(weights_only=True)``, no
pickled code). Those models were trained on images in MATLAB's column-major order, so the
fully connected layers of R- and O-Net read their feature maps as (width, height,
channel): the flattening below permutes to that order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inkface.core.errors import InkfaceError
from inkface.faces.detection.nms import nms
from inkface.faces.detection.weights import remote_files, resolve_weights
from inkface.faces.types import Face, check_image, clip_box

CELL, STRIDE = 12, 2  # P-Net's window and its stride in the pyramid image


def _flatten_wh(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, W*H*C) in the released models' column-major order."""
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class PNet(nn.Module):
    """Proposal network: 12x12 input, fully convolutional (paper Fig. 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)  # face / not face
        self.conv4_2 = nn.Conv2d(32, 4, 1)  # box regression

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return F.softmax(self.conv4_1(x), dim=1), self.conv4_2(x)


class RNet(nn.Module):
    """Refine network: 24x24 input (paper Fig. 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu4(self.dense4(_flatten_wh(self.prelu3(self.conv3(x)))))
        return F.softmax(self.dense5_1(x), dim=1), self.dense5_2(x)


class ONet(nn.Module):
    """Output network: 48x48 input, adds five landmarks (paper Fig. 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)  # x of 5 landmarks, then their y

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu5(self.dense5(_flatten_wh(self.prelu4(self.conv4(x)))))
        return F.softmax(self.dense6_1(x), dim=1), self.dense6_2(x), self.dense6_3(x)


def pyramid_scales(height: int, width: int, min_face: float, factor: float) -> list[float]:
    """Scales at which a ``min_face`` face becomes P-Net's 12-pixel window, shrinking by
    ``factor`` until the short side is under 12 pixels."""
    scale = CELL / min_face
    side = min(height, width) * scale
    scales = []
    while side >= CELL:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply box regression: offsets are fractions of the box's width and height."""
    size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, 1)
    return boxes + offsets * size


def square(boxes: np.ndarray) -> np.ndarray:
    """Boxes grown to squares of their longer side about the same centre."""
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], 1)


def crops(rgb: np.ndarray, boxes: np.ndarray, size: int) -> torch.Tensor:
    """``size`` x ``size`` crops of ``boxes`` (zero outside the image), normalised as the
    networks were trained: (pixel - 127.5) / 128, NCHW."""
    h, w = rgb.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(np.round(boxes).astype(int)):
        bw, bh = x2 - x1, y2 - y1
        if bw < 1 or bh < 1:
            continue
        patch = np.zeros((bh, bw, 3), np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if sx2 > sx1 and sy2 > sy1:
            patch[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = rgb[sy1:sy2, sx1:sx2]
        interp = cv2.INTER_AREA if bw > size else cv2.INTER_LINEAR
        out[k] = cv2.resize(patch, (size, size), interpolation=interp)
    return torch.from_numpy((out - 127.5) / 128.0).permute(0, 3, 1, 2)


def _load(net: nn.Module, path: Path) -> nn.Module:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except Exception as exc:  # torch raises several types for a bad file
        raise InkfaceError(
            f"{path}: not an MTCNN state dict for {type(net).__name__} ({exc})"
        ) from exc
    return net.eval()


class MTCNNDetector:
    """The three-stage MTCNN cascade; landmarks are its five points (2 eyes, nose tip,
    2 mouth corners), so their shape is (5, 2).

    ``model_path`` is a folder holding ``pnet.pt``, ``rnet.pt`` and ``onet.pt`` (default:
    the ``inkface models fetch mtcnn`` cache).
    """

    name = "mtcnn"

    def __init__(
        self,
        model_path: str | Path | None = None,
        min_face_size: float = 20.0,
        factor: float = 0.709,
        thresholds: Sequence[float] = (0.6, 0.7, 0.7),
    ) -> None:
        if min_face_size < CELL:
            raise InkfaceError(f"min_face_size: must be >= {CELL} pixels, got {min_face_size}")
        if not 0.0 < factor < 1.0:
            raise InkfaceError(f"factor: must be in (0, 1), got {factor}")
        thresholds = tuple(float(t) for t in thresholds)
        if len(thresholds) != 3 or not all(0.0 <= t < 1.0 for t in thresholds):
            raise InkfaceError(f"thresholds: three values in [0, 1), got {thresholds}")
        folder = Path(model_path) if model_path is not None else None
        if folder is not None and not folder.is_dir():
            raise InkfaceError(
                f"{folder}: model_path for 'mtcnn' must be a folder with pnet.pt, rnet.pt, onet.pt"
            )
        paths = [
            resolve_weights(
                "mtcnn", r.filename, folder / r.filename if folder else None, "model_path"
            )
            for r in remote_files("mtcnn")
        ]
        self.model_path = paths[0].parent
        self.pnet = _load(PNet(), paths[0])
        self.rnet = _load(RNet(), paths[1])
        self.onet = _load(ONet(), paths[2])
        self.min_face_size, self.factor, self.thresholds = (
            float(min_face_size),
            float(factor),
            thresholds,
        )

    def _stage1(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        image = torch.from_numpy((rgb.astype(np.float32) - 127.5) / 128.0).permute(2, 0, 1)[None]
        found = []
        for scale in pyramid_scales(h, w, self.min_face_size, self.factor):
            size = (math.ceil(h * scale), math.ceil(w * scale))
            prob, reg = self.pnet(F.interpolate(image, size=size, mode="area"))
            score = prob[0, 1].numpy()
            ys, xs = np.nonzero(score >= self.thresholds[0])
            if ys.size == 0:
                continue
            boxes = (
                np.stack([STRIDE * xs, STRIDE * ys, STRIDE * xs + CELL, STRIDE * ys + CELL], 1)
                / scale
            )
            rows = np.column_stack([boxes, score[ys, xs], reg[0].numpy()[:, ys, xs].T])
            found.append(rows[nms(rows[:, :4], rows[:, 4], 0.5)])
        if not found:
            return np.zeros((0, 5))
        rows = np.concatenate(found)
        rows = rows[nms(rows[:, :4], rows[:, 4], 0.7)]
        return np.column_stack([square(regress(rows[:, :4], rows[:, 5:9])), rows[:, 4]])

    def _stage2(self, rgb: np.ndarray, cands: np.ndarray) -> np.ndarray:
        prob, reg = self.rnet(crops(rgb, cands[:, :4], 24))
        score = prob[:, 1].numpy()
        keep = score > self.thresholds[1]
        boxes, score, reg = cands[keep, :4], score[keep], reg.numpy()[keep]
        kept = nms(boxes, score, 0.7)
        return np.column_stack([square(regress(boxes[kept], reg[kept])), score[kept]])

    def _stage3(self, rgb: np.ndarray, cands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prob, reg, marks = self.onet(crops(rgb, cands[:, :4], 48))
        score = prob[:, 1].numpy()
        keep = score > self.thresholds[2]
        boxes, score = cands[keep, :4], score[keep]
        marks = marks.numpy()[keep]
        bw, bh = boxes[:, 2:3] - boxes[:, 0:1], boxes[:, 3:4] - boxes[:, 1:2]
        points = np.stack(
            [boxes[:, 0:1] + bw * marks[:, :5], boxes[:, 1:2] + bh * marks[:, 5:]], -1
        )
        boxes = regress(boxes, reg.numpy()[keep])
        kept = nms(boxes, score, 0.7, mode="min")
        return np.column_stack([boxes[kept], score[kept]]), points[kept]

    def detect(self, image: np.ndarray) -> list[Face]:
        image = check_image(image)
        code = cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB
        rgb = cv2.cvtColor(image, code)
        with torch.inference_mode():
            cands = self._stage1(rgb)
            if len(cands):
                cands = self._stage2(rgb, cands)
            if not len(cands):
                return []
            rows, points = self._stage3(rgb, cands)
        faces = []
        for row, pts in zip(rows, points, strict=True):
            box = clip_box(row[:4], image.shape)
            if box is not None:
                faces.append(Face(box, float(row[4]), pts.astype(np.float32)))
        return sorted(faces, key=lambda f: -f.score)
