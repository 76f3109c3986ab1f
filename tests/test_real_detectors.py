"""Every face detector on its real weights (fetched from the package registries by
``tests/real_weights.py``): OpenCV's sample photo and video, pictures without faces,
synthetic scenes and masked faces, the TFLite runner against TensorFlow Lite's own
numbers, MTCNN's cascade, and ``auto``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from real_weights import ensure_dlib, megamind_frames, sample_image, weights_cache

from inkface.core.errors import InkfaceError
from inkface.faces.detection import blazeface, mtcnn
from inkface.faces.detection import detectors as detectors_module
from inkface.faces.detection.detectors import AUTO_ORDER, auto_detector_name, get_detector
from inkface.faces.detection.evaluate import MESSI_FACE, NO_FACE_IMAGES, score, synthetic_sets
from inkface.faces.detection.tflite import read_tflite
from inkface.faces.detection.tflite_torch import load_tflite_module
from inkface.faces.detection.weights import KNOWN_MODELS, model_status
from inkface.faces.types import box_iou

NETWORKS = ("mtcnn", "blazeface_full", "ssd", "hog")
# The main face of five Megamind.avi frames (the consensus of the detectors, by hand).
MEGAMIND_FACES = {
    45: (228, 172, 368, 326),
    90: (238, 150, 385, 315),
    135: (418, 165, 565, 335),
    180: (226, 145, 402, 340),
    225: (260, 100, 535, 405),
}


@pytest.fixture(scope="module")
def cache() -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        yield weights_cache(patch)


@pytest.fixture(scope="module")
def detectors(cache: Path) -> dict:
    ensure_dlib()
    torch.set_num_threads(1)
    names = ("haar", "lbp", "hog", "mtcnn", "blazeface", "blazeface_full", "ssd")
    return {name: get_detector(name) for name in names}


def test_every_registry_file_is_cached_and_matches_its_pin(cache: Path) -> None:
    for name in ("ssd", "mtcnn", "blazeface", "blazeface_full", "lbp"):
        status = model_status(name)
        assert status and all(path is not None for _, path in status), name
        assert all(path.parent == cache / "models" / name for _, path in status)
    for files in KNOWN_MODELS.values():
        for remote in files:
            assert remote.license and remote.url.startswith("https://")
            assert len(remote.sha256) == 64 and int(remote.sha256, 16) >= 0


# TensorFlow Lite's own outputs (ai-edge-litert 2.3.0) for the input
# 0.9 * sin(0.37 * k), k = 0 .. side*side*3 - 1, laid out NHWC.
TFLITE_REFERENCE = {
    "blazeface": (
        [[0.49144, -0.62319, 29.50054, 29.50027], [0.22921, -0.02383, 42.91060, 42.91040]],
        [-4.62013, -3.87498, -4.01371, -3.41368],
        538,
    ),
    "blazeface_full": (
        [[-4.60644, -1.16785, 5.80123, 5.78498], [-2.52193, -1.11015, 9.86809, 9.83792]],
        [-8.43042, -9.98399, -9.09641, -7.97386],
        840,
    ),
}


@pytest.mark.parametrize("name", ["blazeface", "blazeface_full"])
def test_tflite_runner_matches_tensorflow_lite(cache: Path, name: str) -> None:
    path = model_status(name)[0][1]
    side = blazeface.VARIANTS["short" if name == "blazeface" else "full"].side
    x = (0.9 * np.sin(np.arange(side * side * 3) * 0.37)).astype(np.float32)
    with torch.inference_mode():
        reg, cls = load_tflite_module(read_tflite(path))(
            torch.from_numpy(x).reshape(1, side, side, 3)
        )
    boxes, logits, best = TFLITE_REFERENCE[name]
    assert reg[0, :2, :4].numpy() == pytest.approx(np.array(boxes), abs=2e-3)
    assert cls[0, :4, 0].numpy() == pytest.approx(np.array(logits), abs=2e-3)
    assert int(cls.argmax()) == best
    assert len(blazeface.anchor_centres(blazeface.VARIANTS["short"])) == 896
    assert len(blazeface.anchor_centres(blazeface.VARIANTS["full"])) == 2304


@pytest.mark.parametrize("name", NETWORKS)
def test_networks_find_messi_and_nothing_in_faceless_pictures(detectors: dict, name: str) -> None:
    faces = detectors[name].detect(sample_image("messi5.jpg"))
    assert len(faces) == 1 and box_iou(faces[0].box, MESSI_FACE) >= 0.5, faces
    for picture in NO_FACE_IMAGES:
        assert detectors[name].detect(sample_image(picture)) == [], picture


def test_cascades_and_short_range_blazeface_on_messi(detectors: dict) -> None:
    """The issue's finding: at the paper's settings (Haar 1.3 / 6, LBP 1.1 / 3, BlazeFace
    short range) the 37-pixel face of messi5.jpg is missed; Haar finds it at 1.1 / 5."""
    image = sample_image("messi5.jpg")
    for name in ("haar", "lbp", "blazeface"):
        assert not any(box_iou(f.box, MESSI_FACE) >= 0.5 for f in detectors[name].detect(image))
    finer = get_detector("haar", scale_factor=1.1, min_neighbors=5).detect(image)
    assert any(box_iou(f.box, MESSI_FACE) >= 0.5 for f in finer)
    for name in ("haar", "lbp", "blazeface"):
        for picture in NO_FACE_IMAGES:
            assert detectors[name].detect(sample_image(picture)) == [], (name, picture)


@pytest.mark.slow
@pytest.mark.parametrize("name", [*NETWORKS, "blazeface"])
def test_megamind_frames(detectors: dict, name: str) -> None:
    frames = megamind_frames(tuple(MEGAMIND_FACES))
    for index, truth in MEGAMIND_FACES.items():
        faces = detectors[name].detect(frames[index])
        assert any(box_iou(f.box, truth) >= 0.4 for f in faces), (index, faces)


@pytest.fixture(scope="module")
def synthetic() -> list:
    return synthetic_sets(scenes=6, per_class=8, seed=3)


# Least recall on the synthetic sets (scenes, then each mask class), measured with margin.
MIN_RECALL = {
    "mtcnn": (0.9, 0.85),
    "blazeface_full": (0.8, 0.75),
    "ssd": (0.9, 0.9),
    "hog": (0.8, 0.5),
    "blazeface": (0.5, 0.85),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MIN_RECALL))
def test_synthetic_scenes_and_mask_classes(detectors: dict, synthetic: list, name: str) -> None:
    scenes, *classes = synthetic
    counts = score(detectors[name], scenes.images, scenes.truths)
    assert counts.recall >= MIN_RECALL[name][0] and counts.precision >= 0.9, counts
    for s in classes:
        counts = score(detectors[name], s.images, s.truths)
        assert counts.recall >= MIN_RECALL[name][1], (s.name, counts)


def test_mtcnn_cascade_details(detectors: dict) -> None:
    det = detectors["mtcnn"]
    assert (det.min_face_size, det.factor, det.thresholds) == (20.0, 0.709, (0.6, 0.7, 0.7))
    scales = mtcnn.pyramid_scales(342, 548, 20, 0.709)
    assert scales[0] == pytest.approx(0.6) and 342 * scales[-1] >= 12 > 342 * scales[-1] * 0.709
    face = det.detect(sample_image("messi5.jpg"))[0]
    assert face.score > 0.99 and face.landmarks.shape == (5, 2)
    x1, y1, x2, y2 = face.box
    eyes, nose, mouth = face.landmarks[:2], face.landmarks[2], face.landmarks[3:]
    assert ((face.landmarks >= (x1, y1)) & (face.landmarks <= (x2, y2))).all()
    assert eyes[0, 0] < eyes[1, 0] and eyes[:, 1].max() < nose[1] < mouth[:, 1].min()
    grey = sample_image("messi5.jpg")[..., 1].copy()
    assert any(box_iou(f.box, MESSI_FACE) >= 0.5 for f in det.detect(grey))
    with pytest.raises(InkfaceError, match="min_face_size"):
        get_detector("mtcnn", min_face_size=5)


def test_blazeface_keypoints_and_options(detectors: dict) -> None:
    face = detectors["blazeface_full"].detect(sample_image("messi5.jpg"))[0]
    assert face.landmarks.shape == (6, 2) and 0.6 <= face.score <= 1.0
    x1, y1, x2, y2 = face.box
    assert ((face.landmarks[:4] >= (x1, y1)) & (face.landmarks[:4] <= (x2, y2))).all()
    with pytest.raises(InkfaceError, match="variant"):
        blazeface.BlazeFaceDetector(variant="medium")


def test_explicit_weights_and_auto(
    cache: Path, detectors: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = cache / "models"
    image = sample_image("messi5.jpg")
    ssd = get_detector(
        "ssd",
        model_path=models / "ssd/res10_300x300_ssd_iter_140000.caffemodel",
        config_path=models / "ssd/deploy.prototxt",
        score_threshold=0.6,
    )
    assert ssd.score_threshold == 0.6 and len(ssd.detect(image)) == 1
    assert get_detector("mtcnn", model_path=models / "mtcnn").detect(image)
    full = models / "blazeface_full/face_detection_full_range_sparse.tflite"
    assert get_detector("blazeface_full", model_path=full).detect(image)
    with pytest.raises(InkfaceError, match="input"):  # short-range weights, full-range net
        get_detector(
            "blazeface_full", model_path=models / "blazeface/face_detection_short_range.tflite"
        )
    lbp = get_detector("lbp", model_path=models / "lbp/lbpcascade_frontalface_improved.xml")
    assert lbp.cascade_path.parent == models / "lbp"
    expected = next(n for n in AUTO_ORDER if n != "yunet" or model_status("yunet")[0][1])
    assert auto_detector_name() == expected and get_detector("auto").name == expected
    monkeypatch.setenv("INKFACE_CACHE_DIR", str(tmp_path))  # no weights: dlib's HOG
    assert auto_detector_name() == "hog"
    monkeypatch.setattr(detectors_module, "AUTO_ORDER", ("mtcnn",))  # nothing: Haar
    assert auto_detector_name() == "haar" and get_detector("auto").name == "haar"
    with pytest.raises(InkfaceError, match="takes no weights or options"):
        get_detector("auto", score_threshold=0.5)
