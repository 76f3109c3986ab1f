"""The pinned weight files of the network face detectors, and where a detector finds them.

YuNet (OpenCV Zoo), the res10 SSD of the face-mask report and MediaPipe's BlazeFace (the
smile report's choice, §7.1) are third-party files: each is fetched once by
``inkface models fetch NAME`` through the SHA-256-checked downloader of
:mod:`inkface.core.download` into ``<cache>/models/NAME/``, or given as a path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from inkface.core import download
from inkface.core.download import RemoteFile
from inkface.core.errors import InkfaceError

# The hashes below are the published files' SHA-256 as recorded by several independent
# projects that pin the same URLs; they were not re-downloaded on the (offline) machine
# this was written on. A mismatch is refused, never silently accepted.
YUNET_2023MAR = RemoteFile(
    name="yunet",
    url=(
        "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
        "face_detection_yunet_2023mar.onnx"
    ),
    sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    filename="face_detection_yunet_2023mar.onnx",
    size=232_589,
    license="MIT (YuNet, Shiqi Yu; OpenCV Zoo)",
)
SSD_PROTOTXT = RemoteFile(
    name="ssd",
    url=(
        "https://raw.githubusercontent.com/opencv/opencv/4.11.0/samples/dnn/"
        "face_detector/deploy.prototxt"
    ),
    sha256="dcd661dc48fc9de0a341db1f666a2164ea63a67265c7f779bc12d6b3f2fa67e9",
    filename="deploy.prototxt",
    size=28_104,
    license="Apache-2.0 (OpenCV samples)",
)
SSD_CAFFEMODEL = RemoteFile(
    name="ssd",
    url=(
        "https://raw.githubusercontent.com/opencv/opencv_3rdparty/"
        "dnn_samples_face_detector_20170830/res10_300x300_ssd_iter_140000.caffemodel"
    ),
    sha256="2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d",
    filename="res10_300x300_ssd_iter_140000.caffemodel",
    size=10_666_211,
    license="OpenCV 3rdparty face detector (res10 SSD)",
)
BLAZEFACE_SHORT_RANGE = RemoteFile(
    name="blazeface",
    url=(
        "https://storage.googleapis.com/mediapipe-models/face_detector/"
        "blaze_face_short_range/float16/1/blaze_face_short_range.tflite"
    ),
    sha256="b4578f35940bf5a1a655214a1cce5cab13eba73c1297cd78e1a04c2380b0152f",
    filename="blaze_face_short_range.tflite",
    size=229_746,
    license="Apache-2.0 (Google MediaPipe)",
)

KNOWN_MODELS: Mapping[str, tuple[RemoteFile, ...]] = MappingProxyType(
    {
        "yunet": (YUNET_2023MAR,),
        "ssd": (SSD_PROTOTXT, SSD_CAFFEMODEL),
        "blazeface": (BLAZEFACE_SHORT_RANGE,),
    }
)


def remote_files(name: str) -> tuple[RemoteFile, ...]:
    """The pinned files of a known model; InkfaceError listing the names otherwise."""
    if name not in KNOWN_MODELS:
        raise InkfaceError(f"model: unknown {name!r}; choose one of {', '.join(KNOWN_MODELS)}")
    return KNOWN_MODELS[name]


def fetch_model(
    name: str, dest_dir: Path | None = None, timeout: float = 30, progress: bool = True
) -> list[Path]:
    """Fetch every pinned file of model ``name`` (``inkface models fetch``); their paths."""
    return [download.fetch(r, dest_dir, timeout, progress) for r in remote_files(name)]


def model_status(name: str) -> list[tuple[RemoteFile, Path | None]]:
    """Each pinned file of ``name`` with its cached path (``None`` when absent)."""
    return [(r, download.cached_path(name, r.filename)) for r in remote_files(name)]


def weights_status(name: str) -> tuple[bool, str]:
    """(available, note) for a model whose files live in the download cache."""
    missing = [r.filename for r, path in model_status(name) if path is None]
    if missing:
        return False, f"weights not cached; run `inkface models fetch {name}` or pass model_path"
    return True, f"weights cached in {download.cache_dir() / name}"


def resolve_weights(name: str, filename: str, given: str | Path | None, option: str) -> Path:
    """The weight file to load: ``given`` when set (must exist), else the cached copy."""
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise InkfaceError(f"{path}: {option} for {name!r} does not exist")
        return path
    cached = download.cached_path(name, filename)
    if cached is not None:
        return cached
    remote = next(r for r in remote_files(name) if r.filename == filename)
    raise InkfaceError(
        f"{name}: weights {filename} not found in {download.cache_dir() / name}; run "
        f"`inkface models fetch {name}` (downloads {remote.url}) or pass {option}=PATH"
    )
