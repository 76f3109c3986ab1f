"""Confidence intervals bootstrapped over writers, and the whole verification protocol.

Pairs of one writer are correlated (same reference signatures), so resampling pairs would
give intervals that are too narrow; we resample *writers* with replacement and every pair
of a drawn writer comes along (DESIGN.md, "Biometric reporting"). The threshold stays the
one fixed on validation: it is never re-fitted on a resample or on the test set.

A resample is a vector of writer multiplicities, so count metrics are one matrix product
(multiplicities x per-writer counts) and ROC metrics are weighted cumulative sums over the
pairs sorted once, batched over resamples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.evaluation.thresholds import accuracy_curve
from inkface.evaluation.verification import (
    COUNT_METRICS,
    RANK_METRICS,
    PairScores,
    SortedPairs,
    best_threshold,
    count_metrics_batch,
    count_table,
    rank_metrics_batch,
    verification_metrics,
)

DEFAULT_CI_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "auroc",
    "far",
    "frr",
    "far_skilled",
    "far_random",
    "eer",
    "eer_skilled",
    "eer_random",
    "auroc_skilled",
    "auroc_random",
)
# Upper bound on the elements of one (resamples x pairs) weight block.
_BLOCK_ELEMENTS = 4_000_000


def _writer_multiplicities(n_writers: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot x n_writers) counts of how often each writer is drawn in each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_writers, size=(n_boot, n_writers))
    flat = draws + n_writers * np.arange(n_boot)[:, None]
    counts = np.bincount(flat.ravel(), minlength=n_boot * n_writers)
    return counts.reshape(n_boot, n_writers).astype(np.float64)


def bootstrap_samples(
    scores: PairScores,
    threshold: float,
    metric_names: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The metric value of each writer resample (NaN where a resample lacks a class)."""
    valid = set(COUNT_METRICS) | set(RANK_METRICS)
    unknown = [name for name in metric_names if name not in valid]
    if unknown:
        raise InkfaceError(f"unknown bootstrap metric {unknown}; valid: {sorted(valid)}")
    if len(scores) == 0:
        raise InkfaceError("cannot bootstrap an empty set of pairs")
    if n_boot < 1:
        raise InkfaceError(f"n_boot must be at least 1, got {n_boot}")
    writer_ids, writer_index = np.unique(scores.writers, return_inverse=True)
    mult = _writer_multiplicities(writer_ids.size, n_boot, seed)
    out: dict[str, np.ndarray] = {}
    if any(name in COUNT_METRICS for name in metric_names):
        per_writer = np.zeros((writer_ids.size, 6))
        np.add.at(per_writer, writer_index, count_table(scores, threshold))
        counts = count_metrics_batch(mult @ per_writer)
        out.update({name: counts[name] for name in metric_names if name in counts})
    if any(name in RANK_METRICS for name in metric_names):
        sp = SortedPairs.build(scores)
        pair_writer = writer_index[sp.order]
        step = max(1, _BLOCK_ELEMENTS // len(scores))
        blocks = [
            rank_metrics_batch(sp, mult[start : start + step][:, pair_writer])
            for start in range(0, n_boot, step)
        ]
        for name in metric_names:
            if name in RANK_METRICS:
                out[name] = np.concatenate([block[name] for block in blocks])
    return out


def bootstrap_ci(
    scores: PairScores,
    threshold: float,
    metric_names: Sequence[str] = DEFAULT_CI_METRICS,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float] | None]:
    """Percentile intervals of each metric over ``n_boot`` writer resamples at the fixed
    ``threshold``; None for a metric undefined on every resample. Deterministic per seed."""
    if not 0.0 < level < 1.0:
        raise InkfaceError(f"level must be in (0, 1), got {level}")
    samples = bootstrap_samples(scores, threshold, metric_names, n_boot=n_boot, seed=seed)
    tail = 100.0 * (1.0 - level) / 2.0
    out: dict[str, tuple[float, float] | None] = {}
    for name in metric_names:
        values = samples[name][np.isfinite(samples[name])]
        if values.size == 0:
            out[name] = None
            continue
        low, high = np.percentile(values, [tail, 100.0 - tail])
        out[name] = (float(low), float(high))
    return out


def evaluate(
    val_scores: PairScores,
    test_scores: PairScores,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    ci_metrics: Sequence[str] = DEFAULT_CI_METRICS,
    curve_points: int = 101,
) -> dict[str, Any]:
    """The paper's protocol as one JSON-ready dict: threshold maximising validation accuracy
    (section 5.2), test metrics at that threshold, writer-bootstrap intervals on test and a
    ``curve_points``-point summary of the validation accuracy-vs-threshold curve."""
    choice = best_threshold(val_scores)
    lo, hi = float(val_scores.distances.min()), float(val_scores.distances.max())
    grid = np.linspace(lo, hi, max(2, curve_points)) if hi > lo else np.array([lo])
    grid_t, grid_acc = accuracy_curve(val_scores.distances, val_scores.labels, grid)
    test = verification_metrics(test_scores, choice.threshold)
    ci = bootstrap_ci(test_scores, choice.threshold, ci_metrics, n_boot, seed, level)
    return {
        "threshold": choice.threshold,
        "validation": {
            "accuracy": choice.accuracy,
            "n_pairs": len(val_scores),
            "n_writers": int(np.unique(val_scores.writers).size),
            "curve": {
                "thresholds": [float(t) for t in grid_t],
                "accuracies": [float(a) for a in grid_acc],
            },
        },
        "test": test,
        "ci": {k: None if v is None else [v[0], v[1]] for k, v in ci.items()},
        "ci_level": float(level),
        "n_boot": int(n_boot),
        "seed": int(seed),
        "val_metrics": verification_metrics(val_scores, choice.threshold),
    }
