"""Albumentations 2 presets of the three face papers, class balancing, and a preview grid.

* smile report §7.2.1: geometric augmentation **before** face detection (flip about the
  vertical axis, rotation within +-15 degrees, width / height shifts of 0.1, shear of
  0.1 "shear angle in the counterclockwise direction in degrees", zoom 0.1) and the
  rest **after** it (random brightness-contrast, hue-saturation-value shifts, Gaussian
  noise, motion and median blur, sharpening). The report gives no probabilities ("applied
  randomly with different probabilities") nor photometric magnitudes: those below are
  inkface's, chosen mild so the label is preserved, as the report asks.
* lightweight FER §III: training classes balanced "by performing data augmentation,
  including random rotation, noise, and random translation". The paper gives no
  magnitudes; rotation +-20 degrees and shifts of 0.08 are the FER+ reference code's
  (microsoft/FERPlus ``src/ferplus.py``: ``max_angle``, ``max_shift``).
* face-mask report: Keras ``ImageDataGenerator(rotation_range=30, zoom_range=0.2,
  width_shift_range=0.4, height_shift_range=0.4, shear_range=0.18,
  horizontal_flip=True, fill_mode="nearest")``. Keras draws every parameter on every
  image (p=1), zooms x and y independently by a factor in [0.8, 1.2] of the *sampling
  grid* (so the picture scales by 1/1.2 .. 1/0.8), and ``shear_range`` is an angle in
  degrees; ``fill_mode="nearest"`` is ``cv2.BORDER_REPLICATE``.

Images are RGB (or grey) uint8 arrays. A preset built with ``seed`` gives the same
sequence of outputs for the same sequence of inputs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import albumentations as A
import cv2
import numpy as np

from inkface.core.atomic import atomic_path
from inkface.core.errors import InkfaceError
from inkface.core.images import read_rgb

PRESETS = ("smile", "smile-before", "smile-after", "fer", "mask")


def _keras_zoom(zoom_range: float) -> dict[str, tuple[float, float]]:
    """Albumentations ``scale`` for Keras' ``zoom_range`` (x and y drawn independently)."""
    lo, hi = 1.0 / (1.0 + zoom_range), 1.0 / (1.0 - zoom_range)
    return {"x": (lo, hi), "y": (lo, hi)}


def _smile_before() -> list[A.BasicTransform]:
    return [
        A.HorizontalFlip(p=0.5),
        A.Affine(
            rotate=(-15, 15),
            translate_percent={"x": (-0.1, 0.1), "y": (-0.1, 0.1)},
            shear={"x": (-0.1, 0.1), "y": (0.0, 0.0)},
            scale=_keras_zoom(0.1),
            border_mode=cv2.BORDER_REPLICATE,
            p=0.75,
        ),
    ]


def _smile_after() -> list[A.BasicTransform]:
    return [
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
        A.HueSaturationValue(hue_shift_limit=10, sat_shift_limit=20, val_shift_limit=10, p=0.3),
        A.GaussNoise(std_range=(0.02, 0.06), p=0.25),
        A.OneOf(
            [A.MotionBlur(blur_limit=(3, 5), p=1.0), A.MedianBlur(blur_limit=(3, 5), p=1.0)],
            p=0.2,
        ),
        A.Sharpen(alpha=(0.1, 0.3), lightness=(0.9, 1.0), p=0.2),
    ]


def smile_preset(stage: str = "before_detection", seed: int | None = None) -> A.Compose:
    """The smile report's augmentation for ``stage`` ``before_detection`` (geometric,
    applied to full images) or ``after_detection`` (photometric and kernel, on crops)."""
    if stage == "before_detection":
        return A.Compose(_smile_before(), seed=seed)
    if stage == "after_detection":
        return A.Compose(_smile_after(), seed=seed)
    raise InkfaceError(f"stage: must be before_detection or after_detection, got {stage!r}")


def fer_preset(seed: int | None = None) -> A.Compose:
    """Random rotation, Gaussian noise and random translation (lightweight FER §III)."""
    return A.Compose(
        [
            A.Affine(
                rotate=(-20, 20),
                translate_percent={"x": (-0.08, 0.08), "y": (-0.08, 0.08)},
                border_mode=cv2.BORDER_REPLICATE,
                p=1.0,
            ),
            A.GaussNoise(std_range=(0.01, 0.05), p=0.5),
        ],
        seed=seed,
    )


