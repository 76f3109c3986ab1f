"""Decisions from several reference signatures: combination rules and simulated trials.

The paper compares one pair at a time. Enrolment at a signature desk holds several
reference signatures per writer, and a threshold fixed on single pairs changes meaning
with their number: the mean distance to five references is less spread than one
distance, so the same threshold gives other error rates. Here (where the paper is
silent) the combined distance of a questioned signature to ``k`` references is one of

* ``mean``: the mean distance (every reference votes);
* ``min``: the nearest reference (one lucky match suffices);
* ``nearest2``: the mean of the two nearest references (robust to one odd reference);

the rule is chosen on the validation writers (lowest mean skilled-forgery EER over
k = 2..5), and every operating point's threshold is then fixed for each k = 1..5 on
validation trials with that rule.

A *trial* is one set of k genuine references of a writer and one questioned signature:
another genuine signature of the writer, one of the writer's skilled forgeries, or a
genuine signature of another writer (random forgery). Trials are drawn from embedded
images, so thousands cost one distance matrix per writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.evaluation.verification import GENUINE, RANDOM, SKILLED, PairScores

RULES = ("mean", "nearest2", "min")  # preference order when validation EERs tie
MAX_REFERENCES = 5
SUBSETS_PER_WRITER = 24  # reference sets drawn per writer and k (all when fewer exist)


def combine(distances: np.ndarray, rule: str) -> np.ndarray:
    """Combine distances to k references (last axis) into one distance per trial."""
    d = np.asarray(distances, dtype=np.float64)
    if d.shape[-1] == 0:
        raise InkfaceError("combining distances needs at least one reference")
    if rule == "mean":
        return d.mean(axis=-1)
    if rule == "min":
        return d.min(axis=-1)
    if rule == "nearest2":
        nearest = np.sort(d, axis=-1)[..., :2]
        return nearest.mean(axis=-1)
    raise InkfaceError(f"unknown combination rule {rule!r}; choose one of {', '.join(RULES)}")


@dataclass(frozen=True)
class EmbeddedImages:
    """The embedded images of one split: per image its writer, whether it is genuine and
    its group (data set); random forgeries are drawn within a group, never across
    scripts (``groups`` None: one group)."""

    embeddings: np.ndarray
    writers: np.ndarray
    genuine: np.ndarray
    groups: np.ndarray | None = None

    def writer_ids(self) -> np.ndarray:
        return np.unique(self.writers)

    def of(self, writer: int) -> tuple[np.ndarray, np.ndarray]:
        """Row indices of the writer's genuine and forged images."""
        mine = self.writers == writer
        return np.flatnonzero(mine & self.genuine), np.flatnonzero(mine & ~self.genuine)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = a[:, None, :].astype(np.float64) - b[None, :, :].astype(np.float64)
    return np.sqrt(np.maximum((diff**2).sum(axis=-1), 0.0))


def reference_sets(n: int, k: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``limit`` distinct k-subsets of range(n) as rows (all of them when fewer)."""
    if comb(n, k) <= limit:
        return np.array(list(combinations(range(n), k)), dtype=np.int64).reshape(-1, k)
    chosen: set[tuple[int, ...]] = set()
    while len(chosen) < limit:
        chosen.add(tuple(sorted(rng.choice(n, size=k, replace=False).tolist())))
    return np.array(sorted(chosen), dtype=np.int64)


def max_references(images: EmbeddedImages) -> int:
    """The largest k (<= MAX_REFERENCES) for which at least half of the writers keep a
    genuine questioned signature besides k references (thresholds for a k that one
    writer alone could test would describe that writer, not the population)."""
    counts = sorted((len(images.of(w)[0]) for w in images.writer_ids()), reverse=True)
    if not counts:
        return 0
    return max(0, min(MAX_REFERENCES, counts[(len(counts) - 1) // 2] - 1))


def reference_trials(
    images: EmbeddedImages,
    k: int,
    rule: str,
    seed: int = 0,
    subsets_per_writer: int = SUBSETS_PER_WRITER,
) -> PairScores:
    """Combined distances of every trial with k references (writers with at least k + 1
    genuine signatures). ``writers`` holds the enrolled writer, the bootstrap unit."""
    return trials_with_spread(images, k, rule, seed, subsets_per_writer)[0]


def reference_spread(references: np.ndarray, rule: str) -> np.ndarray:
    """Leave-one-out combined distances of k >= 2 reference embeddings: each reference
    against the k - 1 others with ``rule``. Their mean, the writer's *spread*, says how
    much the writer's own signatures vary (used for writer thresholds)."""
    d = _distances(references, references)
    k = len(references)
    if k < 2:
        raise InkfaceError("a reference spread needs at least two references")
    others = ~np.eye(k, dtype=bool)
    return combine(d[others].reshape(k, k - 1), rule)


def trials_with_spread(
    images: EmbeddedImages,
    k: int,
    rule: str,
    seed: int = 0,
    subsets_per_writer: int = SUBSETS_PER_WRITER,
) -> tuple[PairScores, np.ndarray]:
    """:func:`reference_trials` plus, per trial, its reference set's spread: the mean
    leave-one-out combined distance (NaN for k = 1)."""
    rng = np.random.default_rng((seed, k))
    parts: list[tuple[np.ndarray, int, int, float]] = []
    for writer in images.writer_ids():
        gen, forg = images.of(writer)
        if len(gen) < k + 1:
            continue
        others = images.genuine & (images.writers != writer)
        if images.groups is not None:
            others &= images.groups == images.groups[gen[0]]
        others = np.flatnonzero(others)
        ref_emb = images.embeddings[gen]
        d_gen = _distances(ref_emb, ref_emb)
        d_forg = _distances(ref_emb, images.embeddings[forg]) if len(forg) else None
        for subset in reference_sets(len(gen), k, subsets_per_writer, rng):
            spread = float(reference_spread(ref_emb[subset], rule).mean()) if k >= 2 else np.nan
            rest = np.setdiff1d(np.arange(len(gen)), subset)
            parts.append((combine(d_gen[subset][:, rest].T, rule), GENUINE, writer, spread))
            if d_forg is not None:
                parts.append((combine(d_forg[subset].T, rule), SKILLED, writer, spread))
            if len(others):
                picks = rng.choice(others, size=len(rest), replace=len(others) < len(rest))
                d_rand = _distances(ref_emb[subset], images.embeddings[picks])
                parts.append((combine(d_rand.T, rule), RANDOM, writer, spread))
    if not parts:
        empty = np.zeros(0)
        return PairScores(empty, empty, empty, empty), empty
    sizes = [len(p[0]) for p in parts]
    distances = np.concatenate([p[0] for p in parts])
    kinds = np.repeat([p[1] for p in parts], sizes)
    writers = np.repeat([p[2] for p in parts], sizes)
    spreads = np.repeat([p[3] for p in parts], sizes)
    scores = PairScores(distances, (kinds == GENUINE).astype(np.int64), kinds, writers)
    return scores, spreads
