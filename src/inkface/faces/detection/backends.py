"""Weight-based face detectors: YuNet (OpenCV Zoo), res10 SSD (the face-mask report) and
MediaPipe's BlazeFace (the smile report's final choice, §7.1).

Weights come from an explicit ``model_path`` or from the download cache
(:mod:`inkface.faces.detection.weights`, ``inkface models fetch NAME``); a missing file raises an
InkfaceError that says how to get it. Output decoding is split into pure functions
(:func:`decode_ssd`, :func:`decode_yunet`) so it is testable without the weights.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from inkface.core.errors import InkfaceError
from inkface.faces.detection.weights import remote_files, resolve_weights, weights_status
from inkface.faces.types import Face, check_image, clip_box

SSD_MEAN = (104.0, 177.0, 123.0)  # BGR mean of the res10 SSD (face-mask report)
SSD_SIZE = (300, 300)


def _bgr(image: np.ndarray) -> np.ndarray:
    image = check_image(image)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


def decode_ssd(
    detections: np.ndarray, frame_shape: Sequence[int], threshold: float = 0.5
) -> list[Face]:
    """Faces from the SSD's (1, 1, N, 7) output rows ``[_, class, score, x1, y1, x2, y2]``
    (corners relative to the frame); rows with score <= ``threshold`` are dropped, as in
    the face-mask report (``confidence > 0.5``), boxes clipped, degenerate ones dropped."""
    h, w = int(frame_shape[0]), int(frame_shape[1])
    rows = np.asarray(detections, np.float64).reshape(-1, 7)
    faces = []
    for row in rows:
        score = float(row[2])
        if not np.isfinite(score) or score <= threshold:
            continue
        box = clip_box(row[3:7] * np.array([w, h, w, h]), frame_shape)
        if box is not None:
            faces.append(Face(box, score))
    return sorted(faces, key=lambda f: -f.score)


def decode_yunet(rows: np.ndarray | None, frame_shape: Sequence[int]) -> list[Face]:
    """Faces from ``FaceDetectorYN.detect``'s (N, 15) rows: x, y, w, h, five landmark
    (x, y) pairs (right eye, left eye, nose tip, right and left mouth corner), score."""
    if rows is None:
        return []
    faces = []
    for row in np.asarray(rows, np.float64).reshape(-1, 15):
        x, y, bw, bh = row[:4]
        box = clip_box((x, y, x + bw, y + bh), frame_shape)
        if box is not None:
            faces.append(Face(box, float(row[14]), row[4:14].reshape(5, 2).astype(np.float32)))
    return sorted(faces, key=lambda f: -f.score)


class SSDDetector:
    """OpenCV's res10 300x300 SSD (Caffe) as used by the face-mask report."""

    name = "ssd"

    def __init__(
        self,
        model_path: str | Path | None = None,
        config_path: str | Path | None = None,
        score_threshold: float = 0.5,
    ) -> None:
        files = remote_files("ssd")
        proto, weights = files[0].filename, files[1].filename
        self.model_path = resolve_weights("ssd", weights, model_path, "model_path")
        self.config_path = resolve_weights("ssd", proto, config_path, "config_path")
        try:
            self._net = cv2.dnn.readNetFromCaffe(str(self.config_path), str(self.model_path))
        except cv2.error as exc:
            raise InkfaceError(f"{self.model_path}: OpenCV cannot load this SSD ({exc})") from exc
        self.score_threshold = float(score_threshold)

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        return cv2.dnn.blobFromImage(cv2.resize(image, SSD_SIZE), 1.0, SSD_SIZE, SSD_MEAN)

    def forward(self, blob: np.ndarray) -> np.ndarray:
        self._net.setInput(blob)
        return self._net.forward()

    def postprocess(self, out: np.ndarray, shape: Sequence[int]) -> list[Face]:
        return decode_ssd(out, shape, self.score_threshold)

    def detect(self, image: np.ndarray) -> list[Face]:
        image = _bgr(image)
        return self.postprocess(self.forward(self.preprocess(image)), image.shape)


class YuNetDetector:
    """YuNet via ``cv2.FaceDetectorYN`` (input size set per frame), with 5 landmarks."""

    name = "yunet"

    def __init__(
        self,
        model_path: str | Path | None = None,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
    ) -> None:
        filename = remote_files("yunet")[0].filename
        self.model_path = resolve_weights("yunet", filename, model_path, "model_path")
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(self.model_path), "", (320, 320), score_threshold, nms_threshold, top_k
            )
        except cv2.error as exc:
            raise InkfaceError(f"{self.model_path}: OpenCV cannot load YuNet ({exc})") from exc

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        self._net.setInputSize((image.shape[1], image.shape[0]))
        return image

    def forward(self, image: np.ndarray) -> np.ndarray | None:
        return self._net.detect(image)[1]

    def postprocess(self, rows: np.ndarray | None, shape: Sequence[int]) -> list[Face]:
        return decode_yunet(rows, shape)

    def detect(self, image: np.ndarray) -> list[Face]:
        image = _bgr(image)
        return self.postprocess(self.forward(self.preprocess(image)), image.shape)


def blazeface_status() -> tuple[bool, str]:
    if importlib.util.find_spec("mediapipe") is None:
        return False, "optional: needs `pip install mediapipe` and `inkface models fetch blazeface`"
    return weights_status("blazeface")


class BlazeFaceDetector:
    """MediaPipe's BlazeFace short-range detector (Tasks API). Landmarks are its six
    keypoints (eyes, nose tip, mouth centre, ear tragions), so their shape is (6, 2)."""

    name = "blazeface"

    def __init__(self, model_path: str | Path | None = None, score_threshold: float = 0.5) -> None:
        try:  # optional dependency: MediaPipe
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:
            raise InkfaceError(
                "blazeface: MediaPipe is not installed; `pip install mediapipe` "
                "or use the 'haar' or 'yunet' detector"
            ) from exc
        filename = remote_files("blazeface")[0].filename
        self.model_path = resolve_weights("blazeface", filename, model_path, "model_path")
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            min_detection_confidence=float(score_threshold),
        )
        self._mp = mp
        self._net = vision.FaceDetector.create_from_options(options)

    def preprocess(self, image: np.ndarray):
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        return self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)

    def forward(self, frame):
        return self._net.detect(frame)

    def postprocess(self, result, shape: Sequence[int]) -> list[Face]:
        h, w = int(shape[0]), int(shape[1])
        faces = []
        for det in result.detections:
            bb = det.bounding_box
            box = clip_box(
                (bb.origin_x, bb.origin_y, bb.origin_x + bb.width, bb.origin_y + bb.height), shape
            )
            if box is None:
                continue
            score = float(det.categories[0].score) if det.categories else 1.0
            points = [(k.x * w, k.y * h) for k in det.keypoints or []]
            landmarks = np.asarray(points, np.float32).reshape(-1, 2) if points else None
            faces.append(Face(box, score, landmarks))
        return sorted(faces, key=lambda f: -f.score)

    def detect(self, image: np.ndarray) -> list[Face]:
        image = _bgr(image)
        return self.postprocess(self.forward(self.preprocess(image)), image.shape)
