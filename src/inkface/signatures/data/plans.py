"""Pair plans for the paper's experiment kinds: one dataset, combined, cross-dataset.

* **One dataset** (CEDAR, BHSig260 Bengali / Hindi / both): writers split 60/20/20.
* **Combined** (Table 6): each dataset is split on its own and the splits are joined,
  so "test on CEDAR" after training on the combination means CEDAR's test writers,
  and Table 5's combined counts are the sums of the per-dataset counts.
* **Cross-dataset** (Table 7, e.g. train CEDAR, test BHSig260): train and validation
  come from the training dataset's split; a test dataset the model never trained on
  contributes *all* its writers (none of them was seen).

Image indices in the plan are global: datasets are stacked in the order given
(training datasets first, then test-only ones), matching :class:`ImageBank`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.signatures.data.pairs import (
    PairSet,
    WriterImages,
    WriterSplit,
    make_pairs,
    split_writers,
)
from inkface.signatures.data.readers import SignatureDataset


@dataclass(frozen=True)
class PairPlan:
    """Datasets (in bank order), writer splits and the pairs of every evaluation set."""

    datasets: tuple[SignatureDataset, ...]
    splits: dict[str, WriterSplit]
    writer_names: tuple[str, ...]
    pairs: dict[str, PairSet]

    def counts(self) -> dict[str, object]:
        """JSON-ready writers and pair counts per split (``inkface data pairs``)."""
        out: dict[str, object] = {}
        for key, pairs in self.pairs.items():
            writers = sorted({self.writer_names[w] for w in np.unique(pairs.writers)})
            counts = pairs.counts()
            out[key] = {
                "writers": len(writers),
                **counts,
                "paper_pairs": counts["genuine"] + counts["skilled_forgery"],
                "writer_ids": writers,
            }
        return out


def _same(a: SignatureDataset, b: SignatureDataset) -> bool:
    return a.name == b.name and a.root.resolve() == b.root.resolve()


def plan_pairs(
    train: Sequence[SignatureDataset],
    test: Sequence[SignatureDataset] = (),
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    random_per_writer: int | str | None = "auto",
) -> PairPlan:
    """Split writers and form pairs for train, val and one test set per test dataset.

    ``test`` defaults to the training datasets. With several test datasets a
    ``test/combined`` set joins them. Keys: ``train``, ``val``, ``test/<name>``.
    """
    if not train:
        raise InkfaceError("at least one training dataset is needed")
    test = list(test) or list(train)
    datasets: list[SignatureDataset] = list(train)
    for ds in test:
        if not any(_same(ds, other) for other in datasets):
            datasets.append(ds)
    names = [ds.name for ds in datasets]
    if len(set(names)) != len(names):
        raise InkfaceError(f"two datasets share the name {names}: give distinct datasets")

    writer_names: list[str] = []
    per_dataset: dict[str, dict[str, WriterImages]] = {}
    offset = 0
    for ds in datasets:
        table: dict[str, WriterImages] = {}
        for record in ds.writers:
            n_gen, n_forg = len(record.genuine), len(record.forged)
            table[record.writer_id] = WriterImages(
                len(writer_names),
                np.arange(offset, offset + n_gen),
                np.arange(offset + n_gen, offset + n_gen + n_forg),
            )
            writer_names.append(record.writer_id)
            offset += n_gen + n_forg
        per_dataset[ds.name] = table

    splits = {
        ds.name: split_writers([w.writer_id for w in ds.writers], fractions, seed)
        for ds in datasets
    }

    def pairs_for(groups: list[list[WriterImages]], salt: int) -> PairSet:
        # Random forgeries are drawn within one dataset's split, never across scripts.
        return PairSet.concat(
            [make_pairs(g, random_per_writer=random_per_writer, seed=seed + salt) for g in groups]
        )

    pairs: dict[str, PairSet] = {}
    for salt, split_name in enumerate(("train", "val")):
        groups = [
            [per_dataset[ds.name][w] for w in getattr(splits[ds.name], split_name)] for ds in train
        ]
        pairs[split_name] = pairs_for(groups, salt)
    test_parts = []
    for k, ds in enumerate(test):
        trained_on = any(_same(ds, other) for other in train)
        ids = splits[ds.name].test if trained_on else tuple(per_dataset[ds.name])
        part = pairs_for([[per_dataset[ds.name][w] for w in ids]], 10 + k)
        pairs[f"test/{ds.name}"] = part
        test_parts.append(part)
    if len(test_parts) > 1:
        pairs["test/combined"] = PairSet.concat(test_parts)
    return PairPlan(tuple(datasets), splits, tuple(writer_names), pairs)
