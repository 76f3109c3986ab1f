"""The face datasets' common currency: :class:`FaceSample` (one face: an image path or a
row of in-memory pixels, a label, a split, and the face box where the dataset gives one)
and :class:`FaceDataset` (a dataset's samples with class names and what was skipped or
dropped), plus the train / val / test split names and :func:`assign_splits` for datasets
without an official split. Every reader in :mod:`inkface.faces.data` returns these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from inkface.core.errors import DatasetError

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
SPLIT_FOLDERS: dict[str, Split] = {"train": "train", "training": "train", "val": "val"}
SPLIT_FOLDERS |= {"valid": "val", "validation": "val", "test": "test", "testing": "test"}


@dataclass(frozen=True)
class FaceSample:
    """One face: ``source`` is an image path, or a row index into ``FaceDataset.pixels``;
    ``box`` (x1, y1, x2, y2) is the face where the dataset gives it (no detector needed)."""

    source: Path | int
    label: int
    split: Split | None = None
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class FaceDataset:
    """Faces of one dataset with class names, and what was skipped or dropped.

    ``cropped``: every image already is a face crop (FER pixels), so the cache only
    resizes. ``sources``: label files the samples were read from (part of the cache key).
    """

    name: str
    root: Path
    samples: tuple[FaceSample, ...]
    class_names: tuple[str, ...]
    pixels: np.ndarray | None = field(default=None, repr=False)
    cropped: bool = False
    sources: tuple[Path, ...] = ()
    skipped: tuple[str, ...] = ()
    dropped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.samples], dtype=np.int64)

    @property
    def splits(self) -> dict[str, int]:
        """Samples per split (``none`` for samples without one)."""
        counts = Counter(s.split or "none" for s in self.samples)
        return {k: counts[k] for k in (*SPLITS, "none") if counts[k]}

    def summary(self) -> dict[str, object]:
        """JSON-ready counts per class and split (``inkface data face-info``)."""
        per: dict[str, dict[str, int]] = {}
        for s in self.samples:
            row = per.setdefault(s.split or "none", dict.fromkeys(self.class_names, 0))
            row[self.class_names[s.label]] += 1
        return {
            "name": self.name,
            "root": str(self.root),
            "samples": len(self.samples),
            "classes": {
                c: int(n) for c, n in zip(self.class_names, self.class_counts(), strict=True)
            },
            "splits": self.splits,
            "per_split": per,
            "dropped": dict(self.dropped),
            "skipped": list(self.skipped),
        }

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.class_names))


def assign_splits(
    dataset: FaceDataset, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> FaceDataset:
    """Give samples without a split a stratified train / val / test split.

    Within every class the samples are shuffled with ``seed`` and cut at the cumulative
    ``fractions`` (rounded), so each split keeps the class balance. Used for GENKI-4K,
    which has no official split (80/10/10 by default), and for folder layouts.
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise DatasetError(
            f"split fractions must be 3 non-negative numbers summing to 1: {fractions}"
        )
    rng = np.random.default_rng(seed)
    splits: list[Split | None] = [s.split for s in dataset.samples]
    labels = dataset.labels
    open_rows = np.array([i for i, s in enumerate(splits) if s is None], dtype=np.int64)
    for label in np.unique(labels[open_rows]) if open_rows.size else []:
        rows = open_rows[labels[open_rows] == label]
        rows = rows[rng.permutation(rows.size)]
        cuts = np.round(np.cumsum(fractions)[:2] * rows.size).astype(int)
        for name, part in zip(SPLITS, np.split(rows, cuts), strict=True):
            for i in part:
                splits[int(i)] = name
    samples = tuple(replace(s, split=sp) for s, sp in zip(dataset.samples, splits, strict=True))
    return replace(dataset, samples=samples)
