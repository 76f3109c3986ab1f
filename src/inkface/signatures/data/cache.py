"""Decode and preprocess every image once; keep the result as a memory-mapped array.

The cache is one ``.npy`` file of shape (N, H, W) uint8 per dataset, preprocessing
style and size, plus a JSON index. Its key hashes the preprocessing parameters and the
list of source files with their sizes and modification times, so editing, adding or
removing an image builds a new cache instead of serving stale pixels. Training epochs
read from the memory map and never decode an image again.

The ``.npy`` file is written under a temporary name and renamed into place, and the
index is written last: an interrupted build leaves no cache that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from inkface.core.atomic import atomic_path, write_json
from inkface.core.errors import ImageError
from inkface.core.images import read_grey
from inkface.core.parallel import process_pool
from inkface.core.paths import default_cache_dir
from inkface.signatures.data.preprocess import preprocess_signature, resolve_size
from inkface.signatures.data.readers import SignatureDataset, WriterRecord

CACHE_FORMAT = 1


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


def _cache_key(dataset: SignatureDataset, size: tuple[int, int]) -> str:
    entries = []
    for path in dataset.image_paths():
        stat = path.stat()
        entries.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    payload = json.dumps(
        {"format": CACHE_FORMAT, "style": dataset.style, "size": size, "files": entries}
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _process_one(args: tuple[str, tuple[int, int], str]) -> np.ndarray | str:
    path, size, style = args
    try:
        return preprocess_signature(read_grey(path), size, style)  # type: ignore[arg-type]
    except ImageError as exc:
        return str(exc)


def _filtered(dataset: SignatureDataset, bad: set[Path]) -> SignatureDataset:
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
    memory_only = cache_dir == ""
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir)
    key = _cache_key(dataset, hw)
    stem = f"{dataset.name}-{dataset.style}-{hw[0]}x{hw[1]}-{key}"
    array_file, index_file = folder / f"{stem}.npy", folder / f"{stem}.json"
    if not memory_only and array_file.is_file() and index_file.is_file():
        index = json.loads(index_file.read_text(encoding="utf-8"))
        bad = {Path(p) for p in index.get("skipped_images", [])}
        kept = _filtered(dataset, bad) if bad else dataset
        return PreprocessedImages(kept, np.load(array_file, mmap_mode="r"), hw, array_file)

    images, bad_paths = _decode_all(dataset, hw, workers, strict, progress)
    kept = _filtered(dataset, set(bad_paths)) if bad_paths else dataset
    if bad_paths:
        keep_rows = [i for i, p in enumerate(dataset.image_paths()) if p in set(kept.image_paths())]
        images = images[keep_rows]
    if memory_only:
        return PreprocessedImages(kept, images, hw, None)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(array_file, suffix=".npy") as tmp:
        np.save(tmp, images)
    write_json(
        index_file,
        {
            "format": CACHE_FORMAT,
            "dataset": dataset.name,
            "root": str(dataset.root),
            "style": dataset.style,
            "size": list(hw),
            "images": len(images),
            "skipped_images": [str(p) for p in bad_paths],
        },
    )
    return PreprocessedImages(kept, np.load(array_file, mmap_mode="r"), hw, array_file)


def _decode_all(
    dataset: SignatureDataset,
    size: tuple[int, int],
    workers: int | None,
    strict: bool,
    progress: bool,
) -> tuple[np.ndarray, list[Path]]:
    paths = dataset.image_paths()
    jobs = [(str(p), size, dataset.style) for p in paths]
    images = np.zeros((len(paths), *size), dtype=np.uint8)
    bad: list[Path] = []
    n_workers = min(workers or os.cpu_count() or 1, max(1, len(jobs) // 64))
    bar = tqdm(
        total=len(jobs),
        desc=f"preprocessing {dataset.name} {size[0]}x{size[1]}",
        unit="img",
        disable=not progress,
    )
    with bar:
        if n_workers <= 1:
            results = map(_process_one, jobs)
            _collect(results, images, paths, bad, strict, bar)
        else:
            with process_pool(n_workers) as pool:
                results = pool.map(_process_one, jobs, chunksize=16)
                _collect(results, images, paths, bad, strict, bar)
    return images, bad


def _collect(
    results: object,
    images: np.ndarray,
    paths: Sequence[Path],
    bad: list[Path],
    strict: bool,
    bar: tqdm,
) -> None:
    for i, result in enumerate(results):  # type: ignore[call-overload]
        if isinstance(result, str):
            if strict:
                raise ImageError(result)
            warnings.warn(f"skipping {result}", stacklevel=3)
            bad.append(paths[i])
        else:
            images[i] = result
        bar.update(1)
