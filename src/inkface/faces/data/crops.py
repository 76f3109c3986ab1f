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
index's ``no_face``), never silently dropped. Unreadable images raise
:class:`~inkface.core.errors.ImageError` naming the file, or with ``strict=False`` are listed
in ``FaceCrops.unreadable``. The cache key hashes the sample list, every file's size and
modification time, the label files, the detector settings and the size, as
:mod:`inkface.signatures.data.cache` does; the array and then the index are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from inkface.core.atomic import atomic_path, write_json
from inkface.core.errors import ImageError, InkfaceError
from inkface.core.images import read_rgb
from inkface.core.parallel import process_pool
from inkface.core.paths import default_cache_dir
from inkface.faces.data.readers import FaceDataset, FaceSample
from inkface.faces.types import expand_box

CACHE_FORMAT = 1
_CHUNK = 32


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


def _describe(sample: FaceSample) -> str:
    return str(sample.source)


def _cache_key(dataset: FaceDataset, settings: _Settings) -> str:
    stats: dict[str, list[int]] = {}
    for path in (*dataset.sources, *(s.source for s in dataset.samples)):
        if isinstance(path, Path) and str(path) not in stats:
            try:
                st = path.stat()
                stats[str(path)] = [st.st_size, st.st_mtime_ns]
            except OSError:
                stats[str(path)] = [-1, -1]
    payload = {
        "format": CACHE_FORMAT,
        "dataset": dataset.name,
        "cropped": dataset.cropped,
        "settings": [list(settings.size), settings.detector, list(settings.options)],
        "margin": settings.margin,
        "square": settings.square,
        "samples": [[str(s.source), s.box] for s in dataset.samples],
        "files": stats,
    }
    return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()[:20]


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    shrink = image.shape[0] > h or image.shape[1] > w
    method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=method)