def mask_preset(seed: int | None = None) -> A.Compose:
    """The face-mask report's Keras ImageDataGenerator settings (see the module docstring)."""
    return A.Compose(
        [
            A.Affine(
                rotate=(-30, 30),
                translate_percent={"x": (-0.4, 0.4), "y": (-0.4, 0.4)},
                shear={"x": (-0.18, 0.18), "y": (0.0, 0.0)},
                scale=_keras_zoom(0.2),
                border_mode=cv2.BORDER_REPLICATE,
                p=1.0,
            ),
            A.HorizontalFlip(p=0.5),
        ],
        seed=seed,
    )


def get_preset(name: str, seed: int | None = None) -> A.Compose:
    """A preset by name: ``smile`` (both stages in order), ``smile-before``,
    ``smile-after``, ``fer`` or ``mask``."""
    if name == "smile":
        return A.Compose([*_smile_before(), *_smile_after()], seed=seed)
    if name == "smile-before":
        return smile_preset("before_detection", seed)
    if name == "smile-after":
        return smile_preset("after_detection", seed)
    if name == "fer":
        return fer_preset(seed)
    if name == "mask":
        return mask_preset(seed)
    raise InkfaceError(f"preset: unknown {name!r}; choose one of {', '.join(PRESETS)}")


def _apply(transform: Callable[..., dict], image: np.ndarray) -> np.ndarray:
    out = transform(image=image)["image"]
    return out.reshape(image.shape) if out.size == image.size else out


def balance_classes(
    labels: np.ndarray,
    images: np.ndarray,
    rng: np.random.Generator,
    preset: str = "fer",
) -> tuple[np.ndarray, np.ndarray]:
    """Augment every class up to the largest class's count (lightweight FER §III).

    Returns (images, labels): the originals first, then for each class in order the
    augmented copies of randomly chosen (with replacement) members of that class.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or len(labels) != len(images):
        raise InkfaceError(f"labels {labels.shape} must be 1-D and match images {images.shape}")
    if len(labels) == 0:
        return np.asarray(images).copy(), labels.copy()
    classes, counts = np.unique(labels, return_counts=True)
    target = int(counts.max())
    transform = get_preset(preset, seed=int(rng.integers(2**31 - 1)))
    new_images, new_labels = [], []
    for label, count in zip(classes, counts, strict=True):
        members = np.flatnonzero(labels == label)
        for index in rng.choice(members, size=target - int(count), replace=True):
            new_images.append(_apply(transform, np.asarray(images[index])))
            new_labels.append(int(label))
    if not new_images:
        return np.asarray(images).copy(), labels.copy()
    return (
        np.concatenate([np.asarray(images), np.stack(new_images)]),
        np.concatenate([labels, np.array(new_labels, np.int64)]),
    )


def render_augmentation_grid(
    image: np.ndarray | str | os.PathLike[str],
    preset: str | Callable[..., dict],
    path: str | os.PathLike[str],
    n: int = 16,
    seed: int = 0,
) -> Path:
    """PNG grid of ``image`` and ``n`` augmentations of it (the smile report's
    Figure 7.1), written atomically; ``image`` is an RGB array or an image file."""
    # Local import: matplotlib is slow to import and only this preview needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if n < 1:
        raise InkfaceError(f"n: must be >= 1, got {n}")
    if not isinstance(image, np.ndarray):
        image = read_rgb(image)
    transform = get_preset(preset, seed=seed) if isinstance(preset, str) else preset
    tiles = [("original", image)] + [(f"#{k + 1}", _apply(transform, image)) for k in range(n)]
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    fig = Figure(figsize=(1.8 * cols, 1.9 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    for k, (title, tile) in enumerate(tiles):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(tile, cmap="gray" if tile.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    name = preset if isinstance(preset, str) else type(preset).__name__
    fig.suptitle(f"{name} augmentation (seed {seed})", fontsize=10)
    target = Path(path)
    with atomic_path(target, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    fig.clear()
    return target
