"""The detect-once face-crop cache: no-face images counted and listed, given boxes used
without a detector, FER pixels only resized, cache hits without decoding, invalidation,
unreadable images, and the ``inkface data face-*`` commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from inkface.cli.faces_prep import register_data_commands
from inkface.core.errors import ImageError
from inkface.faces.data import crops as face_cache
from inkface.faces.data.crops import load_face_crops, read_rgb
from inkface.faces.data.fer import read_ferplus
from inkface.faces.data.readers import FaceDataset, FaceSample, read_genki4k
from inkface.faces.synth.generator import generate_faces


@pytest.fixture(scope="module")
def genki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("genki")
    generate_faces(root, "smile", 10, seed=4, size=96, workers=1, progress=False)
    cv2.imwrite(str(root / "files" / "file0003.jpg"), np.full((96, 96, 3), 120, np.uint8))
    return root


def test_no_face_images_are_counted_and_listed(genki: Path, tmp_path: Path) -> None:
    data = read_genki4k(genki)
    crops = load_face_crops(data, 64, cache_dir=tmp_path, workers=1, progress=False)
    no_face = [Path(p).name for p, _ in crops.no_face]
    assert "file0003.jpg" in no_face and all(r.startswith("no face") for _, r in crops.no_face)
    assert len(crops) + len(crops.no_face) == 10 and len(crops) >= 6
    assert 2 not in crops.kept_indices and crops.unreadable == []
    assert isinstance(crops.images, np.memmap) and crops.images.shape == (len(crops), 64, 64, 3)
    assert crops.images.dtype == np.uint8 and crops.images.std() > 10
    assert np.array_equal(crops.labels, data.labels[crops.kept_indices])
    index = json.loads(crops.cache_file.with_suffix(".json").read_text())
    assert index["rows"] == len(crops) and len(index["excluded"]) == len(crops.no_face)
    assert index["kept_indices"] == crops.kept_indices.tolist()


def test_second_load_is_a_cache_hit_without_decoding(
    genki: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = read_genki4k(genki)
    first = load_face_crops(data, 48, cache_dir=tmp_path, workers=1, progress=False)
    assert not first.cache_hit

    def refuse(*args: object) -> None:
        raise AssertionError("decoded on a cache hit")

    monkeypatch.setattr(face_cache, "read_rgb", refuse)
    monkeypatch.setattr(face_cache, "_crop_chunk", refuse)
    second = load_face_crops(data, 48, cache_dir=tmp_path, workers=1, progress=False)
    assert second.cache_hit and second.cache_file == first.cache_file
    assert np.array_equal(second.images, first.images) and second.no_face == first.no_face
    with pytest.raises(AssertionError, match="decoded"):  # other settings: a new cache
        load_face_crops(data, 48, margin=0.1, cache_dir=tmp_path, workers=1, progress=False)


def test_edited_image_invalidates_and_workers_agree(genki: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    generate_faces(root, "smile", 6, seed=4, size=96, workers=1, progress=False)
    data = read_genki4k(root)
    one = load_face_crops(data, 32, cache_dir=tmp_path / "c1", workers=1, progress=False)
    two = load_face_crops(data, 32, cache_dir=tmp_path / "c2", workers=2, progress=False)
    assert np.array_equal(one.images, two.images) and one.no_face == two.no_face
    cv2.imwrite(str(root / "files" / "file0001.jpg"), np.zeros((96, 96, 3), np.uint8))
    again = load_face_crops(read_genki4k(root), 32, cache_dir=tmp_path / "c1", progress=False)
    assert not again.cache_hit and 0 not in again.kept_indices
    assert len(list((tmp_path / "c1").glob("*.npy"))) == 2


def test_given_boxes_skip_the_detector(tmp_path: Path) -> None:
    image = np.zeros((40, 60, 3), np.uint8)
    image[5:25, 10:30] = (200, 30, 40)
    image[10:30, 35:55] = (20, 220, 90)
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), image[:, :, ::-1])  # RGB -> file
    samples = (
        FaceSample(path, 0, None, (10, 5, 30, 25)),
        FaceSample(path, 1, None, (35, 10, 55, 30)),
    )
    data = FaceDataset("boxes", tmp_path, samples, ("a", "b"))
    crops = load_face_crops(data, 16, detector="no-such-detector", margin=0.0, cache_dir="")
    assert crops.cache_file is None and not list(tmp_path.glob("*.npy"))
    assert crops.images.shape == (2, 16, 16, 3)
    assert np.all(crops.images[0] == (200, 30, 40)) and np.all(crops.images[1] == (20, 220, 90))


def test_fer_pixels_are_only_resized(tmp_path: Path) -> None:
    generate_faces(tmp_path, "expression", 8, seed=0, size=64, workers=1, progress=False)
    data = read_ferplus(tmp_path)
    crops = load_face_crops(data, 48, cache_dir=tmp_path / "cache", progress=False)
    assert len(crops) == 8 and crops.no_face == []
    assert np.array_equal(crops.images[3], np.repeat(data.pixels[3][:, :, None], 3, axis=2))
    assert list(crops.splits) == [s.split for s in data.samples]


def test_unreadable_images(genki: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    good = genki / "files" / "file0001.jpg"
    data = FaceDataset("mixed", tmp_path, (FaceSample(good, 0), FaceSample(bad, 1)), ("a", "b"))
    with pytest.raises(ImageError, match=r"bad\.jpg"):
        load_face_crops(data, 32, detector=None, cache_dir=tmp_path / "c", progress=False)
    assert not list((tmp_path / "c").glob("*.json"))
    with pytest.warns(UserWarning, match="skipping"):
        crops = load_face_crops(
            data, 32, detector=None, cache_dir=tmp_path / "c", strict=False, progress=False
        )
    assert len(crops) == 1 and [Path(p).name for p, _ in crops.unreadable] == ["bad.jpg"]
    with pytest.raises(ImageError, match="file not found"):
        read_rgb(tmp_path / "missing.png")


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register_data_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_face_info_and_crops(genki: Path, tmp_path: Path, capsys) -> None:
    args = _cli(["face-info", "--dataset", "genki", "--root", str(genki)])
    assert args.func(args) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["samples"] == 10 and info["classes"] == {"no_smile": 5, "smile": 5}
    argv = ["face-crops", "--dataset", "genki", "--root", str(genki), "--size", "32"]
    args = _cli([*argv, "--cache-dir", str(tmp_path), "--workers", "1"])
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["no_face"] >= 1 and report["crops"] + report["no_face"] == 10
    assert any(p.endswith("file0003.jpg") for p in report["no_face_examples"])
