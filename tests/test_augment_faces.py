"""Augmentation presets of the smile, FER and face-mask papers: parameters, shapes,
determinism under a seed, class balancing and the preview grid."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from inkface.cli.faces_prep import register_data_commands
from inkface.core.errors import InkfaceError
from inkface.faces.data.augment import (
    PRESETS,
    balance_classes,
    get_preset,
    mask_preset,
    render_augmentation_grid,
    smile_preset,
)


def _face(size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    cv2.circle(image, (size // 2, size // 2), size // 3, (220, 180, 150), -1)
    return image


@pytest.mark.parametrize("name", PRESETS)
def test_presets_keep_shape_and_are_seeded(name: str) -> None:
    image = _face()

    def run(seed: int) -> list[np.ndarray]:
        transform = get_preset(name, seed=seed)
        return [transform(image=image)["image"] for _ in range(5)]

    first, again, other = run(7), run(7), run(8)
    assert all(out.shape == image.shape and out.dtype == np.uint8 for out in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert any(not np.array_equal(out, image) for out in first)


def test_paper_parameters() -> None:
    affine = mask_preset().transforms[0]
    assert affine.rotate == (-30.0, 30.0) and affine.p == 1.0
    assert affine.translate_percent == {"x": (-0.4, 0.4), "y": (-0.4, 0.4)}
    assert affine.shear == {"x": (-0.18, 0.18), "y": (0.0, 0.0)}
    assert affine.scale["x"] == pytest.approx((1 / 1.2, 1 / 0.8))
    assert affine.border_mode == cv2.BORDER_REPLICATE
    flip, smile_affine = smile_preset("before_detection").transforms
    assert flip.p == 0.5 and smile_affine.rotate == (-15.0, 15.0)
    assert smile_affine.translate_percent == {"x": (-0.1, 0.1), "y": (-0.1, 0.1)}
    after = {type(t).__name__ for t in smile_preset("after_detection").transforms}
    assert {"RandomBrightnessContrast", "HueSaturationValue", "GaussNoise", "Sharpen"} <= after
    with pytest.raises(InkfaceError, match="stage"):
        smile_preset("during")
    with pytest.raises(InkfaceError, match="unknown 'cutmix'"):
        get_preset("cutmix")


def test_fer_preset_on_grey_48() -> None:
    grey = _face(48)[:, :, 0]
    out = get_preset("fer", seed=0)(image=grey)["image"]
    assert out.shape == (48, 48) and out.dtype == np.uint8


def test_balance_classes() -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, (9, 48, 48), dtype=np.uint8)
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 2, 0])
    out, out_labels = balance_classes(labels, images, np.random.default_rng(3))
    assert np.bincount(out_labels).tolist() == [6, 6, 6] and out.shape == (18, 48, 48)
    assert np.array_equal(out[:9], images) and np.array_equal(out_labels[:9], labels)
    for k in range(9, 18):
        assert not any(np.array_equal(out[k], src) for src in images)
    again, _ = balance_classes(labels, images, np.random.default_rng(3))
    assert np.array_equal(again, out)
    same, same_labels = balance_classes(np.array([0, 1]), images[:2], rng)
    assert np.array_equal(same, images[:2]) and same_labels.tolist() == [0, 1]
    with pytest.raises(InkfaceError, match="must be 1-D and match"):
        balance_classes(labels[:3], images, rng)


def test_augmentation_grid_png(tmp_path: Path) -> None:
    path = render_augmentation_grid(_face(), "smile", tmp_path / "grid.png", n=8, seed=0)
    grid = cv2.imread(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and grid.shape[0] > 200
    assert not list(tmp_path.glob(".grid.png.*"))
    with pytest.raises(InkfaceError, match="n: must be >= 1"):
        render_augmentation_grid(_face(), "mask", tmp_path / "none.png", n=0)


def test_cli_augment_grid(tmp_path: Path, capsys) -> None:
    image = tmp_path / "face.jpg"
    cv2.imwrite(str(image), _face())
    parser = argparse.ArgumentParser()
    register_data_commands(parser.add_subparsers(dest="command"))
    out = tmp_path / "g.png"
    args = parser.parse_args(
        ["augment-grid", "--preset", "mask", "--image", str(image), "--out", str(out), "--n", "4"]
    )
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["grid"] == str(out) and out.is_file()
