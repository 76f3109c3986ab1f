"""Verification pair batches that embed each distinct image once.

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

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from inkface.signatures.data.bank import ImageBank
from inkface.signatures.data.pairs import PairSet


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
