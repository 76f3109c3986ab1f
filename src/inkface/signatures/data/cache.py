"""Decode and preprocess every image once; keep the result as a memory-mapped array.

The cache is one ``.npy`` file of shape (N, H, W) uint8 per dataset, preprocessing
style and size (DeepSign section 4.1 preprocessing), plus a JSON index, kept by
:mod:`inkface.core.cache`. Its key hashes the preprocessing parameters and the list of
source files with their sizes and modification times, so editing, adding or removing an
image builds a new cache instead of serving stale pixels. Training epochs read from the
memory map and never decode an image again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from inkface.core.cache import Outcome, attempt, cache_key, load_or_build
from inkface.core.images import read_grey
from inkface.core.paths import resolve_cache_dir
from inkface.signatures.data.preprocess import preprocess_signature, resolve_size
from inkface.signatures.data.readers import SignatureDataset, WriterRecord

CACHE_FORMAT = 2
_PER_WORKER = 64  # fewer images than this per worker do not repay a spawned process


@dataclass(frozen=True)
class PreprocessedImages:
    """Preprocessed images aligned with ``dataset.image_paths()``.

    ``dataset`` is the input dataset minus images skipped as unreadable (only with
    ``strict=False``), so indices into ``images`` always match its writers' paths.
    """

    dataset: SignatureDataset
    images: np.ndarray
    size: tuple[int, int]
    cache_file: Path | None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def writer_indices(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per writer, the (genuine, forged) row indices into ``images``."""
        out, start = [], 0
        for writer in self.dataset.writers:
            n_gen, n_forg = len(writer.genuine), len(writer.forged)
            genuine = np.arange(start, start + n_gen)
            forged = np.arange(start + n_gen, start + n_gen + n_forg)
            out.append((genuine, forged))
            start += n_gen + n_forg
        return out


def _preprocess_chunk(size: tuple[int, int], style: str, paths: list[str]) -> list[Outcome]:
    """Worker: one preprocessed image, or the reason it is unreadable, per path."""
    return [attempt(_preprocess_one, path, size, style) for path in paths]


def _preprocess_one(path: str, size: tuple[int, int], style: str) -> np.ndarray:
    return preprocess_signature(read_grey(path), size, style)  # type: ignore[arg-type]


def _filtered(dataset: SignatureDataset, bad: set[Path]) -> SignatureDataset:
    """``dataset`` without the ``bad`` images and without writers left with < 2 genuine."""
    writers = []
    for w in dataset.writers:
        kept = WriterRecord(
            w.writer_id,
            tuple(p for p in w.genuine if p not in bad),
            tuple(p for p in w.forged if p not in bad),
        )
        if len(kept.genuine) >= 2:
            writers.append(kept)
        else:
            bad.update((*kept.genuine, *kept.forged))
    skipped = (*dataset.skipped, *(f"{p}: unreadable image" for p in sorted(bad)))
    return replace(dataset, writers=tuple(writers), skipped=skipped)


def _complete_writers(dataset: SignatureDataset, kept: np.ndarray) -> np.ndarray:
    """Of the decoded images, those of writers that keep at least two genuine ones."""
    paths = dataset.image_paths()
    if len(kept) == len(paths):
        return kept
    bad = set(paths).difference(paths[i] for i in kept.tolist())
    remaining = set(_filtered(dataset, bad).image_paths())
    return np.array([i for i in kept.tolist() if paths[i] in remaining], dtype=np.int64)


def load_preprocessed(
    dataset: SignatureDataset,
    size: str | tuple[int, int],
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    strict: bool = True,
    progress: bool = True,
) -> PreprocessedImages:
    """Preprocessed images of ``dataset`` at ``size``, from the cache or built once.

    ``strict`` (default): the first unreadable image raises :class:`ImageError` naming
    it and nothing is cached. ``strict=False``: unreadable images are skipped with a
    warning (and writers left with fewer than two genuine images are dropped).
    ``cache_dir=""`` keeps everything in memory and writes nothing.
    """
    hw = resolve_size(size)
    paths = dataset.image_paths()
    key = cache_key(paths, {"style": dataset.style, "size": hw}, CACHE_FORMAT)
    folder = resolve_cache_dir(cache_dir)
    stem = f"{dataset.name}-{dataset.style}-{hw[0]}x{hw[1]}-{key}"
    names = [str(p) for p in paths]
    cached = load_or_build(
        None if folder is None else folder / f"{stem}.npy",
        key,
        hw,
        names,
        names,
        partial(_preprocess_chunk, hw, dataset.style),
        strict=strict,
        workers=min(workers or os.cpu_count() or 1, max(1, len(paths) // _PER_WORKER)),
        select=partial(_complete_writers, dataset),
        meta={
            "dataset": dataset.name,
            "root": str(dataset.root),
            "style": dataset.style,
            "size": list(hw),
        },
        progress=progress,
        desc=f"preprocessing {dataset.name} {hw[0]}x{hw[1]}",
    )
    bad = {Path(p) for p, _ in cached.failed}
    kept = _filtered(dataset, bad) if bad else dataset
    return PreprocessedImages(kept, cached.array, hw, cached.path)
