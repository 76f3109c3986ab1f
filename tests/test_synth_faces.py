"""Synthetic faces: published layouts and label files, determinism, the Haar detector's
recall on them, and consistent multi-face scene and video ground truth."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from inkface.core.errors import InkfaceError
from inkface.faces.detection.detectors import detection_recall, get_detector
from inkface.faces.synth.generator import (
    EXPRESSIONS,
    FER2013_IDS,
    FERPLUS_COLUMNS,
    MASK_CLASSES,
    generate_faces,
    render_single,
    rng_for,
)


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_smile_genki_layout(tmp_path: Path) -> None:
    summary = generate_faces(tmp_path, "smile", 10, seed=2, size=96, workers=1, progress=False)
    names = [f"files/file{i:04d}.jpg" for i in range(1, 11)]
    assert _files(tmp_path) == {*names, "labels.txt", "boxes.json"}
    lines = (tmp_path / "labels.txt").read_text().splitlines()
    assert len(lines) == 10
    smiles = []
    for line in lines:
        smile, yaw, pitch, roll = line.split(" ")
        smiles.append(int(smile))
        assert float(yaw) == 0.0 and float(pitch) == 0.0 and abs(float(roll)) <= np.radians(15)
    assert set(smiles) == {0, 1} and summary.classes == {"no_smile": 5, "smile": 5}
    boxes = json.loads((tmp_path / "boxes.json").read_text())
    assert list(boxes) == names
    for name in names:
        image = cv2.imread(str(tmp_path / name))
        assert image.shape == (96, 96, 3)
        x1, y1, x2, y2 = boxes[name]
        assert 0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 96 and x2 - x1 > 30
    assert not any(p.name.startswith(".partial") for p in tmp_path.iterdir())


def test_expression_folders_and_fer_csvs(tmp_path: Path) -> None:
    n = 20
    generate_faces(tmp_path, "expression", n, seed=1, workers=1, progress=False)
    for label in EXPRESSIONS:
        assert len(list((tmp_path / label).glob("*.jpg"))) in (2, 3)
    with open(tmp_path / "fer2013.csv", newline="") as handle:
        old = list(csv.DictReader(handle))
    with open(tmp_path / "fer2013new.csv", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        new = list(reader)
    assert list(old[0]) == ["emotion", "pixels", "Usage"]
    assert header == ["Usage", "Image name", *FERPLUS_COLUMNS]
    assert len(old) == len(new) == n
    assert [r["Usage"] for r in old] == ["Training"] * 16 + ["PublicTest"] * 2 + ["PrivateTest"] * 2
    for i, (row, votes) in enumerate(zip(old, new, strict=True)):
        label = EXPRESSIONS[i % len(EXPRESSIONS)]  # classes are interleaved
        pixels = np.array(row["pixels"].split(" "), dtype=int)
        assert pixels.size == 48 * 48 and pixels.min() >= 0 and pixels.max() <= 255
        assert pixels.std() > 10  # a face, not a flat patch
        assert int(row["emotion"]) == FER2013_IDS[label]
        assert votes[0] == row["Usage"] and votes[1] == f"fer{i:07d}.png"
        counts = [int(v) for v in votes[2:]]
        assert sum(counts) == 10 and max(counts) >= 6
        assert FERPLUS_COLUMNS[int(np.argmax(counts))] == label


def test_mask_folders(tmp_path: Path) -> None:
    summary = generate_faces(tmp_path, "mask", 6, seed=0, workers=1, progress=False)
    assert summary.classes == dict.fromkeys(MASK_CLASSES, 2)
    for label in MASK_CLASSES:
        assert sorted(p.name for p in (tmp_path / label).iterdir()) == ["0001.jpg", "0002.jpg"]


def test_masks_cover_the_lower_face() -> None:
    """The mask changes the mouth region and leaves the eyes: same person and pose."""

    def mouth_and_eyes(label: str) -> tuple[np.ndarray, np.ndarray]:
        face = render_single("mask", label, rng_for(5, "mask", 0, 0), 128)
        x1, y1, x2, y2 = face.box
        h = y2 - y1
        grey = cv2.cvtColor(face.image, cv2.COLOR_BGR2GRAY).astype(float)
        return grey[y1 + int(0.75 * h) : y2, x1:x2], grey[y1 + h // 4 : y1 + h // 2, x1:x2]

    bare_mouth, bare_eyes = mouth_and_eyes("without_mask")
    masked_mouth, masked_eyes = mouth_and_eyes("with_mask")
    assert np.abs(bare_mouth - masked_mouth).mean() > 3 * np.abs(bare_eyes - masked_eyes).mean()


def test_deterministic_across_workers(tmp_path: Path) -> None:
    one = generate_faces(tmp_path / "a", "expression", 9, seed=4, workers=1, progress=False)
    two = generate_faces(tmp_path / "b", "expression", 9, seed=4, workers=2, progress=False)
    assert _digests(one.root) == _digests(two.root)
    other = generate_faces(tmp_path / "c", "expression", 9, seed=5, workers=1, progress=False)
    assert _digests(one.root) != _digests(other.root)


def test_refuses_existing_dataset_and_bad_options(tmp_path: Path) -> None:
    generate_faces(tmp_path, "mask", 3, workers=1, progress=False)
    with pytest.raises(InkfaceError, match="already holds a dataset"):
        generate_faces(tmp_path, "mask", 3, workers=1, progress=False)
    with pytest.raises(InkfaceError, match=r"boxes\.json: already exists"):
        generate_faces(tmp_path, "smile", 2, workers=1, progress=False)  # shares boxes.json
    assert not (tmp_path / "files").exists()
    with pytest.raises(InkfaceError, match="task"):
        generate_faces(tmp_path / "x", "age", 3, progress=False)
    with pytest.raises(InkfaceError, match="n: must be"):
        generate_faces(tmp_path / "x", "smile", 0, progress=False)
    with pytest.raises(InkfaceError, match="size"):
        generate_faces(tmp_path / "x", "smile", 2, size=20, progress=False)


def test_scenes_and_video_ground_truth(tmp_path: Path) -> None:
    summary = generate_faces(
        tmp_path, "mask", 20, seed=3, scenes=True, n_frames=12, workers=1, progress=False
    )
    scenes = tmp_path / "scenes"
    boxes = json.loads((scenes / "boxes.json").read_text())
    assert summary.scenes == len(boxes) == 4
    counts = []
    for name, faces in boxes.items():
        image = cv2.imread(str(scenes / name))
        h, w = image.shape[:2]
        assert (w, h) == (512, 384)
        counts.append(len(faces))
        for face in faces:
            x1, y1, x2, y2 = face["box"]
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h and face["label"] in MASK_CLASSES
    assert max(counts) <= 5
    video = json.loads((scenes / "video_boxes.json").read_text())
    assert summary.video == scenes / video["video"] and summary.video_codec == video["codec"]
    assert len(video["frames"]) == 12
    tracks = [{f["track"]: f for f in frame} for frame in video["frames"]]
    ids = set(tracks[0])
    assert 1 <= len(ids) <= 5 and all(set(t) == ids for t in tracks)
    for a, b in itertools.pairwise(tracks):
        for k in ids:
            assert a[k]["label"] == b[k]["label"]
            shift = np.abs(np.subtract(a[k]["box"], b[k]["box"])).max()
            assert shift < 0.1 * video["size"][0]  # smooth motion
            assert all(v >= 0 for v in b[k]["box"])
    capture = cv2.VideoCapture(str(summary.video))
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    assert frames == 12


@pytest.mark.parametrize("task,classes", [("smile", 2), ("expression", 8), ("mask", 3)])
def test_haar_finds_most_synthetic_faces(task: str, classes: int) -> None:
    from inkface.core.labels import TASK_CLASSES

    labels = TASK_CLASSES[task]
    faces = [
        render_single(task, labels[i % classes], rng_for(0, task, 0, i), 128) for i in range(40)
    ]
    recall = detection_recall(
        get_detector("haar"), [f.image for f in faces], [[f.box] for f in faces]
    )
    assert recall >= {"smile": 0.7, "expression": 0.6, "mask": 0.5}[task]
