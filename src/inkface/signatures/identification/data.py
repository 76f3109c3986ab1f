"""Closed-set identification data (identification paper, section III.A).

Folder-per-writer signatures, preprocessed once at 128 x 128 into the shared cache.
Each writer's samples are split 60/20/20 into train / validation / test (the same
writers everywhere: a closed set). As in the paper, training images are grown with
Keras-style distortions, drawn on the fly
(:mod:`inkface.signatures.identification.augmented`), and the test set is distorted
*more heavily* ("images with heavier distortions generated using ImageDataGenerator"),
with a fixed seed so every model sees the same test images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.signatures.data.augment import HARD_TEST_RANGES, distort_batch
from inkface.signatures.data.cache import load_preprocessed
from inkface.signatures.data.preprocess import INPUT_SIZES
from inkface.signatures.data.readers import load_signature_dataset


@dataclass(frozen=True)
class IdentificationData:
    """uint8 images (ink = 255) with writer labels, split per writer's samples."""

    images: np.ndarray
    labels: np.ndarray
    writer_names: tuple[str, ...]
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    hard_test_images: np.ndarray  # images[test], distorted with HARD_TEST_RANGES
    style: str

    @property
    def n_writers(self) -> int:
        return len(self.writer_names)


def split_samples(
    labels: np.ndarray, fractions: tuple[float, float, float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-writer 60/20/20 split of sample indices (every writer in every split)."""
    rng = np.random.default_rng(seed)
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for writer in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == writer))
        if len(idx) < 3:
            raise InkfaceError(f"writer {writer} has {len(idx)} samples; need at least 3")
        n_train = max(1, round(fractions[0] * len(idx)))
        n_val = max(1, round(fractions[1] * len(idx)))
        n_train = min(n_train, len(idx) - 2)
        parts[0].extend(idx[:n_train])
        parts[1].extend(idx[n_train : n_train + n_val])
        parts[2].extend(idx[n_train + n_val :])
    return tuple(np.sort(np.asarray(p, dtype=np.int64)) for p in parts)  # type: ignore[return-value]


def prepare_identification_data(
    root: str | Path,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    size: tuple[int, int] = INPUT_SIZES["identification"],
    cache_dir: str | Path | None = None,
    strict: bool = True,
    progress: bool = True,
) -> IdentificationData:
    """Read ``<root>/<writer>/*.png`` (genuine only), cache, split, distort the test set."""
    dataset = load_signature_dataset("folder", root, strict=strict)
    cached = load_preprocessed(dataset, size, cache_dir=cache_dir, strict=strict, progress=progress)
    labels, rows = [], []
    for k, (genuine, _) in enumerate(cached.writer_indices()):
        rows.extend(genuine.tolist())
        labels.extend([k] * len(genuine))
    images = np.asarray(cached.images[np.asarray(rows)])
    labels_arr = np.asarray(labels, dtype=np.int64)
    train, val, test = split_samples(labels_arr, fractions, seed)
    hard = distort_batch(images[test], HARD_TEST_RANGES, seed=seed + 1_000_003)
    names = tuple(w.writer_id for w in cached.dataset.writers)
    return IdentificationData(
        images, labels_arr, names, train, val, test, hard, cached.dataset.style
    )
