"""Face detectors: the Haar default on real and synthetic faces, box helpers, the network
backends' output decoding, and helpful errors when weights or packages are missing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from inkface.core.errors import ImageError, InkfaceError
from inkface.faces.detection.backends import decode_ssd, decode_yunet
from inkface.faces.detection.detectors import (
    FaceDetector,
    detection_recall,
    get_detector,
    list_detectors,
)
from inkface.faces.synth.generator import render_single, rng_for
from inkface.faces.types import Face, box_iou, clip_box, crop_face, expand_box

MESSI = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")


def test_haar_finds_the_face_in_opencvs_sample_photo() -> None:
    image = cv2.imread(str(MESSI)) if MESSI.is_file() else None
    if image is None:
        pytest.skip("opencv-doc sample images not installed")
    # Messi's face is ~37 px wide in this 548x342 photo: too small for the 1.3 step.
    faces = get_detector("haar", scale_factor=1.1, min_neighbors=5).detect(image)
    assert any(box_iou(f.box, (227, 94, 264, 131)) > 0.5 for f in faces)
    assert all(f.score > 0 for f in faces)


def test_haar_defaults_and_synthetic_faces() -> None:
    detector = get_detector()
    assert isinstance(detector, FaceDetector) and detector.name == "haar"
    assert (detector.scale_factor, detector.min_neighbors) == (1.3, 6)
    faces = [render_single("smile", "0", rng_for(7, "smile", 0, i), 128) for i in range(12)]
    recall = detection_recall(detector, [f.image for f in faces], [[f.box] for f in faces])
    assert recall >= 0.5
    grey = cv2.cvtColor(faces[0].image, cv2.COLOR_BGR2GRAY)
    assert [f.box for f in detector.detect(grey)] == [
        f.box for f in detector.detect(faces[0].image)
    ]
    blank = np.full((120, 160, 3), 127, np.uint8)
    assert detector.detect(blank) == []


def test_detect_rejects_bad_images() -> None:
    detector = get_detector("haar")
    with pytest.raises(ImageError):
        detector.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ImageError):
        detector.detect(np.zeros((10, 10, 4), np.uint8))


def test_unknown_detector_and_option() -> None:
    with pytest.raises(InkfaceError, match=r"unknown 'dlib'.*haar"):
        get_detector("dlib")
    with pytest.raises(InkfaceError, match="bad option"):
        get_detector("haar", colour=True)
    with pytest.raises(InkfaceError, match="scale_factor"):
        get_detector("haar", scale_factor=1.0)


def test_list_detectors_reports_every_backend() -> None:
    infos = {i.name: i for i in list_detectors()}
    assert list(infos) == ["haar", "lbp", "yunet", "ssd", "blazeface"]
    assert infos["haar"].available and not infos["haar"].needs_weights
    assert infos["yunet"].needs_weights and infos["ssd"].needs_weights
    assert all(i.note for i in infos.values())


def test_lbp_is_either_usable_or_explains_itself() -> None:
    info = next(i for i in list_detectors() if i.name == "lbp")
    if info.available:
        assert get_detector("lbp").detect(np.zeros((64, 64), np.uint8)) == []
    else:
        with pytest.raises(InkfaceError, match="lbpcascade_frontalface"):
            get_detector("lbp")


@pytest.mark.parametrize("name", ["yunet", "ssd"])
def test_missing_weights_say_how_to_get_them(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INKFACE_CACHE_DIR", str(tmp_path))
    with pytest.raises(InkfaceError, match=f"inkface models fetch {name}.*https://.*model_path"):
        get_detector(name)
    with pytest.raises(InkfaceError, match=r"nope\.onnx"):
        get_detector(name, model_path=tmp_path / "nope.onnx")


def test_corrupt_weights_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a model")
    with pytest.raises(InkfaceError, match=r"junk\.bin"):
        get_detector("ssd", model_path=junk, config_path=junk)
    with pytest.raises(InkfaceError, match=r"junk\.bin"):
        get_detector("yunet", model_path=junk)


def test_blazeface_without_mediapipe_says_pip_install() -> None:
    if importlib.util.find_spec("mediapipe") is not None:
        pytest.skip("mediapipe is installed")
    info = next(i for i in list_detectors() if i.name == "blazeface")
    assert not info.available and "pip install mediapipe" in info.note
    with pytest.raises(InkfaceError, match="pip install mediapipe"):
        get_detector("blazeface")


def test_decode_ssd_threshold_clipping_and_order() -> None:
    rows = np.array(
        [
            [0, 1, 0.9, 0.1, 0.2, 0.5, 0.6],  # kept
            [0, 1, 0.5, 0.1, 0.1, 0.3, 0.3],  # at the threshold: dropped (> 0.5 kept)
            [0, 1, 0.95, -0.2, 0.5, 0.4, 1.3],  # clipped to the frame
            [0, 1, 0.8, 0.7, 0.7, 0.7, 0.9],  # zero width: dropped
            [0, 1, 0.99, 1.2, 1.2, 1.5, 1.5],  # outside: dropped
        ]
    ).reshape(1, 1, -1, 7)
    faces = decode_ssd(rows, (200, 300, 3), threshold=0.5)
    assert [f.box for f in faces] == [(0, 100, 120, 200), (30, 40, 150, 120)]
    assert [round(f.score, 2) for f in faces] == [0.95, 0.9]
    assert decode_ssd(np.zeros((1, 1, 0, 7)), (10, 10)) == []


def test_decode_yunet_rows_and_landmarks() -> None:
    row = np.array([10, 20, 30, 40, 18, 30, 32, 30, 25, 40, 19, 50, 31, 50, 0.92])
    edge = np.array([90, -5, 30, 30, *([0] * 10), 0.7])
    faces = decode_yunet(np.stack([edge, row]), (100, 100, 3))
    assert [f.box for f in faces] == [(10, 20, 40, 60), (90, 0, 100, 25)]
    assert faces[0].landmarks.shape == (5, 2) and faces[0].landmarks[2].tolist() == [25, 40]
    assert decode_yunet(None, (100, 100)) == []


def test_box_helpers() -> None:
    frame = (100, 200, 3)
    assert expand_box((50, 40, 70, 60), frame, margin=0.5) == (40, 30, 80, 70)
    assert expand_box((50, 40, 70, 80), frame, square=True) == (40, 40, 80, 80)
    assert expand_box((0, 0, 20, 20), frame, margin=0.5) == (0, 0, 30, 30)  # clipped
    assert clip_box((-5, -5, 0, 10), frame) is None
    with pytest.raises(ValueError):
        expand_box((10, 10, 20, 20), frame, margin=-0.1)
    image = np.arange(100 * 200 * 3, dtype=np.uint8).reshape(frame)
    crop = crop_face(image, Face((50, 40, 70, 60), 1.0), margin=0.5)
    assert crop.shape == (40, 40, 3)
    assert np.array_equal(crop, image[30:70, 40:80])
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_opencv_without_cascades_is_a_clear_error(monkeypatch) -> None:
    """OpenCV 5 ships no Haar cascades: say so instead of an AttributeError."""
    import cv2

    from inkface.core.errors import InkfaceError
    from inkface.faces.detection import detectors

    monkeypatch.delattr(cv2, "CascadeClassifier")
    with pytest.raises(InkfaceError, match="opencv-python-headless<5"):
        detectors.get_detector("haar")
