"""Face detectors run by OpenCV's DNN module or dlib: YuNet (OpenCV Zoo), the res10 SSD
(the face-mask report) and dlib's HOG (the smile report, Table 7.1). BlazeFace and MTCNN,
run in PyTorch, have their own modules (``blazeface.py``, ``mtcnn.py``).

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
from inkface.faces.detection.weights import remote_files, resolve_weights
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


class DlibHOGDetector:
    """dlib's HOG + linear SVM frontal face detector (smile report §5.5.2; Table 7.1's
    "Dlib HOG"), built into dlib (optional extra ``inkface[dlib]``, PyPI ``dlib-bin``).

    Its window is 80x80 pixels, so ``upsample=1`` (the usual ``detector(image, 1)``, and
    the setting that matches the report's 0.082 s per 350x350 frame) doubles the image
    once to find faces down to about 40 pixels. Scores are the SVM margins (above
    ``score_threshold``; not probabilities).
    """

    name = "hog"

    def __init__(self, upsample: int = 1, score_threshold: float = 0.0) -> None:
        try:  # optional dependency: dlib (inkface[dlib])
            import dlib
        except ImportError as exc:
            raise InkfaceError(
                "hog: dlib is not installed; `pip install 'inkface[dlib]'` (PyPI dlib-bin) "
                "or use another detector"
            ) from exc
        if upsample < 0:
            raise InkfaceError(f"upsample: must be >= 0, got {upsample}")
        self.upsample = int(upsample)
        self.score_threshold = float(score_threshold)
        self._net = dlib.get_frontal_face_detector()

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))

    def forward(self, rgb: np.ndarray):
        return self._net.run(rgb, self.upsample, self.score_threshold)

    def postprocess(self, raw, shape: Sequence[int]) -> list[Face]:
        rects, scores, _ = raw
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            # dlib rectangles are inclusive of right and bottom
            box = clip_box((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), shape)
            if box is not None:
                faces.append(Face(box, float(score)))
        return sorted(faces, key=lambda f: -f.score)

    def detect(self, image: np.ndarray) -> list[Face]:
        image = _bgr(image)
        return self.postprocess(self.forward(self.preprocess(image)), image.shape)


def hog_status() -> tuple[bool, str]:
    """Whether dlib (hence its built-in HOG detector) is importable."""
    if importlib.util.find_spec("dlib") is None:
        return False, "optional: needs dlib (`pip install 'inkface[dlib]'`, PyPI dlib-bin)"
    return True, "dlib HOG + linear SVM (built into dlib); upsample 1"
