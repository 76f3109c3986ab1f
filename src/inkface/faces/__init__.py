"""Face detection behind one interface (:func:`get_detector`) and face cropping."""

from __future__ import annotations

from inkface.faces.detectors import DetectorInfo, FaceDetector, get_detector, list_detectors
from inkface.faces.types import Face, box_iou, crop_face, expand_box

__all__ = [
    "DetectorInfo",
    "Face",
    "FaceDetector",
    "box_iou",
    "crop_face",
    "expand_box",
    "get_detector",
    "list_detectors",
]
