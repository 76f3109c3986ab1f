"""Identification metrics: closed-set rank accuracy and CMC, open-set DIR at fixed FAR.

Scores are similarities (higher = more alike), one row per probe and one column per
enrolled writer. Open-set protocol (ISO/IEC 19795-1 style): probes of non-enrolled
writers set the alarm threshold at a given false-alarm rate (the fraction of them whose
best score passes; :func:`inkface.evaluation.thresholds.threshold_at_far`); the
detection-and-identification rate is the fraction of enrolled writers' probes whose true
writer is ranked first *and* passes that threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.evaluation.thresholds import threshold_at_far


def true_ranks(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """1-based rank of the true writer in each row (ties count against the truth)."""
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.int64)
    if scores.ndim != 2 or len(scores) != len(truth):
        raise InkfaceError(f"scores {scores.shape} and truth {truth.shape} do not match")
    true_scores = scores[np.arange(len(truth)), truth]
    return (scores >= true_scores[:, None]).sum(axis=1)


def cmc_curve(scores: np.ndarray, truth: np.ndarray, max_rank: int | None = None) -> np.ndarray:
    """Cumulative match characteristic: fraction of probes with true rank <= r, r = 1..R."""
    ranks = true_ranks(scores, truth)
    top = max_rank or scores.shape[1]
    return np.array([(ranks <= r).mean() for r in range(1, top + 1)])


def closed_set_metrics(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Top-1 and top-5 accuracy and the probe count."""
    ranks = true_ranks(scores, truth)
    return {
        "top1": float((ranks <= 1).mean()),
        "top5": float((ranks <= 5).mean()),
        "n_probes": len(ranks),
    }


def open_set_rates(
    mated_scores: np.ndarray,
    mated_truth: np.ndarray,
    nonmated_best: np.ndarray,
    fars: Sequence[float] = (0.01, 0.05, 0.1, 0.2),
) -> list[dict[str, float]]:
    """DIR at each false-alarm rate, with the threshold that gives it."""
    if len(nonmated_best) == 0:
        raise InkfaceError("open-set rates need probes of writers who are not enrolled")
    ranks = true_ranks(mated_scores, mated_truth)
    true_scores = np.asarray(mated_scores)[np.arange(len(mated_truth)), mated_truth]
    nonmated = np.asarray(nonmated_best, dtype=np.float64)
    rows = []
    for far in fars:
        # The most lenient alarm threshold letting at most `far` of the non-mated through.
        threshold = threshold_at_far(nonmated, far, accept="above")
        achieved = float((nonmated >= threshold).mean())
        dir_rate = float(((ranks == 1) & (true_scores >= threshold)).mean())
        rows.append(
            {
                "far": float(far),
                "achieved_far": achieved,
                "threshold": float(threshold),
                "dir": dir_rate,
            }
        )
    return rows
