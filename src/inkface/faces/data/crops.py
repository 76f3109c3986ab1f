"""Detect every face once, crop and resize it, and keep the crops as a memory-mapped array.

The smile report detects faces before training (§7.2.1: geometric augmentation before
detection, the rest after; the test split is "only face detected"); doing it per epoch
would cost more than the training. :func:`load_face_crops` runs the detector once per
image, keeps the largest face, expands it by ``margin`` (optionally to a square), resizes
it to ``size`` and stores the result as one ``.npy`` (N, H, W, 3) uint8 **RGB** array (the
classifiers' input order, see :func:`inkface.faces.classification.classifier.prepare_crops`) plus a
JSON index. Faces whose box the dataset gives (AffectNet CSV, Pascal VOC) skip the
detector; FER pixel rows are already crops and are only resized.

Images where no face is found are counted and listed (``FaceCrops.no_face`` and the
index's ``excluded``), never silently dropped. Unreadable images raise
:class:`~inkface.core.errors.ImageError` naming the file, or with ``strict=False`` are listed
in ``FaceCrops.unreadable`` (the error policy of :mod:`inkface.core.cache`, which keeps the
array). The cache key hashes the sample list, every file's size and modification time, the
label files, the detector settings and the size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inkface.core.cache import Outcome, Skip, attempt, cache_key, load_or_build
from inkface.core.errors import InkfaceError
from inkface.core.images import read_rgb
from inkface.core.paths import resolve_cache_dir
from inkface.faces.data.samples import FaceDataset
from inkface.faces.detection.detectors import (  # heavy: only when needed
    auto_detector_name,
    get_detector,
)
from inkface.faces.types import expand_box

CACHE_FORMAT = 2
_CHUNK = 32  # images per worker task: one detector is made per task


@dataclass(frozen=True)
class FaceCrops:
    """Face crops of ``dataset``: row ``k`` is sample ``kept_indices[k]``.

    ``no_face`` and ``unreadable`` list (image, reason) for the samples left out.
    """

    dataset: FaceDataset
    images: np.ndarray
    kept_indices: np.ndarray
    no_face: list[tuple[str, str]]
    unreadable: list[tuple[str, str]]
    size: tuple[int, int]
    cache_file: Path | None
    cache_hit: bool = False

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def labels(self) -> np.ndarray:
        return self.dataset.labels[self.kept_indices]

    @property
    def splits(self) -> np.ndarray:
        """Split name per row (``"none"`` where the dataset gives none)."""
        names = [self.dataset.samples[i].split or "none" for i in self.kept_indices]
        return np.array(names, dtype="<U5")

    def split_indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.splits == split)

    def summary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.name,
            "samples": len(self.dataset),
            "crops": len(self),
            "size": list(self.size),
            "no_face": len(self.no_face),
            "unreadable": len(self.unreadable),
            "cache_file": str(self.cache_file) if self.cache_file else None,
            "cache_hit": self.cache_hit,
        }


@dataclass(frozen=True)
class _Settings:
    size: tuple[int, int]
    detector: str | None
    options: tuple[tuple[str, Any], ...]
    margin: float
    square: bool
    weights: str | None = None


def _cache_key(dataset: FaceDataset, settings: _Settings) -> str:
    files = [*dataset.sources, *(s.source for s in dataset.samples if isinstance(s.source, Path))]
    if settings.weights is not None:
        files.append(Path(settings.weights))  # retrained or replaced weights: new crops
    params = {
        "dataset": dataset.name,
        "cropped": dataset.cropped,
        "settings": [list(settings.size), settings.detector, list(settings.options)],
        **({"weights": settings.weights} if settings.weights is not None else {}),
        "margin": settings.margin,
        "square": settings.square,
        "samples": [[str(s.source), s.box] for s in dataset.samples],
    }
    return cache_key(files, params, CACHE_FORMAT)


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    shrink = image.shape[0] > h or image.shape[1] > w
    method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=method)


def _resize_chunk(size: tuple[int, int], pixels: list[np.ndarray]) -> list[Outcome]:
    """FER pixel rows are already face crops: only resized (and grey made RGB)."""
    rgb = (p if p.ndim == 3 else cv2.cvtColor(p, cv2.COLOR_GRAY2RGB) for p in pixels)
    return [_resize(image, size) for image in rgb]


def _crop_chunk(
    settings: _Settings, items: list[tuple[str, tuple[int, ...] | None]]
) -> list[Outcome]:
    """Worker: per (image path, given box or None), the resized crop of the largest face,
    or a :class:`Skip` (unreadable image; ``expected`` when no face is found)."""
    detector = None
    if settings.detector and any(box is None for _, box in items):
        detector = get_detector(settings.detector, settings.weights, **dict(settings.options))
    out: list[Outcome] = []
    last: tuple[str, Outcome] | None = None
    for path, box in items:
        image = last[1] if last and last[0] == path else attempt(read_rgb, path)
        last = (path, image)
        if isinstance(image, Skip):
            out.append(image)
            continue
        if box is None and detector is not None:
            faces = detector.detect(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            if not faces:
                out.append(Skip(f"no face found by {settings.detector}", expected=True))
                continue
            box = max(faces, key=lambda f: f.width * f.height).box
        if box is None:
            crop = image
        else:
            try:
                x1, y1, x2, y2 = expand_box(box, image.shape, settings.margin, settings.square)
            except ValueError:
                out.append(Skip(f"face box {tuple(box)} outside the image", expected=True))
                continue
            crop = image[y1:y2, x1:x2]
        out.append(_resize(crop, settings.size))
    return out


def load_face_crops(
    dataset: FaceDataset,
    size: int | tuple[int, int] = (128, 128),
    detector: str | None = "haar",
    margin: float = 0.2,
    square: bool = True,
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    strict: bool = True,
    progress: bool = True,
    detector_options: dict[str, Any] | None = None,
    detector_weights: str | Path | None = None,
) -> FaceCrops:
    """Face crops of every sample of ``dataset`` at ``size`` (H, W), from the cache or
    built once. ``detector=None`` uses whole images (or the given boxes) without
    detecting; ``auto`` is resolved here to the detector it stands for, so the cache
    key names the one that ran; ``detector_weights`` / ``detector_options`` go to
    :func:`~inkface.faces.detection.detectors.get_detector`. ``cache_dir=""`` keeps
    everything in memory and writes nothing."""
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if min(hw) < 1 or margin < 0:
        raise InkfaceError(f"size must be positive and margin >= 0, got {hw} and {margin}")
    if detector is None and (detector_weights is not None or detector_options):
        raise InkfaceError("detector weights / options: given without a detector")
    if detector == "auto":
        if detector_weights is not None or detector_options:
            raise InkfaceError("detector 'auto': takes no weights or options; name the detector")
        detector = auto_detector_name()
    options = tuple(sorted((detector_options or {}).items()))
    weights = None if detector_weights is None else str(detector_weights)
    settings = _Settings(hw, detector, options, float(margin), bool(square), weights)
    key = _cache_key(dataset, settings)
    folder = resolve_cache_dir(cache_dir)
    array_file = (
        None if folder is None else folder / f"faces-{dataset.name}-{hw[0]}x{hw[1]}-{key}.npy"
    )
    if dataset.cropped:  # resized in this process: cheaper than sending pixels to workers
        assert dataset.pixels is not None
        jobs: list[Any] = [dataset.pixels[int(s.source)] for s in dataset.samples]
        work, n_workers, desc = partial(_resize_chunk, hw), 1, "resizing"
    else:
        jobs = [(str(s.source), None if s.box is None else tuple(s.box)) for s in dataset.samples]
        work, desc = partial(_crop_chunk, settings), f"face crops {dataset.name}"
        n_workers = workers or min(2, os.cpu_count() or 1)  # each worker holds a detector
    meta = {
        "dataset": dataset.name,
        "root": str(dataset.root),
        "size": list(hw),
        "detector": detector,
        "detector_options": dict(options),
        **({"detector_weights": weights} if weights is not None else {}),
        "margin": margin,
        "square": square,
    }
    cached = load_or_build(
        array_file,
        key,
        (*hw, 3),
        [str(s.source) for s in dataset.samples],
        jobs,
        work,
        strict=strict,
        workers=n_workers,
        chunk_size=_CHUNK,
        meta=meta,
        progress=progress,
        desc=desc,
    )
    return FaceCrops(
        dataset,
        cached.array,
        cached.kept,
        cached.excluded,
        cached.failed,
        hw,
        cached.path,
        cache_hit=cached.hit,
    )
