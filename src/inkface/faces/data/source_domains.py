"""Source-domain datasets of the lightweight-FER paper's transfer learning (§III, Table II):
CIFAR-10, CIFAR-100, CINIC-10, ImageNet32 and CASIA-WebFace, as 32x32 RGB uint8 arrays.

CIFAR and ImageNet32 ship as Python pickles. **Unpickling runs code chosen by whoever
wrote the file**, so these readers must only be pointed at copies downloaded from the
datasets' official pages and kept on a trusted local disk; they never fetch anything.
Pickle rows are ``N x 3072`` uint8: 1,024 red, then green, then blue values, each plane
row-major 32x32; they become (N, 32, 32, 3) RGB.

The paper resizes non-CIFAR sources to 36x36 and crops 32x32 at training time; readers
of folder datasets (CINIC-10 is already 32x32; CASIA-WebFace is 250x250) resize to
``size`` with area interpolation so every source has one array shape.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inkface.core.errors import DatasetError, ImageError
from inkface.core.images import read_rgb
from inkface.faces.data.listing import image_files, problem, require_dir, require_file

CINIC_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
SOURCE_DOMAINS = ("cifar10", "cifar100", "cinic10", "imagenet32", "casia-webface")


@dataclass(frozen=True)
class SourceDomain:
    """Images (N, H, W, 3) RGB uint8, labels (N,) int64 from 0, class names, split."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    split: str
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _load_pickle(path: Path) -> dict:
    """Unpickle one dataset batch (trusted local file only; see the module docstring)."""
    require_file(path, "pickled batch")
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")  # trusted local file only
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DatasetError(f"{path}: not a readable pickled batch ({exc})") from None
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _planes_to_rgb(data: object, path: Path, side: int = 32) -> np.ndarray:
    array = np.asarray(data)
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != 3 * side * side:
        raise DatasetError(
            f"{path}: 'data' must be uint8 N x {3 * side * side}, got {array.dtype} {array.shape}"
        )
    return np.ascontiguousarray(array.reshape(-1, 3, side, side).transpose(0, 2, 3, 1))


def _labels(batch: dict, key: str, path: Path, n: int, offset: int = 0) -> np.ndarray:
    if key not in batch:
        raise DatasetError(f"{path}: missing {key!r}")
    labels = np.asarray(batch[key], dtype=np.int64).reshape(-1) - offset
    if labels.shape[0] != n:
        raise DatasetError(f"{path}: {labels.shape[0]} labels for {n} images")
    if labels.size and labels.min() < 0:
        raise DatasetError(f"{path}: labels below {offset}")
    return labels


def _names(meta_path: Path, key: str, count: int) -> tuple[str, ...]:
    if meta_path.is_file():
        meta = _load_pickle(meta_path)
        if key in meta:
            return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[key])
    return tuple(str(i) for i in range(count))


def read_cifar(root: str | Path, variant: int = 10, split: str = "train") -> SourceDomain:
    """CIFAR-10 (``data_batch_1..5`` / ``test_batch``, ``b'labels'``) or CIFAR-100
    (``train`` / ``test``, ``b'fine_labels'``), python version, from a trusted folder."""
    root = Path(root)
    require_dir(root, f"CIFAR-{variant}")
    if variant not in (10, 100) or split not in ("train", "test"):
        raise DatasetError("CIFAR: variant must be 10 or 100 and split train or test")
    if variant == 10:
        files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        key, meta, meta_key = "labels", root / "batches.meta", "label_names"
    else:
        files, key, meta, meta_key = [split], "fine_labels", root / "meta", "fine_label_names"
    images, labels = [], []
    for name in files:
        batch = _load_pickle(root / name)
        if "data" not in batch:
            raise DatasetError(f"{root / name}: missing 'data'")
        rgb = _planes_to_rgb(batch["data"], root / name)
        images.append(rgb)
        labels.append(_labels(batch, key, root / name, len(rgb)))
    all_labels = np.concatenate(labels)
    names = _names(meta, meta_key, max(variant, int(all_labels.max(initial=-1)) + 1))
    return SourceDomain(f"cifar{variant}", np.concatenate(images), all_labels, names, split)


