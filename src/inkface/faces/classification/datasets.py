"""Face crops for training: recipe datasets -> train / val / test crop sets and loaders.

Faces are detected and cropped once (:func:`inkface.faces.data.crops.load_face_crops`);
sets are kept as views on the memory-mapped crop caches (CelebA does not fit in memory)
plus, with ``balance``, the augmented copies that even out the classes (FER paper
§III-C). Training items are augmented on the fly with the recipe's Albumentations preset
(smile report §7.2.1, mask report), then optionally randomly cropped to the input size
(FER paper: 36x36 -> random 32x32), then normalised as the model expects.

Geometric smile augmentation is applied to the crops, not before detection as the report
does: detection runs once per image here, so the full ``smile`` preset runs after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from inkface.core.errors import DatasetError, InkfaceError
from inkface.faces.classification.classifier import normalize
from inkface.faces.classification.recipe import FaceDatasetConfig, FaceRecipe
from inkface.faces.data.augment import balance_classes, get_preset
from inkface.faces.data.crops import FaceCrops, load_face_crops
from inkface.faces.data.readers import assign_splits, load_face_dataset, smile_labels
from inkface.models import model_info


@dataclass
class CropSet:
    """Rows of one or more crop arrays (memmaps are not copied) plus in-memory extras."""

    parts: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.labels.size)

    def add(self, images: np.ndarray, rows: np.ndarray, labels: np.ndarray) -> None:
        self.parts.append((images, np.asarray(rows, np.int64)))
        self.labels = np.concatenate([self.labels, np.asarray(labels, np.int64)])

    def image(self, index: int) -> np.ndarray:
        for images, rows in self.parts:
            if index < rows.size:
                return np.asarray(images[rows[index]])
            index -= rows.size
        raise IndexError(index)

    def images(self) -> np.ndarray:
        """All images as one in-memory uint8 (N, H, W, 3) array."""
        chunks = [np.asarray(images[rows]) for images, rows in self.parts if rows.size]
        return np.concatenate(chunks) if chunks else np.zeros((0, 1, 1, 3), np.uint8)


@dataclass
class FaceData:
    """Everything a face run trains and tests on."""

    class_names: tuple[str, ...]
    train: CropSet
    val: CropSet
    tests: dict[str, CropSet]
    stored_size: tuple[int, int]
    input_size: tuple[int, int]
    normalization: str
    mean: list[float] | None
    summary: dict[str, Any]


def _cap(rows: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    if cap is None or rows.size <= cap:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, cap, replace=False))


def _crops(
    config: FaceDatasetConfig,
    recipe: FaceRecipe,
    size: tuple[int, int],
    cache_dir: Any,
    strict: bool,
    progress: bool,
) -> FaceCrops:
    if config.root is None:
        raise InkfaceError(
            f"recipe {recipe.name}: no root for dataset {config.name!r} (give --root "
            f"{config.name}=DIR)"
        )
    dataset = load_face_dataset(config.name, config.root, strict=strict, seed=recipe.data.seed)
    if config.smile_labels:
        dataset = smile_labels(dataset)
    if any(s.split is None for s in dataset.samples):
        dataset = assign_splits(dataset, recipe.data.fractions, recipe.data.seed)
    data = recipe.data
    return load_face_crops(
        dataset,
        size,
        detector=None if dataset.cropped else data.detector,
        margin=data.margin,
        square=data.square,
        cache_dir=cache_dir,
        strict=strict,
        progress=progress,
    )


def _classes(crops: FaceCrops, expected: tuple[str, ...] | None, name: str) -> tuple[str, ...]:
    names = tuple(crops.dataset.class_names)
    if expected is not None and names != expected:
        raise DatasetError(
            f"dataset {name}: classes {names} differ from the training classes {expected}"
        )
    return names


def prepare_face_data(
    recipe: FaceRecipe,
    cache_dir: str | Path | None = None,
    strict: bool = True,
    progress: bool = True,
) -> FaceData:
    """Crop every dataset of ``recipe`` once and assemble the train / val / test sets."""

    spec = model_info(recipe.model.name)
    input_size = tuple(recipe.model.input_size or spec.input_size)
    side = recipe.data.resize_to
    stored = (side, side) if side else input_size
    cap, seed = recipe.data.max_per_split, recipe.data.seed
    train, val = CropSet(), CropSet()
    classes: tuple[str, ...] | None = None
    counts: dict[str, Any] = {}
    for config in recipe.data.train:
        crops = _crops(config, recipe, stored, cache_dir, strict, progress)
        classes = _classes(crops, classes, config.name)
        for split, target in (("train", train), ("val", val)):
            rows = _cap(crops.split_indices(split), cap, seed)
            target.add(crops.images, rows, crops.labels[rows])
        counts[config.name] = {**crops.summary(), "splits": crops.dataset.splits}
    assert classes is not None
    tests: dict[str, CropSet] = {}
    for config in recipe.data.test or [
        d.model_copy(update={"split": "test"}) for d in recipe.data.train
    ]:
        crops = _crops(config, recipe, stored, cache_dir, strict, progress)
        _classes(crops, classes, config.name)
        rows = np.arange(len(crops)) if config.split == "all" else crops.split_indices("test")
        rows = _cap(rows, cap, seed)
        test = tests.setdefault(config.name, CropSet())
        test.add(crops.images, rows, crops.labels[rows])
        counts.setdefault(config.name, crops.summary())
    if len(train) == 0:
        raise DatasetError(f"recipe {recipe.name}: the training split is empty")
    if len(val) == 0:  # the mask report validates on its 20 % test split
        first = next(iter(tests.values()))
        val.parts, val.labels = list(first.parts), first.labels.copy()
    if recipe.data.balance:
        images, labels = balance_classes(
            train.labels, train.images(), np.random.default_rng(seed), preset="fer"
        )
        train = CropSet()
        train.add(images, np.arange(len(labels)), labels)
    normalization = recipe.model.normalization or spec.normalization
    mean = None
    if normalization == "dataset_mean":
        sample = train.images()[_cap(np.arange(len(train)), 20000, seed)]
        mean = (sample.reshape(-1, sample.shape[-1]).mean(axis=0) / 255.0).tolist()
    summary = {
        "datasets": counts,
        "train": len(train),
        "val": len(val),
        "test": {k: len(v) for k, v in tests.items()},
        "class_counts_train": np.bincount(train.labels, minlength=len(classes)).tolist(),
    }
    return FaceData(classes, train, val, tests, stored, input_size, normalization, mean, summary)


def center_crop(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    return image[top : top + h, left : left + w]


def fit_size(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` (H, W) unless it already has it."""
    if image.shape[:2] == tuple(size):
        return image
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


