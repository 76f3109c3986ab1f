"""Readers for CEDAR, BHSig260 and folder-per-writer layouts, including bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from layouts import write_bhsig, write_cedar, write_folder
from PIL import Image

from inkface.core.errors import DatasetError, ImageError
from inkface.core.images import read_grey
from inkface.signatures.data.readers import (
    load_signature_dataset,
    read_bhsig260,
    read_cedar,
    read_folder_per_writer,
)


def test_cedar_lists_writers_in_natural_order(tmp_path: Path) -> None:
    write_cedar(tmp_path, writers=11, genuine=3, forged=2)
    (tmp_path / "full_org" / "Thumbs.db").write_bytes(b"litter")  # shipped in real CEDAR
    ds = read_cedar(tmp_path)
    assert [w.writer_id for w in ds.writers][:3] == ["cedar/1", "cedar/2", "cedar/3"]
    assert ds.writers[-1].writer_id == "cedar/11"
    first = ds.writers[0]
    assert [p.name for p in first.genuine] == [f"original_1_{i}.png" for i in (1, 2, 3)]
    assert [p.name for p in first.forged] == ["forgeries_1_1.png", "forgeries_1_2.png"]
    assert ds.style == "cedar" and ds.n_images == 11 * 5


def test_cedar_missing_folder_names_it(tmp_path: Path) -> None:
    (tmp_path / "full_org").mkdir()
    with pytest.raises(DatasetError, match="full_forg"):
        read_cedar(tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        read_cedar(tmp_path / "nowhere")


def test_cedar_unexpected_name_error_or_skip(tmp_path: Path) -> None:
    write_cedar(tmp_path, writers=2, genuine=3, forged=1)
    stray = tmp_path / "full_org" / "scan 12.png"
    stray.write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"scan 12\.png: unexpected file name"):
        read_cedar(tmp_path)
    with pytest.warns(UserWarning, match="scan 12.png"):
        ds = read_cedar(tmp_path, strict=False)
    assert len(ds.writers) == 2 and len(ds.skipped) == 1


def test_cedar_writer_with_too_few_genuine(tmp_path: Path) -> None:
    write_cedar(tmp_path, writers=3, genuine=3, forged=1)
    for i in (2, 3):
        (tmp_path / "full_org" / f"original_2_{i}.png").unlink()
    with pytest.raises(DatasetError, match="writer cedar/2 has 1 genuine"):
        read_cedar(tmp_path)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ds = read_cedar(tmp_path, strict=False)
    assert [w.writer_id for w in ds.writers] == ["cedar/1", "cedar/3"]


def test_cedar_forgeries_without_genuine(tmp_path: Path) -> None:
    write_cedar(tmp_path, writers=2, genuine=2, forged=1)
    (tmp_path / "full_forg" / "forgeries_9_1.png").touch()
    with pytest.raises(DatasetError, match="writer 9 has forgeries but no genuine"):
        read_cedar(tmp_path)


def test_bhsig260_both_scripts(tmp_path: Path) -> None:
    write_bhsig(tmp_path, "Bengali", writers=2, genuine=3, forged=4)
    write_bhsig(tmp_path, "Hindi", writers=3, genuine=3, forged=2)
    ds = read_bhsig260(tmp_path)
    assert ds.name == "bhsig260" and ds.style == "binarised"
    assert [w.writer_id for w in ds.writers] == [
        "bengali/1",
        "bengali/2",
        "hindi/1",
        "hindi/2",
        "hindi/3",
    ]
    assert len(ds.writers[0].forged) == 4
    hindi = load_signature_dataset("hindi", tmp_path)
    assert hindi.name == "bhsig260-hindi" and len(hindi.writers) == 3


def test_bhsig260_wrong_writer_number_in_name(tmp_path: Path) -> None:
    write_bhsig(tmp_path, "Bengali", writers=2, genuine=3, forged=1)
    bad = tmp_path / "Bengali" / "1" / "B-S-7-G-04.tif"
    bad.write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"B-S-7-G-04\.tif: unexpected file name"):
        read_bhsig260(tmp_path)


def test_bhsig260_missing_script(tmp_path: Path) -> None:
    write_bhsig(tmp_path, "Bengali", writers=1, genuine=2, forged=1)
    with pytest.raises(DatasetError, match="no Hindi folder"):
        load_signature_dataset("hindi", tmp_path)


def test_folder_per_writer(tmp_path: Path) -> None:
    write_folder(tmp_path, {"alice": (3, 2), "bob": (4, 0)})
    (tmp_path / "alice" / "notes.txt").write_text("hi")
    with pytest.warns(UserWarning, match="notes.txt"):
        ds = read_folder_per_writer(tmp_path)
    assert [w.writer_id for w in ds.writers] == ["alice", "bob"]
    assert len(ds.writers[0].genuine) == 3 and len(ds.writers[0].forged) == 2
    assert len(ds.writers[1].forged) == 0


def test_folder_empty_writer(tmp_path: Path) -> None:
    write_folder(tmp_path, {"alice": (3, 0)})
    (tmp_path / "carol").mkdir()
    with pytest.raises(DatasetError, match="writer carol has 0 genuine"):
        read_folder_per_writer(tmp_path)


def test_unknown_dataset_name(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="choose from cedar"):
        load_signature_dataset("gpds", tmp_path)


# --- image decoding -------------------------------------------------------------------


def test_read_grey_modes(tmp_path: Path) -> None:
    rgb = np.zeros((5, 6, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert read_grey(tmp_path / "rgb.png").shape == (5, 6)
    Image.fromarray(np.zeros((4, 4), bool)).save(tmp_path / "bilevel.tif")
    assert read_grey(tmp_path / "bilevel.tif").dtype == np.uint8


@pytest.mark.parametrize(
    ("name", "maker", "message"),
    [
        ("p.tif", lambda: Image.new("P", (8, 8)), "palette image"),
        ("deep.tif", lambda: Image.fromarray(np.zeros((8, 8), np.uint16)), "16/32-bit"),
    ],
)
def test_read_grey_refuses_unsupported_modes(tmp_path: Path, name, maker, message) -> None:
    maker().save(tmp_path / name)
    with pytest.raises(ImageError, match=message) as info:
        read_grey(tmp_path / name)
    assert name in str(info.value)


def test_read_grey_truncated_and_garbage(tmp_path: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(
        tmp_path / "full.png"
    )
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    (tmp_path / "empty.png").touch()
    for name in ("cut.png", "junk.png", "empty.png", "absent.png"):
        with pytest.raises(ImageError, match=name):
            read_grey(tmp_path / name)
