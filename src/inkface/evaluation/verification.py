"""Signature-verification metrics: accuracy threshold, accuracy/precision/recall/AUROC
(DeepSign paper section 5.2, Tables 6-7) and the biometric FAR/FRR/EER, reported
overall and separately for skilled and random forgeries (DESIGN.md, "Biometric reporting").

A pair is predicted genuine when ``distance <= threshold``. The threshold is the one that
maximises accuracy on the validation pairs (:mod:`inkface.evaluation.thresholds`) and is
then applied unchanged to the test pairs.
The ROC machinery works on a batch of per-pair weight rows so that the writer bootstrap
(:mod:`inkface.evaluation.bootstrap`) reuses exactly the same code as the point estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.evaluation.thresholds import ThresholdChoice, accuracy_threshold, check_scores

GENUINE, SKILLED, RANDOM = 0, 1, 2
KIND_NAMES = {GENUINE: "genuine", SKILLED: "skilled", RANDOM: "random"}

# Metrics computed from accept/reject counts at a fixed threshold.
COUNT_METRICS = ("accuracy", "precision", "recall", "far", "frr", "far_skilled", "far_random")
# Metrics computed from the ROC curve (threshold-free), per forgery subset.
RANK_METRICS = (
    "auroc",
    "eer",
    "eer_threshold",
    "auroc_skilled",
    "eer_skilled",
    "eer_skilled_threshold",
    "auroc_random",
    "eer_random",
    "eer_random_threshold",
)


@dataclass(frozen=True)
class PairScores:
    """Distances of verification pairs with their truth.

    ``labels`` is 1 for a genuine-genuine pair and 0 for a forgery pair; ``kinds`` is 0
    genuine, 1 skilled forgery, 2 random forgery; ``writers`` is the writer whose reference
    signature is in the pair (the unit resampled by the bootstrap).
    """

    distances: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray
    writers: np.ndarray

    def __post_init__(self) -> None:
        raw_distances = np.asarray(self.distances)
        if raw_distances.size and raw_distances.dtype.kind not in "biuf":
            raise InkfaceError("PairScores.distances must be numeric")
        distances = raw_distances.astype(np.float64)
        fields = {"distances": distances}
        for name in ("labels", "kinds", "writers"):
            raw = np.asarray(getattr(self, name))
            if raw.size and raw.dtype.kind not in "biuf":
                raise InkfaceError(f"PairScores.{name} must hold integers, got {raw.dtype}")
            integral = raw.size == 0 or np.issubdtype(raw.dtype, np.integer)
            if not integral and not np.all(np.equal(np.mod(raw, 1), 0)):
                raise InkfaceError(f"PairScores.{name} must hold integers")
            fields[name] = raw.astype(np.int64)
        for name, arr in fields.items():
            if arr.ndim != 1:
                raise InkfaceError(f"PairScores.{name} must be 1-D, got shape {arr.shape}")
        lengths = {name: len(arr) for name, arr in fields.items()}
        if len(set(lengths.values())) != 1:
            raise InkfaceError(f"PairScores fields differ in length: {lengths}")
        if not np.all(np.isfinite(distances)):
            raise InkfaceError("PairScores.distances contains NaN or infinite values")
        labels, kinds = fields["labels"], fields["kinds"]
        if np.any((labels != 0) & (labels != 1)):
            raise InkfaceError("PairScores.labels must be 0 (forgery pair) or 1 (genuine pair)")
        if np.any((kinds < GENUINE) | (kinds > RANDOM)):
            raise InkfaceError("PairScores.kinds must be 0 genuine, 1 skilled or 2 random")
        if np.any((labels == 1) != (kinds == GENUINE)):
            raise InkfaceError("PairScores.labels disagree with kinds (label 1 iff kind 0)")
        for name, arr in fields.items():
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return len(self.distances)


def best_threshold(scores: PairScores) -> ThresholdChoice:
    """Threshold maximising accuracy on ``scores`` (the validation pairs): the shared rule of
    :func:`inkface.evaluation.thresholds.accuracy_threshold` on distances (accept below),
    ties resolved towards the smallest threshold."""
    return accuracy_threshold(scores.distances, scores.labels, accept="below")


# ---------------------------------------------------------------------------- ROC core


@dataclass(frozen=True)
class SortedPairs:
    """Pairs sorted by distance once, with the last index of each run of equal distances,
    so ROC curves for any batch of pair weights come from one cumulative sum."""

    order: np.ndarray
    unique: np.ndarray
    group_ends: np.ndarray
    kinds: np.ndarray

    @classmethod
    def build(cls, scores: PairScores) -> SortedPairs:
        order = np.argsort(scores.distances, kind="stable")
        d = scores.distances[order]
        if d.size == 0:
            ends = np.zeros(0, dtype=np.int64)
        else:
            ends = np.flatnonzero(np.append(d[1:] != d[:-1], True))
        return cls(order=order, unique=d[ends], group_ends=ends, kinds=scores.kinds[order])


def _roc_batch(sp: SortedPairs, weights: np.ndarray, negative_kinds: tuple[int, ...]):
    """ROC points for each weight row (batch x pairs, in sorted order): returns
    (fpr, tpr, thresholds) with a leading 'reject all' point; NaN rows lack a class."""
    pos = weights * (sp.kinds == GENUINE)
    neg = weights * np.isin(sp.kinds, negative_kinds)
    tp = np.cumsum(pos, axis=1)[:, sp.group_ends]
    fp = np.cumsum(neg, axis=1)[:, sp.group_ends]
    zeros = np.zeros((weights.shape[0], 1))
    tp = np.concatenate((zeros, tp), axis=1)
    fp = np.concatenate((zeros, fp), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tp / tp[:, -1:]
        fpr = fp / fp[:, -1:]
    u = sp.unique
    below = u[0] - (0.5 * (u[-1] - u[0]) / max(u.size - 1, 1) if u.size > 1 else 0.5)
    return fpr, tpr, np.concatenate(([below], u))


def _auroc_eer_batch(
    sp: SortedPairs, weights: np.ndarray, negative_kinds: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUROC (trapezoid, ties count one half), EER and the EER threshold per weight row."""
    fpr, tpr, thr = _roc_batch(sp, weights, negative_kinds)
    auc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2.0, axis=1)
    gap = fpr + tpr - 1.0  # FAR - FRR, non-decreasing along the curve
    valid = np.isfinite(gap[:, -1])
    k = np.argmax(np.where(valid[:, None], gap >= 0.0, True), axis=1)
    k = np.maximum(k, 1)
    rows = np.arange(gap.shape[0])
    g0, g1 = gap[rows, k - 1], gap[rows, k]
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(g1 > g0, -g0 / (g1 - g0), 1.0)
    alpha = np.clip(alpha, 0.0, 1.0)
    f0, f1 = fpr[rows, k - 1], fpr[rows, k]
    eer = f0 + alpha * (f1 - f0)
    # Points added by zero-weight pairs (writers absent from a bootstrap resample) repeat
    # the previous counts; interpolate from the first point of that run so the threshold
    # equals the one computed on the resample's pairs alone.
    moved = np.diff(fpr, axis=1, prepend=np.nan) != 0
    moved |= np.diff(tpr, axis=1, prepend=np.nan) != 0
    run_start = np.maximum.accumulate(np.where(moved, np.arange(gap.shape[1]), 0), axis=1)
    t0 = thr[run_start[rows, k - 1]]
    eer_thr = t0 + alpha * (thr[k] - t0)
    nan = np.full(gap.shape[0], np.nan)
    return np.where(valid, auc, nan), np.where(valid, eer, nan), np.where(valid, eer_thr, nan)