class FaceTensors(Dataset):
    """(normalised float CHW tensor, label) items of a crop set.

    ``train``: apply the augmentation preset and random crops; otherwise centre crops
    (or a plain resize) to the input size.
    """

    def __init__(
        self,
        crops: CropSet,
        input_size: Sequence[int],
        normalization: str,
        mean: Sequence[float] | None = None,
        augment: str | None = None,
        random_crop: bool = False,
        train: bool = False,
        seed: int = 0,
    ) -> None:
        self.crops = crops
        self.size = (int(input_size[0]), int(input_size[1]))
        self.normalization, self.mean = normalization, mean
        self.train, self.crop = train, random_crop
        self.transform = get_preset(augment, seed=seed) if (augment and train) else None
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.crops.image(index)
        if self.transform is not None:
            image = self.transform(image=np.ascontiguousarray(image))["image"]
        h, w = self.size
        if self.crop and image.shape[0] >= h and image.shape[1] >= w:
            if self.train:
                top = int(self.rng.integers(image.shape[0] - h + 1))
                left = int(self.rng.integers(image.shape[1] - w + 1))
                image = image[top : top + h, left : left + w]
            else:
                image = center_crop(image, self.size)
        image = fit_size(image, self.size)
        x = normalize(image[None], self.normalization, self.mean)[0]
        return torch.from_numpy(x), int(self.crops.labels[index])


class ArrayTensors(Dataset):
    """Source-domain images (N, 32, 32, 3): pad-4 or resize-36 random crops (FER §III-C)."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        mean: Sequence[float],
        crop: str | None = "pad",
        seed: int = 0,
    ) -> None:
        self.images, self.labels = images, np.asarray(labels, np.int64)
        self.mean, self.crop = list(mean), crop
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return int(self.labels.size)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = np.asarray(self.images[index])
        h, w = image.shape[:2]
        if self.crop == "pad":
            image = np.pad(image, ((4, 4), (4, 4), (0, 0)))
        elif self.crop == "resize":
            image = cv2.resize(image, (w + 4, h + 4), interpolation=cv2.INTER_AREA)
        if self.crop is not None:
            top, left = (int(v) for v in self.rng.integers(0, 9 if self.crop == "pad" else 5, 2))
            image = image[top : top + h, left : left + w]
        x = normalize(image[None], "dataset_mean", self.mean)[0]
        return torch.from_numpy(x), int(self.labels[index])
