"""Face dataset readers on tiny replicas of the published layouts: GENKI-4K, CelebA,
AffectNet (CSV and class folders), FER2013 / FER+ (majority vote and dropping rules),
face-mask folders and Pascal VOC, and the FER paper's source domains."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from inkface.core.errors import DatasetError, ImageError
from inkface.faces.data.fer import (
    FERPLUS_CLASSES,
    FERPLUS_COLUMNS,
    ferplus_majority,
    read_fer2013,
    read_ferplus,
)
from inkface.faces.data.masks import read_mask_folders, read_mask_voc
from inkface.faces.data.readers import (
    AFFECTNET_CLASSES,
    assign_splits,
    load_face_dataset,
    read_affectnet,
    read_celeba,
    read_genki4k,
    smile_labels,
)
from inkface.faces.data.source_domains import (
    read_casia_webface,
    read_cifar,
    read_cinic10,
    read_imagenet32,
)
from inkface.faces.synth.generator import EXPRESSIONS, generate_faces


def _jpg(path: Path, value: int = 128, size: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((size, size, 3), value, np.uint8))
    return path


@pytest.fixture(scope="module")
def smile_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("genki")
    generate_faces(root, "smile", 20, seed=1, size=64, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def expression_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fer")
    generate_faces(root, "expression", 24, seed=2, size=64, workers=1, progress=False)
    return root


# ---------------------------------------------------------------- GENKI-4K


def test_genki_labels_and_stratified_split(smile_root: Path) -> None:
    data = read_genki4k(smile_root, seed=0)
    smiles = [int(line.split()[0]) for line in (smile_root / "labels.txt").read_text().splitlines()]
    assert [s.label for s in data.samples] == smiles
    assert [s.source.name for s in data.samples] == [f"file{i:04d}.jpg" for i in range(1, 21)]
    assert data.splits == {"train": 16, "val": 2, "test": 2}
    per = data.summary()["per_split"]
    assert per["train"] == {"no_smile": 8, "smile": 8} and per["val"] == {
        "no_smile": 1,
        "smile": 1,
    }
    again = [s.split for s in read_genki4k(smile_root, seed=0).samples]
    other = [s.split for s in read_genki4k(smile_root, seed=5).samples]
    assert again == [s.split for s in data.samples] and other != again


def test_genki_bad_inputs(smile_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="files folder not found"):
        read_genki4k(tmp_path)
    root = tmp_path / "g"
    (root / "files").mkdir(parents=True)
    for i in (1, 2, 3):
        _jpg(root / "files" / f"file{i:04d}.jpg")
    (root / "labels.txt").write_text("1 0 0 0\n2 0.1 0 0\n0 0 0 0\n1 0 0 0\n")
    with pytest.raises(DatasetError, match=r"labels.txt:2: expected"):
        read_genki4k(root)
    with pytest.warns(UserWarning):
        data = read_genki4k(root, strict=False)
    assert len(data) == 2 and len(data.skipped) == 2
    assert "file0004.jpg" in data.skipped[1] and "labels.txt:4" in data.skipped[1]


# ---------------------------------------------------------------- CelebA

_ATTRS = [f"Attr{i}" for i in range(40)]
_ATTRS[31] = "Smiling"


def _celeba(root: Path, rows: list[str], count: int | None = None) -> Path:
    for i in range(1, 6):
        _jpg(root / "img_align_celeba" / f"{i:06d}.jpg")
    header = f"{len(rows) if count is None else count}\n{' '.join(_ATTRS)}\n"
    (root / "list_attr_celeba.txt").write_text(header + "\n".join(rows) + "\n")
    parts = "".join(f"{i:06d}.jpg {s}\n" for i, s in zip(range(1, 6), (0, 0, 1, 2, 0), strict=True))
    (root / "list_eval_partition.txt").write_text(parts)
    return root


def _celeba_row(i: int, smiling: int) -> str:
    values = ["-1"] * 40
    values[31] = str(smiling)
    return f"{i:06d}.jpg  " + "  ".join(values).replace("  1", "   1")


def test_celeba_smiling_and_official_split(tmp_path: Path) -> None:
    smiling = [1, -1, 1, -1, -1]
    root = _celeba(tmp_path, [_celeba_row(i, s) for i, s in zip(range(1, 6), smiling, strict=True)])
    data = read_celeba(root)
    assert [s.label for s in data.samples] == [1, 0, 1, 0, 0]
    assert [s.split for s in data.samples] == ["train", "train", "val", "test", "train"]
    assert data.class_names == ("no_smile", "smile")


def test_celeba_bad_inputs(tmp_path: Path) -> None:
    rows = [_celeba_row(i, 1) for i in range(1, 6)]
    with pytest.raises(DatasetError, match=r"list_attr_celeba.txt:1: says 7 images but lists 5"):
        read_celeba(_celeba(tmp_path / "a", rows, count=7))
    bad = [*rows[:2], "000003.jpg -1 1", *rows[3:]]
    with pytest.raises(DatasetError, match=r"list_attr_celeba.txt:5: expected a file name and 40"):
        read_celeba(_celeba(tmp_path / "b", bad))
    with pytest.warns(UserWarning):
        assert len(read_celeba(tmp_path / "b", strict=False)) == 4
    root = _celeba(tmp_path / "c", rows)
    text = (root / "list_attr_celeba.txt").read_text().replace("Smiling", "Grinning")
    (root / "list_attr_celeba.txt").write_text(text)
    with pytest.raises(DatasetError, match=r":2: attribute 'Smiling' missing"):
        read_celeba(root)
    (_celeba(tmp_path / "d", rows) / "list_attr_celeba.txt").unlink()
    with pytest.raises(DatasetError, match=r"list_attr_celeba\.txt not found"):
        read_celeba(tmp_path / "d")


# ---------------------------------------------------------------- AffectNet


def _affectnet(root: Path, train_rows: list[str], val_rows: list[str]) -> Path:
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    header = (
        "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,"
        "expression,valence,arousal\n"
    )
    (lists / "training.csv").write_text(header + "\n".join(train_rows) + "\n")
    (lists / "validation.csv").write_text(header + "\n".join(val_rows) + "\n")
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"):
        _jpg(root / "Manually_Annotated_Images" / "7" / name, size=40)
    return root


def _arow(name: str, expression: int, box: str = "2,3,20,30") -> str:
    return f"7/{name},{box},1.0;2.0;3.0;4.0,{expression},0.5,-0.2"


def test_affectnet_csv_boxes_and_dropped(tmp_path: Path) -> None:
    train = [_arow("a.jpg", 1), _arow("b.jpg", 8), _arow("c.jpg", 10), _arow("d.jpg", 7)]
    root = _affectnet(tmp_path, train, [_arow("e.jpg", 0), _arow("a.jpg", 9)])
    data = read_affectnet(root)
    assert [(s.source.name, s.label, s.split) for s in data.samples] == [
        ("a.jpg", 1, "train"),
        ("d.jpg", 7, "train"),
        ("e.jpg", 0, "val"),
    ]
    assert data.samples[0].box == (2, 3, 22, 33)
    assert data.dropped == {"none": 1, "no_face": 1, "uncertain": 1}
    smile = smile_labels(data)
    assert [s.label for s in smile.samples] == [1, 0, 0] and smile.class_names[1] == "smile"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("7/a.jpg,1,2,3", "expected 9 columns, got 4"),
        (_arow("a.jpg", 1, "x,3,20,30"), "must be numbers"),
        (_arow("a.jpg", 11), "expression 11 outside 0-10"),
        (_arow("zz.jpg", 1), "zz.jpg: image listed on training.csv:3 not found"),
    ],
)
def test_affectnet_bad_rows(tmp_path: Path, row: str, message: str) -> None:
    root = _affectnet(tmp_path, [_arow("b.jpg", 2), row], [])
    with pytest.raises(DatasetError, match=message):
        read_affectnet(root)
    with pytest.warns(UserWarning):
        data = read_affectnet(root, strict=False)
    assert len(data) == 1 and len(data.skipped) == 1


def test_affectnet_class_folders(expression_root: Path, tmp_path: Path) -> None:
    data = read_affectnet(expression_root)  # synthetic <class>/NNNN.jpg, FER+ class names
    assert data.class_names == AFFECTNET_CLASSES and len(data) == 24
    assert list(data.class_counts()) == [3] * 8 and data.splits == {"none": 24}
    for split in ("train", "val"):
        for i, name in enumerate(("happy", "1", "sad", "neutral", "anger", "fear", "disgust")):
            _jpg(tmp_path / split / name / f"{i}.jpg")
    _jpg(tmp_path / "train" / "contempt" / "x.jpg")
    with pytest.raises(DatasetError, match="no images for class"):
        read_affectnet(tmp_path)  # 'surprise' has none
    _jpg(tmp_path / "val" / "surprise" / "x.jpg")
    data = read_affectnet(tmp_path)
    assert data.splits == {"train": 8, "val": 8}
    assert data.summary()["per_split"]["train"]["happy"] == 2  # 'happy' and '1'
    (tmp_path / "val" / "cats").mkdir()
    with pytest.raises(DatasetError, match="cats: not a class folder"):
        read_affectnet(tmp_path)


# ---------------------------------------------------------------- FER2013 / FER+


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        ([4, 0, 0, 1, 3, 2, 0, 0, 0, 0], (None, "no_majority")),  # 4 of 9 after dropping the 1
        ([6, 0, 1, 1, 0, 0, 0, 0, 2, 0], (0, "")),  # 6 of 8
        ([0, 3, 0, 0, 0, 0, 0, 0, 0, 2], (1, "")),  # 3 > 2.5
        ([0, 0, 0, 0, 0, 0, 0, 5, 0, 5], (None, "no_majority")),  # a tie is not a majority
        ([0, 0, 0, 0, 0, 0, 0, 0, 7, 3], (None, "unknown")),
        ([0, 2, 0, 0, 0, 0, 0, 0, 0, 8], (None, "not_face")),
        ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], (None, "no_majority")),  # every vote is an outlier
        ([0, 0, 0, 0, 0, 0, 2, 1, 1, 1], (6, "")),  # the single votes do not count
    ],
)
def test_ferplus_majority_rules(votes: list[int], expected: tuple) -> None:
    assert ferplus_majority(votes) == expected


def test_fer_readers_on_synthetic_layout(expression_root: Path) -> None:
    fer = read_fer2013(expression_root)
    plus = read_ferplus(expression_root)
    assert fer.pixels.shape == (24, 48, 48) and fer.pixels.dtype == np.uint8 and fer.cropped
    first = (expression_root / "fer2013.csv").read_text().splitlines()[1].split(",")[1]
    assert np.array_equal(fer.pixels[0].ravel(), np.array(first.split(), dtype=np.uint8))
    assert [plus.class_names[s.label] for s in plus.samples] == [
        EXPRESSIONS[i % 8] for i in range(24)
    ]
    assert plus.class_names == FERPLUS_CLASSES and plus.dropped == {}
    assert plus.splits == fer.splits == {"train": 19, "val": 3, "test": 2}
    assert np.array_equal(plus.pixels, fer.pixels)


def _fer_csvs(root: Path, vote_rows: list[str], pixel_rows: list[str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    pixels = " ".join(["7"] * 2304)
    usages = ["Training", "Training", "PublicTest", "PrivateTest", "Training"][: len(vote_rows)]
    rows = pixel_rows or [f"3,{pixels},{u}" for u in usages]
    (root / "fer2013.csv").write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    new = [f"{u},{v}" for u, v in zip(usages, vote_rows, strict=True)]
    header = "Usage,Image name," + ",".join(FERPLUS_COLUMNS) + "\n"
    (root / "fer2013new.csv").write_text(header + "\n".join(new) + "\n")
    return root


def test_ferplus_drops_removed_unknown_and_not_face(tmp_path: Path) -> None:
    rows = [
        "fer0.png,0,8,0,0,0,0,0,0,2,0",
        ",10,0,0,0,0,0,0,0,0,0",
        "fer2.png,0,0,0,0,0,0,0,0,6,4",
        "fer3.png,0,0,3,0,0,0,0,0,0,7",
        "fer4.png,0,0,0,0,0,0,0,9,1,0",
    ]
    data = read_ferplus(_fer_csvs(tmp_path, rows))
    assert [(s.label, s.split) for s in data.samples] == [(1, "train"), (7, "train")]
    assert data.dropped == {"removed": 1, "unknown": 1, "not_face": 1}
    assert data.pixels.shape == (2, 48, 48) and int(data.pixels[1, 5, 5]) == 7


def test_fer_bad_rows(tmp_path: Path) -> None:
    good = "fer0.png,0,8,0,0,0,0,0,0,2,0"
    root = _fer_csvs(tmp_path / "a", [good, "fer1.png,0,x,0,0,0,0,0,0,2,0"])
    with pytest.raises(DatasetError, match=r"fer2013new.csv:3: votes must be non-negative"):
        read_ferplus(root)
    with pytest.warns(UserWarning):
        assert len(read_ferplus(root, strict=False)) == 1
    short = " ".join(["1"] * 2303)
    root = _fer_csvs(tmp_path / "b", [good, good], [f"0,{short},Training", "9,1,PublicTest"])
    with pytest.raises(DatasetError, match=r"fer2013.csv:2: pixels has 2303 values"):
        read_fer2013(root)
    with pytest.warns(UserWarning):
        data = read_fer2013(root, strict=False)
    assert len(data) == 0 and len(data.skipped) == 2
    minus = " ".join(["1"] * 2303 + ["-1"])
    root = _fer_csvs(tmp_path / "n", [good], [f"0,{minus},Training"])
    with pytest.raises(DatasetError, match=r"fer2013\.csv:2: pixels holds a value that is not"):
        read_fer2013(root)
    root = _fer_csvs(tmp_path / "c", [good, good, good])
    lines = (root / "fer2013new.csv").read_text().splitlines()
    (root / "fer2013new.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DatasetError, match=r"2 rows but fer2013\.csv has 3"):
        read_ferplus(root)
    with pytest.raises(DatasetError, match=r"fer2013new\.csv not found"):
        read_ferplus(tmp_path / "nowhere")


# ---------------------------------------------------------------- face masks


def test_mask_folders(tmp_path: Path) -> None:
    generate_faces(tmp_path / "three", "mask", 6, seed=0, size=64, workers=1, progress=False)
    data = read_mask_folders(tmp_path / "three")
    assert len(data.class_names) == 3 and list(data.class_counts()) == [2, 2, 2]
    for cls in ("with_mask", "without_mask"):
        _jpg(tmp_path / "two" / cls / "1.jpg")
    (tmp_path / "two" / "notes.txt").write_text("not an image")
    assert load_face_dataset("mask", tmp_path / "two").class_names == ("with_mask", "without_mask")


_VOC = """<annotation><folder>images</folder><filename>{name}</filename>
<size><width>60</width><height>40</height><depth>3</depth></size>
<object><name>with_mask</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>25</ymax></bndbox></object>
<object><name>{second}</name><bndbox><xmin>30</xmin><ymin>5</ymin><xmax>50</xmax><ymax>30</ymax></bndbox></object>
</annotation>"""


def test_mask_voc(tmp_path: Path) -> None:
    for stem, second in (
        ("maksssksksss0", "mask_weared_incorrect"),
        ("maksssksksss1", "without_mask"),
    ):
        (tmp_path / "images").mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / "images" / f"{stem}.png"), np.zeros((40, 60, 3), np.uint8))
        text = _VOC.format(name=f"{stem}.png", second=second)
        (tmp_path / "annotations").mkdir(exist_ok=True)
        (tmp_path / "annotations" / f"{stem}.xml").write_text(text)
    data = read_mask_voc(tmp_path)
    assert [(s.source.name, s.label, s.box) for s in data.samples] == [
        ("maksssksksss0.png", 0, (2, 3, 20, 25)),
        ("maksssksksss0.png", 2, (30, 5, 50, 30)),
        ("maksssksksss1.png", 0, (2, 3, 20, 25)),
        ("maksssksksss1.png", 1, (30, 5, 50, 30)),
    ]
    evil = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><annotation>&x;</annotation>'
    (tmp_path / "annotations" / "maksssksksss2.xml").write_text(evil)
    with pytest.raises(DatasetError, match=r"maksssksksss2\.xml: XML with a DTD"):
        read_mask_voc(tmp_path)
    (tmp_path / "annotations" / "maksssksksss2.xml").write_text(
        _VOC.format(name="maksssksksss1.png", second="scarf")
    )
    with pytest.raises(DatasetError, match="object 2 has class 'scarf'"):
        read_mask_voc(tmp_path)
    with pytest.warns(UserWarning):
        assert len(read_mask_voc(tmp_path, strict=False)) == 4


# ---------------------------------------------------------------- splits and names


def test_assign_splits_and_unknown_names(expression_root: Path) -> None:
    third = 1 / 3
    data = assign_splits(read_affectnet(expression_root), (third, third, third), seed=3)
    assert data.splits == {"train": 8, "val": 8, "test": 8}  # one of each class's three
    assert all(data.summary()["per_split"][s]["sad"] == 1 for s in ("train", "val", "test"))
    with pytest.raises(DatasetError, match="summing to 1"):
        assign_splits(data, (0.5, 0.5, 0.5))
    with pytest.raises(DatasetError, match="unknown face dataset 'lfw'"):
        load_face_dataset("lfw", expression_root)


# ---------------------------------------------------------------- source domains


def _pickle(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj))


def _planes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def test_cifar_pickles(tmp_path: Path) -> None:
    for i in range(1, 6):
        _pickle(tmp_path / f"data_batch_{i}", {b"data": _planes(2, i), b"labels": [i, 9]})
    _pickle(tmp_path / "test_batch", {b"data": _planes(3, 0), b"labels": [0, 1, 2]})
    _pickle(tmp_path / "batches.meta", {b"label_names": [f"c{i}".encode() for i in range(10)]})
    train = read_cifar(tmp_path, 10, "train")
    assert train.images.shape == (10, 32, 32, 3) and train.images.dtype == np.uint8
    assert list(train.labels) == [1, 9, 2, 9, 3, 9, 4, 9, 5, 9] and train.class_names[3] == "c3"
    raw = _planes(2, 1)[0]
    assert train.images[0, 0, 1, 0] == raw[1] and train.images[0, 0, 1, 1] == raw[1025]
    assert train.images[0, 1, 0, 2] == raw[2048 + 32]
    assert len(read_cifar(tmp_path, 10, "test")) == 3
    c100 = tmp_path / "c100"
    _pickle(c100 / "train", {b"data": _planes(4, 5), b"fine_labels": [0, 99, 5, 5]})
    assert list(read_cifar(c100, 100, "train").labels) == [0, 99, 5, 5]
    _pickle(c100 / "test", {b"data": _planes(4, 5)[:, :100], b"fine_labels": [0, 1, 2, 3]})
    with pytest.raises(DatasetError, match=r"c100/test: 'data' must be uint8 N x 3072"):
        read_cifar(c100, 100, "test")
    (c100 / "test").write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match="not a readable pickled batch"):
        read_cifar(c100, 100, "test")


def test_imagenet32_cinic_casia(tmp_path: Path) -> None:
    for i in (1, 2, 10):
        _pickle(
            tmp_path / "in32" / f"train_data_batch_{i}",
            {"data": _planes(2, i), "labels": [1, 1000]},
        )
    _pickle(tmp_path / "in32" / "val_data", {"data": _planes(1, 0), "labels": [0]})
    train = read_imagenet32(tmp_path / "in32")
    assert len(train) == 6 and list(train.labels[:2]) == [0, 999]
    with pytest.raises(DatasetError, match="labels below 1"):
        read_imagenet32(tmp_path / "in32", "val")
    for cls in ("cat", "dog"):
        _jpg(tmp_path / "cinic" / "train" / cls / "a.png", 50, size=32)
    cinic = read_cinic10(tmp_path / "cinic")
    assert cinic.images.shape == (2, 32, 32, 3) and list(cinic.labels) == [3, 5]
    for ident in ("0000045", "0000099", "0000100"):
        _jpg(tmp_path / "casia" / ident / "001.jpg", 90, size=64)
    casia = read_casia_webface(tmp_path / "casia", max_identities=2)
    assert casia.images.shape == (2, 32, 32, 3) and casia.class_names == ("0000045", "0000099")
    (tmp_path / "casia" / "0000045" / "002.jpg").write_bytes(b"broken")
    with pytest.raises(ImageError, match=r"002\.jpg"):
        read_casia_webface(tmp_path / "casia")