def rank_metrics_batch(sp: SortedPairs, weights: np.ndarray) -> dict[str, np.ndarray]:
    """All :data:`RANK_METRICS` for each row of pair weights (NaN where undefined)."""
    out: dict[str, np.ndarray] = {}
    for suffix, negatives in (
        ("", (SKILLED, RANDOM)),
        ("_skilled", (SKILLED,)),
        ("_random", (RANDOM,)),
    ):
        auc, eer, thr = _auroc_eer_batch(sp, weights, negatives)
        out[f"auroc{suffix}"] = auc
        out[f"eer{suffix}"] = eer
        out[f"eer{suffix}_threshold"] = thr
    return out


def count_table(scores: PairScores, threshold: float) -> np.ndarray:
    """Accept/reject counts per pair as a (pairs x 6) one-hot table with columns genuine
    accepted/rejected, skilled accepted/rejected, random accepted/rejected."""
    accepted = scores.distances <= threshold
    column = 2 * scores.kinds + (~accepted).astype(np.int64)
    table = np.zeros((len(scores), 6))
    table[np.arange(len(scores)), column] = 1.0
    return table


def count_metrics_batch(totals: np.ndarray) -> dict[str, np.ndarray]:
    """:data:`COUNT_METRICS` from rows of the six totals of :func:`count_table`."""
    ga, gr, sa, sr, ra, rr = (totals[:, i] for i in range(6))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "accuracy": (ga + sr + rr) / totals.sum(axis=1),
            "precision": ga / (ga + sa + ra),
            "recall": ga / (ga + gr),
            "far": (sa + ra) / (sa + sr + ra + rr),
            "frr": gr / (ga + gr),
            "far_skilled": sa / (sa + sr),
            "far_random": ra / (ra + rr),
        }


