"""Verification pair data: the prepared datasets of a run and batches that embed each
distinct image once.

:func:`prepare_data` reads, caches and pairs a recipe's datasets into
:class:`PreparedData`, the one input of both training (:func:`pair_loader`) and
evaluation (:func:`inkface.signatures.verification.evaluate.evaluate_verifier`).

A naive Siamese step runs the tower twice per pair. Here a batch is a set of pairs;
its distinct images are embedded once and each pair's distance is read from the
embedding table. The loss is identical (tests check it) and, because pairs of one
writer share images, much cheaper: a CEDAR writer has 852 pairs but only 48 images.

:class:`WriterGroupedBatchSampler` orders each epoch writer by writer and cuts it into
batches of ``batch_pairs`` pairs, so that every pair of the split is seen once per
epoch, as in the paper. Within a writer, the images are dealt at random into groups of
about ``sqrt(batch_pairs)`` and the pairs are ordered block by block (all pairs between
group *a* and group *b*, then the next block): a batch of 32 pairs then touches about
12 distinct images instead of about 40, so even the paper's small batches gain. Every
shuffle is seeded with ``(seed, epoch)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from inkface.core.errors import InkfaceError
from inkface.models import model_info
from inkface.signatures.data.bank import ImageBank
from inkface.signatures.data.cache import PreprocessedImages, load_preprocessed
from inkface.signatures.data.pairs import PairSet
from inkface.signatures.data.plans import PairPlan, plan_pairs
from inkface.signatures.data.readers import load_signature_dataset
from inkface.signatures.verification.recipe import Recipe


class WriterGroupedBatchSampler(Sampler[list[int]]):
    """Yields lists of pair indices; pairs of one writer stay together."""

    def __init__(
        self, pairs: PairSet, batch_pairs: int, seed: int = 0, shuffle: bool = True
    ) -> None:
        if batch_pairs < 1:
            raise ValueError("batch_pairs must be >= 1")
        self.pairs = pairs
        self.batch_pairs = batch_pairs
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        order = np.argsort(pairs.writers, kind="stable")
        bounds = np.flatnonzero(np.diff(pairs.writers[order])) + 1
        self._groups = np.split(order, bounds) if len(order) else []

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at each epoch so the shuffle changes but stays seeded."""
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.pairs) // self.batch_pairs)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch))
        groups = self._groups
        if self.shuffle:
            groups = [groups[i] for i in rng.permutation(len(groups))]
            groups = [self._block_order(g, rng) for g in groups]
        order = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
        for start in range(0, len(order), self.batch_pairs):
            yield order[start : start + self.batch_pairs].tolist()

    def _block_order(self, pair_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One writer's pairs, shuffled block by block so that batches share images."""
        left, right = self.pairs.left[pair_ids], self.pairs.right[pair_ids]
        images, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
        group_size = max(1, int(np.ceil(np.sqrt(self.batch_pairs))))
        group_of = rng.permutation(len(images)) // group_size
        g_left, g_right = group_of[inverse[: len(left)]], group_of[inverse[len(left) :]]
        n_groups = int(group_of.max()) + 1
        block = np.minimum(g_left, g_right) * n_groups + np.maximum(g_left, g_right)
        block_rank = rng.permutation(n_groups * n_groups)[block]
        return pair_ids[np.lexsort((rng.random(len(pair_ids)), block_rank))]


class PairBatchDataset(Dataset):
    """Indexed by a list of pair indices; returns one ready batch.

    ``dedup=True`` (the default) stacks each distinct image once; ``dedup=False`` is
    the naive layout (left images then right images), kept for tests and benchmarks.
    """

    def __init__(self, bank: ImageBank, pairs: PairSet, dedup: bool = True) -> None:
        self.bank = bank
        self.pairs = pairs
        self.dedup = dedup

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, batch: list[int]) -> dict[str, torch.Tensor]:
        idx = np.asarray(batch, dtype=np.int64)
        left, right = self.pairs.left[idx], self.pairs.right[idx]
        if self.dedup:
            unique, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
            rows = unique
            left_pos, right_pos = inverse[: len(idx)], inverse[len(idx) :]
        else:
            rows = np.concatenate([left, right])
            left_pos, right_pos = np.arange(len(idx)), np.arange(len(idx), 2 * len(idx))
        images = torch.from_numpy(self.bank.take(rows)).unsqueeze(1)
        return {
            "images": images,  # uint8, scaled to [0, 1] on the model's device
            "left": torch.from_numpy(np.asarray(left_pos, dtype=np.int64)),
            "right": torch.from_numpy(np.asarray(right_pos, dtype=np.int64)),
            "labels": torch.from_numpy(self.pairs.labels[idx].astype(np.float32)),
            "kinds": torch.from_numpy(self.pairs.kinds[idx].astype(np.int64)),
        }


@dataclass(frozen=True)
class PreparedData:
    """Everything a run needs from the data layer."""

    plan: PairPlan
    bank: ImageBank
    caches: tuple[PreprocessedImages, ...]
    input_size: tuple[int, int]


def prepare_data(
    recipe: Recipe,
    cache_dir: str | Path | None = None,
    strict: bool = True,
    progress: bool = True,
) -> PreparedData:
    """Read, cache and pair the recipe's datasets (roots must already be filled in)."""
    missing = [d.name for d in (*recipe.data.train, *recipe.data.test) if not d.root]
    if missing:
        raise InkfaceError(
            f"recipe {recipe.name} needs a dataset root for {', '.join(sorted(set(missing)))} "
            f"(give --root {missing[0]}=DIR)"
        )
    size_spec = recipe.data.input_size
    input_size = (
        tuple(int(v) for v in size_spec.lower().split("x"))
        if size_spec and "x" in size_spec
        else model_info(size_spec or recipe.model.name).input_size
    )
    loaded: dict[tuple[str, str], PreprocessedImages] = {}
    for cfg in (*recipe.data.train, *recipe.data.test):
        key = (cfg.name, str(Path(cfg.root).resolve()))
        if key not in loaded:
            dataset = load_signature_dataset(cfg.name, cfg.root, strict=strict)
            loaded[key] = load_preprocessed(
                dataset, input_size, cache_dir=cache_dir, strict=strict, progress=progress
            )

    def pick(items: list) -> list:
        return [loaded[(c.name, str(Path(c.root).resolve()))].dataset for c in items]

    plan = plan_pairs(
        pick(recipe.data.train),
        pick(recipe.data.test),
        seed=recipe.data.seed,
        fractions=recipe.data.fractions,
    )
    by_dataset = {id(c.dataset): c for c in loaded.values()}
    caches = tuple(by_dataset[id(ds)] for ds in plan.datasets)
    bank = ImageBank([c.images for c in caches])
    return PreparedData(plan, bank, caches, input_size)  # type: ignore[arg-type]


def pair_loader(
    bank: ImageBank, pairs: PairSet, batch_pairs: int, seed: int, shuffle: bool, workers: int = 0
) -> DataLoader:
    """A DataLoader of writer-grouped, image-deduplicated pair batches."""
    sampler = WriterGroupedBatchSampler(pairs, batch_pairs, seed=seed, shuffle=shuffle)
    return DataLoader(
        PairBatchDataset(bank, pairs),
        sampler=sampler,
        batch_size=None,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
