"""Keras ``ImageDataGenerator``-style distortions for signature identification.

The identification paper (section III.A) grows each writer's 88 samples to about 2,000
by "rotating, stretching, zooming and skewing" with Keras' ImageDataGenerator, and tests
on "images with heavier distortions generated using ImageDataGenerator". The paper
gives no ranges; we use the usual Keras-tutorial values for training and roughly
1.5 times larger ones for the harder test set, both below.

Images are uint8 with ink = 255 on a 0 background (the cache's convention), so the
border fill is 0 (Keras' ``fill_mode="constant"``, ``cval=0`` after inversion).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AffineRanges:
    """Uniform ranges: rotation in degrees, shear in degrees, zoom and shift as fractions."""

    rotation: float = 10.0
    shear: float = 10.0
    zoom: float = 0.1
    stretch: float = 0.1  # independent x / y scaling ("stretching")
    shift: float = 0.1


TRAIN_RANGES = AffineRanges()
HARD_TEST_RANGES = AffineRanges(rotation=15.0, shear=15.0, zoom=0.15, stretch=0.15, shift=0.12)


def random_affine_matrix(
    shape: tuple[int, int], ranges: AffineRanges, rng: np.random.Generator
) -> np.ndarray:
    """A 2x3 matrix: rotation, shear, zoom/stretch about the centre, then a shift."""
    height, width = shape
    angle = np.deg2rad(rng.uniform(-ranges.rotation, ranges.rotation))
    shear = np.deg2rad(rng.uniform(-ranges.shear, ranges.shear))
    zoom = rng.uniform(1 - ranges.zoom, 1 + ranges.zoom)
    sx = zoom * rng.uniform(1 - ranges.stretch, 1 + ranges.stretch)
    sy = zoom * rng.uniform(1 - ranges.stretch, 1 + ranges.stretch)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shearing = np.array([[1.0, np.tan(shear)], [0.0, 1.0]])
    linear = rotation @ shearing @ np.diag([sx, sy])
    centre = np.array([width / 2.0, height / 2.0])
    shift = rng.uniform(-ranges.shift, ranges.shift, size=2) * np.array([width, height])
    offset = centre - linear @ centre + shift
    return np.hstack([linear, offset[:, None]]).astype(np.float32)


def distort(image: np.ndarray, ranges: AffineRanges, rng: np.random.Generator) -> np.ndarray:
    """One random distortion of a uint8 (H, W) image (ink bright on black)."""
    matrix = random_affine_matrix(image.shape[:2], ranges, rng)
    height, width = image.shape[:2]
    return cv2.warpAffine(
        image,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def distort_batch(images: np.ndarray, ranges: AffineRanges, seed: int) -> np.ndarray:
    """Distort every image of (N, H, W) with one seeded generator (deterministic)."""
    rng = np.random.default_rng(seed)
    return np.stack([distort(im, ranges, rng) for im in images]) if len(images) else images