def to_optional_float(value: Any) -> float | None:
    """Python float, or None for NaN / None (JSON null for an undefined metric)."""
    if value is None:
        return None
    value = float(value)
    return None if not np.isfinite(value) else value


# ---------------------------------------------------------------------------- public metrics


def roc_curve(
    distances: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of the score ``-distance``: (FAR, 1 - FRR, thresholds), thresholds ascending, the
    first point rejecting every pair. Needs both genuine and forgery pairs."""
    d, y = check_scores(distances, labels)
    if not y.any() or y.all():
        raise InkfaceError("ROC needs both genuine (label 1) and forgery (label 0) pairs")
    kinds = np.where(y, GENUINE, SKILLED)
    sp = SortedPairs.build(PairScores(d, y.astype(np.int64), kinds, np.zeros(d.size, np.int64)))
    fpr, tpr, thr = _roc_batch(sp, np.ones((1, d.size)), (SKILLED,))
    return fpr[0], tpr[0], thr


def equal_error_rate(distances: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Equal error rate (FAR = FRR), linearly interpolated on the ROC, and its threshold."""
    d, y = check_scores(distances, labels)
    if not y.any() or y.all():
        raise InkfaceError("EER needs both genuine (label 1) and forgery (label 0) pairs")
    kinds = np.where(y, GENUINE, SKILLED)
    sp = SortedPairs.build(PairScores(d, y.astype(np.int64), kinds, np.zeros(d.size, np.int64)))
    _, eer, thr = _auroc_eer_batch(sp, np.ones((1, d.size)), (SKILLED,))
    return float(eer[0]), float(thr[0])


def auroc(distances: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC of the score ``-distance`` (ties count one half)."""
    fpr, tpr, _ = roc_curve(distances, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def verification_metrics(scores: PairScores, threshold: float) -> dict[str, Any]:
    """Every metric at ``threshold`` (fixed on validation): accuracy, precision and recall
    with the genuine pair as positive class (paper 5.2), AUROC, FAR/FRR, EER, overall and
    per forgery kind, and pair counts. Undefined metrics (no pairs of a kind) are None."""
    counts = count_table(scores, threshold).sum(axis=0, keepdims=True)
    values: dict[str, Any] = {name: v[0] for name, v in count_metrics_batch(counts).items()}
    sp = SortedPairs.build(scores)
    if len(scores):
        values.update(
            {k: v[0] for k, v in rank_metrics_batch(sp, np.ones((1, len(scores)))).items()}
        )
    out: dict[str, Any] = {"threshold": float(threshold)}
    out.update({name: to_optional_float(values.get(name)) for name in COUNT_METRICS + RANK_METRICS})
    out["n_pairs"] = len(scores)
    for kind, name in KIND_NAMES.items():
        out[f"n_{name}"] = int(np.sum(scores.kinds == kind))
    out["n_writers"] = int(np.unique(scores.writers).size)
    return out
