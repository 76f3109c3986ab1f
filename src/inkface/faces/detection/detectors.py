"""Face detectors behind one interface: ``get_detector(name).detect(image) -> list[Face]``.

The smile report (§5.5, §7.1, Table 7.1) compares Haar cascades, HOG, MTCNN, YOLO and
MediaPipe's BlazeFace, keeps BlazeFace for accuracy and notes that Haar (scale factor
1.3, min neighbours 6) is the fastest; the face-mask report detects faces with OpenCV's
res10 SSD at confidence 0.5. inkface offers all of them but YOLO (whose face weights no
package ships): the OpenCV cascades ``haar`` (embedded default) and ``lbp`` (Debian
``opencv-data``), dlib's ``hog`` (optional extra), ``mtcnn``, ``blazeface`` /
``blazeface_full`` (MediaPipe's short- and full-range models, run in PyTorch), ``ssd``
and ``yunet``. Each backend is a small class with ``preprocess`` / ``forward`` /
``postprocess`` (opencv_zoo style); weight files come from ``inkface models fetch`` or
``model_path``.

``auto`` picks the first detector of :data:`AUTO_ORDER` whose weights are present here,
and Haar when none is. The order is measured (``inkface bench detectors``, see
AUTO_ORDER's comment).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from inkface.core.errors import InkfaceError
from inkface.faces.detection import backends as nets
from inkface.faces.detection import weights
from inkface.faces.detection.blazeface import BlazeFaceDetector, blazeface_full
from inkface.faces.detection.matching import IOU_THRESHOLD, count_matches
from inkface.faces.detection.mtcnn import MTCNNDetector
from inkface.faces.types import Box, Face, check_image, clip_box


@runtime_checkable
class FaceDetector(Protocol):
    """Anything with a ``name`` and ``detect(image) -> list[Face]``.

    ``image`` is a BGR uint8 (H, W, 3) or grey (H, W) frame; boxes come back in its
    pixel coordinates, clipped to it, best score first.
    """

    name: str

    def detect(self, image: np.ndarray) -> list[Face]: ...


@dataclass(frozen=True)
class DetectorInfo:
    """A backend as :func:`list_detectors` reports it."""

    name: str
    needs_weights: bool
    available: bool
    note: str


NO_CASCADES = (
    "OpenCV {version} ships no cascade classifiers (OpenCV 5 dropped the Haar/LBP "
    "cascades): install opencv-python-headless<5 or choose another detector"
)


def haar_dir() -> Path:
    """The Haar cascade folder shipped inside OpenCV 4.x (``cv2.data.haarcascades``)."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not folder or not hasattr(cv2, "CascadeClassifier"):
        raise InkfaceError(NO_CASCADES.format(version=cv2.__version__))
    return Path(folder)


def _cascade_candidates() -> list[Path]:
    """Where an OpenCV install may keep its LBP face cascade."""
    try:
        haar = haar_dir()
    except InkfaceError:
        return []
    names = ("lbpcascade_frontalface_improved.xml", "lbpcascade_frontalface.xml")
    dirs = [
        haar,
        haar.parent / "lbpcascades",
        haar.parent.parent / "lbpcascades",
        Path("/usr/share/opencv4/lbpcascades"),
        Path("/usr/share/opencv/lbpcascades"),
        Path("/usr/local/share/opencv4/lbpcascades"),
    ]
    return [d / n for d in dirs for n in names]


def lbp_cascade_path() -> Path | None:
    """The LBP frontal-face cascade: the pinned copy from ``inkface models fetch lbp``,
    else the first one found near the installed OpenCV or in Debian's opencv-data."""
    fetched = weights.cached_file("lbp", weights.LBP_IMPROVED)
    if fetched is not None:
        return fetched
    return next((p for p in _cascade_candidates() if p.is_file()), None)