def read_imagenet32(root: str | Path, split: str = "train") -> SourceDomain:
    """ImageNet32x32: ``train_data_batch_1..10`` / ``val_data`` with ``data`` (N x 3072)
    and 1-based ``labels`` (returned 0-based)."""
    root = Path(root)
    require_dir(root, "ImageNet32")
    if split == "train":
        files = sorted(root.glob("train_data_batch_*"), key=lambda p: int(p.name.rsplit("_", 1)[1]))
        if not files:
            raise DatasetError(f"{root}: no train_data_batch_* files (ImageNet32 layout)")
    elif split in ("val", "test"):
        files = [root / "val_data"]
    else:
        raise DatasetError(f"ImageNet32: split must be train or val, got {split!r}")
    images, labels = [], []
    for path in files:
        batch = _load_pickle(path)
        if "data" not in batch:
            raise DatasetError(f"{path}: missing 'data'")
        rgb = _planes_to_rgb(batch["data"], path)
        images.append(rgb)
        labels.append(_labels(batch, "labels", path, len(rgb), offset=1))
    all_labels = np.concatenate(labels)
    names = tuple(str(i) for i in range(max(1000, int(all_labels.max(initial=-1)) + 1)))
    return SourceDomain("imagenet32", np.concatenate(images), all_labels, names, split)


def _read_rgb_small(path: Path, size: int) -> np.ndarray:
    image = read_rgb(path)
    if image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def read_image_folders(
    root: str | Path,
    name: str,
    class_names: Sequence[str] | None = None,
    size: int = 32,
    split: str = "train",
    strict: bool = True,
    others: str = "problem",
) -> SourceDomain:
    """``<root>/<class>/*.png`` -> (N, size, size, 3); classes are ``class_names`` or the
    sorted folder names. Folders outside ``class_names`` are problems, or ignored with
    ``others="ignore"``; unreadable images follow the readers' strict / skip policy."""
    root = Path(root)
    require_dir(root, name)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = tuple(class_names) if class_names else tuple(p.name for p in folders)
    images, labels, skipped = [], [], []
    for folder in folders:
        if folder.name not in names:
            if others == "ignore":
                continue
            problem(f"{folder}: not a class folder of {name}", strict, skipped)
            continue
        for path in image_files(folder):
            try:
                images.append(_read_rgb_small(path, size))
            except ImageError as exc:
                if strict:
                    raise
                problem(str(exc), strict, skipped)
                continue
            labels.append(names.index(folder.name))
    if not images:
        raise DatasetError(f"{root}: no images found ({name} layout)")
    return SourceDomain(
        name, np.stack(images), np.array(labels, np.int64), names, split, tuple(skipped)
    )


def read_cinic10(root: str | Path, split: str = "train", strict: bool = True) -> SourceDomain:
    """CINIC-10: ``train|valid|test/<class>/*.png`` (32x32)."""
    if split not in ("train", "valid", "test"):
        raise DatasetError(f"CINIC-10: split must be train, valid or test, got {split!r}")
    return read_image_folders(Path(root) / split, "cinic10", CINIC_CLASSES, 32, split, strict)


def read_casia_webface(
    root: str | Path, size: int = 32, max_identities: int | None = None, strict: bool = True
) -> SourceDomain:
    """CASIA-WebFace: one folder per identity; each identity is a class. ``max_identities``
    keeps the first N identity folders (the full set has 10,575)."""
    root = Path(root)
    require_dir(root, "CASIA-WebFace")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = folders[:max_identities] if max_identities else folders
    if not names:
        raise DatasetError(f"{root}: no identity folders (CASIA-WebFace layout)")
    return read_image_folders(root, "casia-webface", names, size, "train", strict, "ignore")


def load_source_domain(
    name: str, root: str | Path, split: str = "train", strict: bool = True
) -> SourceDomain:
    """A source domain by name (see ``SOURCE_DOMAINS``)."""
    key = name.lower()
    if key in ("cifar10", "cifar100"):
        return read_cifar(root, int(key[5:]), split)
    if key == "cinic10":
        return read_cinic10(root, split, strict)
    if key == "imagenet32":
        return read_imagenet32(root, split)
    if key == "casia-webface":
        return read_casia_webface(root, strict=strict)
    raise DatasetError(f"unknown source domain {name!r} (choose from {', '.join(SOURCE_DOMAINS)})")
