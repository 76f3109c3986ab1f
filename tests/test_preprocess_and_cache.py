"""Section 4.1 preprocessing and the decode-once memory-mapped cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from layouts import write_bhsig, write_cedar
from PIL import Image

from inkface.core.errors import ImageError, InkfaceError
from inkface.signatures.data.cache import load_preprocessed
from inkface.signatures.data.preprocess import (
    INPUT_SIZES,
    cedar_clean,
    preprocess_signature,
    resolve_size,
)
from inkface.signatures.data.readers import read_bhsig260, read_cedar


def test_input_sizes_match_the_papers() -> None:
    assert INPUT_SIZES == {
        "signet": (155, 220),
        "mobilenetv2": (224, 224),
        "deepsign": (300, 360),
        "identification": (128, 128),
    }
    assert resolve_size("64x96") == (64, 96)
    with pytest.raises(InkfaceError, match="unknown input size"):
        resolve_size("huge")


def test_cedar_threshold_is_at_225() -> None:
    grey = np.array([[224, 225, 255, 0]] * 3, dtype=np.uint8)
    grey = np.repeat(np.repeat(grey, 5, axis=0), 5, axis=1)  # blocks survive the median
    clean = cedar_clean(grey)
    assert set(np.unique(clean)) <= {0, 255}
    assert clean[7, 2] == 0 and clean[7, 7] == 255 and clean[7, 12] == 255 and clean[7, 17] == 0


def test_cedar_median_removes_speckle() -> None:
    grey = np.full((30, 30), 250, dtype=np.uint8)
    grey[10, 10] = 0  # isolated noise pixel
    grey[15:25, 5:25] = 20  # a real stroke
    clean = cedar_clean(grey)
    assert clean[10, 10] == 255
    assert clean[20, 15] == 0


def test_preprocess_inverts_and_resizes() -> None:
    grey = np.full((50, 80), 255, dtype=np.uint8)
    grey[20:30, 10:70] = 0
    out = preprocess_signature(grey, "signet", "cedar")
    assert out.shape == (155, 220) and out.dtype == np.uint8
    assert out[0, 0] == 0  # background -> 0
    assert out[77, 110] == 255  # ink -> 255 (1 after scaling)
    binar = preprocess_signature(grey, (32, 40), "binarised")
    assert binar.shape == (32, 40) and binar[0, 0] == 0


def test_preprocess_rejects_wrong_dtype() -> None:
    with pytest.raises(InkfaceError, match="8-bit grey"):
        preprocess_signature(np.zeros((5, 5), np.float32), "signet")


def test_cache_builds_once_then_memory_maps(tmp_path: Path) -> None:
    root = write_cedar(tmp_path / "cedar", writers=3, genuine=3, forged=2)
    ds = read_cedar(root)
    first = load_preprocessed(ds, (32, 48), cache_dir=tmp_path / "cache", workers=1, progress=False)
    assert first.images.shape == (15, 32, 48)
    assert isinstance(first.images, np.memmap)
    expected = preprocess_signature(
        np.asarray(Image.open(ds.writers[1].forged[0]).convert("L")), (32, 48), "cedar"
    )
    genuine, forged = first.writer_indices()[1]
    assert genuine.tolist() == [5, 6, 7] and forged.tolist() == [8, 9]
    np.testing.assert_array_equal(first.images[8], expected)
    # A warm load decodes nothing: make every source unreadable and load again.
    mtimes = {p: p.stat().st_mtime_ns for p in ds.image_paths()}
    warm = load_preprocessed(ds, (32, 48), cache_dir=tmp_path / "cache", progress=False)
    assert warm.cache_file == first.cache_file
    # Editing one image (new mtime) invalidates the cache key.
    target = ds.writers[0].genuine[0]
    os.utime(target, ns=(mtimes[target] + 10**9, mtimes[target] + 10**9))
    rebuilt = load_preprocessed(
        ds, (32, 48), cache_dir=tmp_path / "cache", workers=1, progress=False
    )
    assert rebuilt.cache_file != first.cache_file


def test_cache_bad_image_strict_and_skip(tmp_path: Path) -> None:
    root = write_cedar(tmp_path / "cedar", writers=3, genuine=3, forged=1)
    bad = root / "full_org" / "original_2_2.png"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated
    ds = read_cedar(root)
    cache = tmp_path / "cache"
    with pytest.raises(ImageError, match=r"original_2_2\.png"):
        load_preprocessed(ds, (16, 16), cache_dir=cache, workers=1, progress=False)
    assert not cache.exists() or not list(cache.glob("*.npy"))  # nothing half-written
    with pytest.warns(UserWarning, match=r"original_2_2\.png"):
        kept = load_preprocessed(
            ds, (16, 16), cache_dir=cache, workers=1, strict=False, progress=False
        )
    assert len(kept) == 11
    assert [len(w.genuine) for w in kept.dataset.writers] == [3, 2, 3]
    again = load_preprocessed(ds, (16, 16), cache_dir=cache, strict=False, progress=False)
    assert [len(w.genuine) for w in again.dataset.writers] == [3, 2, 3]


def test_cache_parallel_matches_serial(tmp_path: Path) -> None:
    root = write_bhsig(tmp_path / "bh", "Bengali", writers=12, genuine=6, forged=6)
    ds = read_bhsig260(root)
    serial = load_preprocessed(ds, (24, 30), cache_dir="", workers=1, progress=False)
    parallel = load_preprocessed(ds, (24, 30), cache_dir="", workers=2, progress=False)
    np.testing.assert_array_equal(serial.images, parallel.images)
    assert serial.cache_file is None