class CascadeDetector:
    """Viola-Jones cascade (Haar or LBP features) via ``cv2.CascadeClassifier``.

    Scores are the final-stage level weights of ``detectMultiScale3`` (larger is more
    certain; not a probability), or 1.0 where OpenCV reports none.
    """

    def __init__(
        self,
        name: str,
        cascade: Path,
        scale_factor: float = 1.3,
        min_neighbors: int = 6,
        min_size: int | tuple[int, int] = 0,
        equalize: bool = False,
    ) -> None:
        if scale_factor <= 1.0:
            raise InkfaceError(f"scale_factor: must be > 1, got {scale_factor}")
        if min_neighbors < 0:
            raise InkfaceError(f"min_neighbors: must be >= 0, got {min_neighbors}")
        if not hasattr(cv2, "CascadeClassifier"):
            raise InkfaceError(NO_CASCADES.format(version=cv2.__version__))
        self.name = name
        self.cascade_path = Path(cascade)
        self._cascade = cv2.CascadeClassifier(str(cascade))
        if self._cascade.empty():
            raise InkfaceError(f"{cascade}: OpenCV could not load this cascade file")
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        side = (min_size, min_size) if isinstance(min_size, int) else tuple(min_size)
        self.min_size = (int(side[0]), int(side[1]))
        self.equalize = equalize

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return cv2.equalizeHist(grey) if self.equalize else grey

    def forward(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rects, _, weights = self._cascade.detectMultiScale3(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=self.min_size,
            outputRejectLevels=True,
        )
        rects = np.asarray(rects, np.float64).reshape(-1, 4)
        weights = np.asarray(weights, np.float64).reshape(-1)
        if weights.size != rects.shape[0]:
            weights = np.ones(rects.shape[0])
        return rects, weights

    def postprocess(self, raw: tuple[np.ndarray, np.ndarray], shape: Sequence[int]) -> list[Face]:
        rects, weights = raw
        faces = []
        for (x, y, w, h), score in zip(rects, weights, strict=True):
            box = clip_box((x, y, x + w, y + h), shape)
            if box is not None:
                faces.append(Face(box, float(score)))
        return sorted(faces, key=lambda f: -f.score)

    def detect(self, image: np.ndarray) -> list[Face]:
        image = check_image(image)
        return self.postprocess(self.forward(self.preprocess(image)), image.shape)


def _haar(model_path: str | Path | None = None, **options: Any) -> FaceDetector:
    path = Path(model_path) if model_path else haar_dir() / "haarcascade_frontalface_default.xml"
    if not path.is_file():
        raise InkfaceError(f"{path}: model_path for 'haar' does not exist")
    return CascadeDetector("haar", path, **options)


def _lbp(model_path: str | Path | None = None, **options: Any) -> FaceDetector:
    path = Path(model_path) if model_path else lbp_cascade_path()
    if path is None:
        looked = ", ".join(sorted({str(p.parent) for p in _cascade_candidates()}))
        raise InkfaceError(
            "lbp: no lbpcascade_frontalface*.xml in the installed OpenCV "
            f"(looked in {looked}); pip wheels ship only Haar cascades: install Debian's "
            "opencv-data (`apt-get install opencv-data`) or run `inkface models fetch lbp`, "
            "or use 'haar'"
        )
    if not path.is_file():
        raise InkfaceError(f"{path}: model_path for 'lbp' does not exist")
    options.setdefault("scale_factor", 1.1)
    options.setdefault("min_neighbors", 3)
    return CascadeDetector("lbp", path, **options)


def _lbp_info() -> tuple[bool, str]:
    path = lbp_cascade_path()
    if path is None:
        return False, "LBP cascade not found: `apt-get install opencv-data` (Debian) or fetch it"
    return True, f"OpenCV LBP cascade {path}"


def _hog(model_path: str | Path | None = None, **options: Any) -> FaceDetector:
    if model_path is not None:
        raise InkfaceError("hog: dlib's HOG detector is built into dlib; it takes no model_path")
    return nets.DlibHOGDetector(**options)


Probe = Callable[[], tuple[bool, str]]
# name -> (factory, needs_weights, availability probe)
_BACKENDS: Mapping[str, tuple[Callable[..., FaceDetector], bool, Probe]] = MappingProxyType(
    {
        "haar": (_haar, False, lambda: (True, "OpenCV Haar cascade; scale 1.3, 6 neighbours")),
        "lbp": (_lbp, False, _lbp_info),
        "hog": (_hog, False, nets.hog_status),
        "mtcnn": (MTCNNDetector, True, lambda: weights.weights_status("mtcnn")),
        "blazeface": (BlazeFaceDetector, True, lambda: weights.weights_status("blazeface")),
        "blazeface_full": (blazeface_full, True, lambda: weights.weights_status("blazeface_full")),
        "ssd": (nets.SSDDetector, True, lambda: weights.weights_status("ssd")),
        "yunet": (nets.YuNetDetector, True, lambda: weights.weights_status("yunet")),
    }
)
# `auto`: best first, by `inkface bench detectors` on this project's synthetic scenes,
# OpenCV's sample photos and speed (README, "Face detectors"). YuNet and the res10 SSD
# find the most faces, masked ones included, at 100+ FPS; BlazeFace full range is the
# smile report's choice but misses half of the masked faces; MTCNN is accurate but
# ten times slower; Haar is the embedded fall-back.
AUTO_ORDER = ("yunet", "blazeface_full", "mtcnn", "ssd", "hog", "blazeface")


def list_detectors() -> list[DetectorInfo]:
    """Every backend, whether it can run here and what it needs if not."""
    out = []
    for name, (_, needs_weights, probe) in _BACKENDS.items():
        available, note = probe()
        out.append(DetectorInfo(name, needs_weights, available, note))
    return out


def detector_names() -> list[str]:
    """The names :func:`get_detector` accepts, ``auto`` last."""
    return [*_BACKENDS, "auto"]


def auto_detector_name() -> str:
    """The detector ``auto`` stands for here: the first of :data:`AUTO_ORDER` whose
    weights are present, else ``haar``."""
    for name in AUTO_ORDER:
        if _BACKENDS[name][2]()[0]:
            return name
    return "haar"


def get_detector(
    name: str = "haar", model_path: str | Path | None = None, **options: Any
) -> FaceDetector:
    """A ready detector. ``model_path`` is its weight file (a folder of ``pnet.pt``,
    ``rnet.pt``, ``onet.pt`` for ``mtcnn``; a cascade XML for ``haar`` / ``lbp``), else
    the ``inkface models fetch`` cache; ``options`` go to its constructor
    (``scale_factor``, ``min_neighbors``, ``min_size`` for cascades; ``score_threshold``...
    for networks). ``auto`` takes neither. Unknown names or options, and missing
    weights, raise InkfaceError."""
    if name == "auto":
        if model_path is not None or options:
            raise InkfaceError(
                "detector 'auto': takes no weights or options; name the detector to pass them"
            )
        name = auto_detector_name()
    if name not in _BACKENDS:
        raise InkfaceError(
            f"detector: unknown {name!r}; choose one of {', '.join(detector_names())}"
        )
    factory = _BACKENDS[name][0]
    if model_path is not None:
        options["model_path"] = model_path
    try:
        return factory(**options)
    except TypeError as exc:
        raise InkfaceError(f"detector {name!r}: bad option ({exc})") from exc


def parse_detector_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``--detector-option``) as constructor options: integers,
    floats, ``true``/``false``, comma lists of numbers (``thresholds=0.6,0.7,0.7``) and
    otherwise text. A malformed pair raises InkfaceError naming it."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise InkfaceError(f"detector option {pair!r}: expected KEY=VALUE")
        out[key] = _option_value(text.strip())
    return out


def _option_value(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if "," in text:
        return tuple(_option_value(t.strip()) for t in text.split(","))
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def detection_recall(
    detector: FaceDetector,
    images: Sequence[np.ndarray],
    boxes: Sequence[Sequence[Box]],
    iou: float = IOU_THRESHOLD,
) -> float:
    """Fraction of true faces found by ``detector`` at IoU >= ``iou``, matched by the
    PASCAL VOC / WIDER FACE rule of :mod:`inkface.faces.detection.matching`."""
    found = [detector.detect(image) for image in images]
    return count_matches(
        [[f.box for f in faces] for faces in found],
        boxes,
        [[f.score for f in faces] for faces in found],
        iou,
    ).recall