def _crop_chunk(
    job: tuple[list[tuple[int, str, tuple[int, ...] | None]], _Settings],
) -> list[tuple[int, np.ndarray | None, str, str]]:
    """(index, crop or None, kind ``ok`` / ``no_face`` / ``unreadable``, message) per item."""
    items, settings = job
    detector = None
    if settings.detector and any(box is None for _, _, box in items):
        from inkface.faces.detection.detectors import get_detector

        detector = get_detector(settings.detector, **dict(settings.options))
    out: list[tuple[int, np.ndarray | None, str, str]] = []
    last: tuple[str, np.ndarray] | None = None
    for index, path, box in items:
        try:
            image = last[1] if last and last[0] == path else read_rgb(path)
        except ImageError as exc:
            out.append((index, None, "unreadable", str(exc)))
            continue
        last = (path, image)
        if box is None and detector is not None:
            faces = detector.detect(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            if not faces:
                out.append((index, None, "no_face", f"no face found by {settings.detector}"))
                continue
            box = max(faces, key=lambda f: f.width * f.height).box
        if box is None:
            crop = image
        else:
            try:
                x1, y1, x2, y2 = expand_box(box, image.shape, settings.margin, settings.square)
            except ValueError:
                out.append((index, None, "no_face", f"face box {tuple(box)} outside the image"))
                continue
            crop = image[y1:y2, x1:x2]
        out.append((index, _resize(crop, settings.size), "ok", ""))
    return out


def _run(
    dataset: FaceDataset, settings: _Settings, workers: int | None, progress: bool
) -> Iterator[tuple[int, np.ndarray | None, str, str]]:
    """Crops in sample order; FER pixel rows are resized here, files go to the workers."""
    if dataset.cropped:
        assert dataset.pixels is not None
        for i, sample in enumerate(tqdm(dataset.samples, disable=not progress, desc="resizing")):
            pixels = dataset.pixels[int(sample.source)]
            rgb = pixels if pixels.ndim == 3 else cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
            yield i, _resize(rgb, settings.size), "ok", ""
        return
    items = [
        (i, str(s.source), None if s.box is None else tuple(s.box))
        for i, s in enumerate(dataset.samples)
    ]
    jobs = [(items[k : k + _CHUNK], settings) for k in range(0, len(items), _CHUNK)]
    n_workers = max(1, min(workers or min(2, os.cpu_count() or 1), len(jobs)))
    bar = tqdm(total=len(items), desc=f"face crops {dataset.name}", disable=not progress)
    with bar:
        if n_workers == 1:
            for job in jobs:
                yield from _crop_chunk(job)
                bar.update(len(job[0]))
            return
        with process_pool(n_workers) as pool:
            for done in pool.map(_crop_chunk, jobs):
                yield from done
                bar.update(len(done))


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
) -> FaceCrops:
    """Face crops of every sample of ``dataset`` at ``size`` (H, W), from the cache or
    built once. ``detector=None`` uses whole images (or the given boxes) without
    detecting; ``cache_dir=""`` keeps everything in memory and writes nothing."""
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if min(hw) < 1 or margin < 0:
        raise InkfaceError(f"size must be positive and margin >= 0, got {hw} and {margin}")
    options = tuple(sorted((detector_options or {}).items()))
    settings = _Settings(hw, detector, options, float(margin), bool(square))
    memory_only = cache_dir == ""
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir)
    stem = f"faces-{dataset.name}-{hw[0]}x{hw[1]}-{_cache_key(dataset, settings)}"
    array_file, index_file = folder / f"{stem}.npy", folder / f"{stem}.json"
    if not memory_only and array_file.is_file() and index_file.is_file():
        index = json.loads(index_file.read_text(encoding="utf-8"))
        images = np.load(array_file, mmap_mode="r")
        kept = np.asarray(index["kept_indices"], dtype=np.int64)
        if images.shape[0] == kept.size:
            pairs = [[tuple(p) for p in index[k]] for k in ("no_face", "unreadable")]
            return FaceCrops(dataset, images, kept, *pairs, hw, array_file, cache_hit=True)
    n = len(dataset)
    shape = (n, *hw, 3)
    if memory_only:
        images = np.zeros(shape, np.uint8)
        kept, no_face, unreadable = _fill(images, dataset, settings, workers, strict, progress)
        return FaceCrops(dataset, images[: len(kept)], kept, no_face, unreadable, hw, None)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(array_file, suffix=".npy") as tmp:
        full = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        kept, no_face, unreadable = _fill(full, dataset, settings, workers, strict, progress)
        full.flush()
        if len(kept) < n:  # drop the unused tail rows: rewrite with the right header
            with atomic_path(tmp, suffix=".npy") as compact:
                out = np.lib.format.open_memmap(compact, "w+", np.uint8, (len(kept), *hw, 3))
                for k in range(0, len(kept), 4096):
                    stop = min(k + 4096, len(kept))
                    out[k:stop] = full[k:stop]
                out.flush()
                del out
        del full
    write_json(
        index_file,
        {
            "format": CACHE_FORMAT,
            "dataset": dataset.name,
            "root": str(dataset.root),
            "size": list(hw),
            "detector": detector,
            "detector_options": dict(options),
            "margin": margin,
            "square": square,
            "samples": n,
            "crops": len(kept),
            "kept_indices": kept.tolist(),
            "no_face": [list(p) for p in no_face],
            "unreadable": [list(p) for p in unreadable],
        },
    )
    images = np.load(array_file, mmap_mode="r")
    return FaceCrops(dataset, images, kept, no_face, unreadable, hw, array_file)


def _fill(
    out: np.ndarray,
    dataset: FaceDataset,
    settings: _Settings,
    workers: int | None,
    strict: bool,
    progress: bool,
) -> tuple[np.ndarray, list[tuple[str, str]], list[tuple[str, str]]]:
    """Write kept crops to the first rows of ``out`` in sample order."""
    kept: list[int] = []
    no_face: list[tuple[str, str]] = []
    unreadable: list[tuple[str, str]] = []
    for index, crop, kind, message in _run(dataset, settings, workers, progress):
        where = _describe(dataset.samples[index])
        if kind == "unreadable":
            if strict:
                raise ImageError(message)
            warnings.warn(f"skipping {message}", stacklevel=3)
            unreadable.append((where, message))
        elif kind == "no_face":
            no_face.append((where, message))
        else:
            out[len(kept)] = crop
            kept.append(index)
    return np.array(kept, dtype=np.int64), no_face, unreadable
