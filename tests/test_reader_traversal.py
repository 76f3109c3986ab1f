"""Names read from a dataset's index file (AffectNet CSV, CelebA attribute list, Pascal VOC
XML) must stay inside the dataset: ``..`` and absolute paths are refused, naming the
index file and the entry, and the file outside is never listed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inkface.core.errors import DatasetError
from inkface.core.paths import resolve_inside
from inkface.faces.data.masks import read_mask_voc
from inkface.faces.data.readers import read_affectnet, read_celeba
from inkface.signatures.data.readers import read_cedar


def _jpg(path: Path, size: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), 90, np.uint8)).save(path)
    return path


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    """An image outside every dataset root, which no index entry may reach."""
    return _jpg(tmp_path / "outside" / "secret.jpg")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a/b.jpg", "a/b.jpg"), ("./a//b.jpg", "a/b.jpg"), ("a/../b.jpg", "b.jpg")],
)
def test_resolve_inside_keeps_names_inside(tmp_path: Path, name: str, expected: str) -> None:
    assert resolve_inside(tmp_path, name, "index.csv:3") == tmp_path / expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../secret.jpg", "points outside"),
        ("a/../../secret.jpg", "points outside"),
        ("..\\secret.jpg", "points outside"),
        ("/etc/passwd", "absolute path"),
        ("C:/x.jpg", "absolute path"),
        ("", "not a valid file name"),
        ("a\0b.jpg", "not a valid file name"),
    ],
)
def test_resolve_inside_refuses_escapes(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message) as info:
        resolve_inside(tmp_path, name, "index.csv:3")
    assert str(info.value).startswith("index.csv:3: entry ")
    assert "\n" not in str(info.value)


def _affectnet(root: Path, rel: str) -> Path:
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    header = "subDirectory_filePath,x,y,w,h,landmarks,expression,valence,arousal\n"
    rows = ["7/a.jpg,2,3,10,10,1;2,1,0.5,0.1", f"{rel},2,3,10,10,1;2,3,0.5,0.1"]
    (lists / "training.csv").write_text(header + "\n".join(rows) + "\n")
    _jpg(root / "Manually_Annotated_Images" / "7" / "a.jpg")
    return root


@pytest.mark.parametrize("kind", ["dots", "absolute"])
def test_affectnet_entries_outside_the_root(tmp_path: Path, secret: Path, kind: str) -> None:
    images = tmp_path / "affectnet" / "Manually_Annotated_Images"
    rel = os.path.relpath(secret, images) if kind == "dots" else str(secret)
    root = _affectnet(tmp_path / "affectnet", rel)
    assert (images / rel).is_file()  # the old join would have read it
    with pytest.raises(DatasetError) as info:
        read_affectnet(root)
    message = str(info.value)
    assert "training.csv:3" in message and repr(rel) in message
    with pytest.warns(UserWarning, match="training.csv:3"):
        data = read_affectnet(root, strict=False)
    assert [s.source.name for s in data.samples] == ["a.jpg"] and len(data.skipped) == 1


def test_celeba_entry_outside_the_root(tmp_path: Path, secret: Path) -> None:
    root = tmp_path / "celeba"
    _jpg(root / "img_align_celeba" / "000001.jpg")
    rel = "../../outside/secret.jpg"
    assert (root / "img_align_celeba" / rel).is_file()
    names = [f"A{i}" for i in range(39)] + ["Smiling"]
    rows = [f"000001.jpg {' '.join(['1'] * 40)}", f"{rel} {' '.join(['-1'] * 40)}"]
    (root / "list_attr_celeba.txt").write_text(f"2\n{' '.join(names)}\n" + "\n".join(rows) + "\n")
    with pytest.raises(DatasetError, match=r"list_attr_celeba\.txt:4: entry '\.\./\.\./outside"):
        read_celeba(root)
    with pytest.warns(UserWarning):
        data = read_celeba(root, strict=False)
    assert [s.source.name for s in data.samples] == ["000001.jpg"]


def test_voc_filename_outside_the_images_folder(tmp_path: Path, secret: Path) -> None:
    root = tmp_path / "voc"
    (root / "annotations").mkdir(parents=True)
    _jpg(root / "images" / "ok.png")
    box = "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>"
    for name, filename in (("ok", "ok.png"), ("evil", "../../outside/secret.jpg")):
        xml = (
            f"<annotation><filename>{filename}</filename>"
            f"<object><name>with_mask</name>{box}</object></annotation>"
        )
        (root / "annotations" / f"{name}.xml").write_text(xml)
    with pytest.raises(DatasetError, match=r"evil\.xml <filename>: entry '\.\./\.\./outside"):
        read_mask_voc(root)
    with pytest.warns(UserWarning):
        data = read_mask_voc(root, strict=False)
    assert [s.source.name for s in data.samples] == ["ok.png"]


def test_signature_reader_does_not_open_a_fifo(tmp_path: Path) -> None:
    """Signature readers list folders (no index files); a FIFO named like a scan is
    refused as an unexpected file, by its type, without being opened."""
    root = tmp_path / "cedar"
    for sub in ("full_org", "full_forg"):
        (root / sub).mkdir(parents=True)
    for i in (1, 2):
        _jpg(root / "full_org" / f"original_1_{i}.png")
    os.mkfifo(root / "full_org" / "original_1_3.png")
    with pytest.raises(DatasetError, match=r"original_1_3\.png: unexpected file"):
        read_cedar(root)
