"""Verification figures: accuracy vs threshold (paper 5.2), ROC of several models
(Figure 2), DET, distance histograms per pair kind, the 9-pair distance grid (Figure 3)
and training curves.

Figures are built with :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot, no global
backend state), written to a temporary PNG next to the target and renamed into place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy.special import ndtri

from inkface.core.atomic import atomic_path
from inkface.core.errors import InkfaceError
from inkface.evaluation.thresholds import ThresholdChoice
from inkface.evaluation.verification import (
    GENUINE,
    KIND_NAMES,
    RANDOM,
    SKILLED,
    PairScores,
    auroc,
    equal_error_rate,
    roc_curve,
)

_KIND_COLOURS = {GENUINE: "tab:green", SKILLED: "tab:red", RANDOM: "tab:blue"}
_DET_TICKS = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999)
_DET_CLIP = 5e-4


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as PNG atomically and release its memory."""
    target = Path(path)
    with atomic_path(target, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    fig.clear()
    return target


def _subset(scores: PairScores, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Distances and labels of genuine pairs against all / skilled / random forgeries."""
    negatives = {"all": (SKILLED, RANDOM), "skilled": (SKILLED,), "random": (RANDOM,)}
    if kind not in negatives:
        raise InkfaceError(f"forgery kind must be one of {sorted(negatives)}, got {kind!r}")
    keep = (scores.kinds == GENUINE) | np.isin(scores.kinds, negatives[kind])
    return scores.distances[keep], scores.labels[keep]


def plot_accuracy_vs_threshold(
    thresholds: np.ndarray,
    accuracies: np.ndarray,
    chosen: ThresholdChoice | float,
    path: str | os.PathLike[str],
) -> Path:
    """Validation accuracy against the distance threshold, chosen threshold marked (5.2)."""
    t, acc = np.asarray(thresholds, float), np.asarray(accuracies, float)
    if t.shape != acc.shape or t.size == 0:
        raise InkfaceError(f"thresholds {t.shape} and accuracies {acc.shape} must match")
    fig = _new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    ax.plot(t, acc, color="tab:blue")
    threshold = chosen.threshold if isinstance(chosen, ThresholdChoice) else float(chosen)
    label = f"chosen threshold {threshold:.3f}"
    if isinstance(chosen, ThresholdChoice):
        label += f" (accuracy {chosen.accuracy:.3f})"
    ax.axvline(threshold, color="tab:red", linestyle="--", label=label)
    ax.set_xlabel("distance threshold (pair genuine if distance <= threshold)")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Accuracy vs threshold (validation)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_roc(
    curves: Mapping[str, PairScores], path: str | os.PathLike[str], kind: str = "all"
) -> Path:
    """ROC curves of several models on one plot, AUROC in the legend (paper Figure 2);
    ``kind`` restricts the forgeries to 'skilled' or 'random'."""
    if not curves:
        raise InkfaceError("plot_roc needs at least one model's scores")
    fig = _new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    for name, scores in curves.items():
        d, y = _subset(scores, kind)
        fpr, tpr, _ = roc_curve(d, y)
        ax.plot(fpr, tpr, label=f"{name} (AUROC {auroc(d, y):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.005)
    ax.set_xlabel("false accept rate (1 - specificity)")
    ax.set_ylabel("true accept rate (sensitivity)")
    ax.set_title("ROC" + ("" if kind == "all" else f" (genuine vs {kind} forgeries)"))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _save(fig, path)


def _probit(p: np.ndarray) -> np.ndarray:
    return ndtri(np.clip(p, _DET_CLIP, 1.0 - _DET_CLIP))


def plot_det(
    curves: Mapping[str, PairScores], path: str | os.PathLike[str], kind: str = "all"
) -> Path:
    """DET curves (FRR against FAR on normal-deviate axes, ticks in %), EER marked."""
    if not curves:
        raise InkfaceError("plot_det needs at least one model's scores")
    fig = _new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    for name, scores in curves.items():
        d, y = _subset(scores, kind)
        far, tar, _ = roc_curve(d, y)
        eer, _ = equal_error_rate(d, y)
        (line,) = ax.plot(_probit(far), _probit(1.0 - tar), label=f"{name} (EER {eer:.1%})")
        ax.plot(_probit(eer), _probit(eer), "o", color=line.get_color(), markersize=6)
    ticks = _probit(np.asarray(_DET_TICKS))
    labels = [f"{100 * p:g}" for p in _DET_TICKS]
    limit = _probit(np.asarray([_DET_CLIP, 1.0 - _DET_CLIP]))
    ax.plot(limit, limit, color="grey", linestyle=":", linewidth=1, label="FAR = FRR")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_ticks(ticks, labels)
    ax.set_xlim(*limit)
    ax.set_ylim(*limit)
    ax.set_xlabel("false accept rate (%)")
    ax.set_ylabel("false reject rate (%)")
    ax.set_title("DET" + ("" if kind == "all" else f" (genuine vs {kind} forgeries)"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_distance_histograms(
    scores: PairScores, threshold: float, path: str | os.PathLike[str], bins: int = 50
) -> Path:
    """Distance distributions of genuine, skilled-forgery and random-forgery pairs (density,
    shared bins) with the decision threshold."""
    if len(scores) == 0:
        raise InkfaceError("plot_distance_histograms needs at least one pair")
    fig = _new_figure(6.5, 4.0)
    ax = fig.add_subplot()
    edges = np.histogram_bin_edges(scores.distances, bins=bins)
    for kind, name in KIND_NAMES.items():
        d = scores.distances[scores.kinds == kind]
        if d.size:
            ax.hist(
                d,
                bins=edges,
                density=True,
                histtype="stepfilled",
                alpha=0.35,
                color=_KIND_COLOURS[kind],
                edgecolor=_KIND_COLOURS[kind],
                label=f"{name} (n={d.size})",
            )
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("embedding distance")
    ax.set_ylabel("density")
    ax.set_title("Distance distributions by pair kind")
    ax.legend()
    return _save(fig, path)


def select_grid_pairs(distances: np.ndarray, n_per_band: int = 3) -> np.ndarray:
    """Indices of the ``n_per_band`` highest, closest-to-median and lowest distances, in
    that order and each band by decreasing distance (Figure 3); distinct and deterministic."""
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 1:
        raise InkfaceError(f"distances must be 1-D, got shape {d.shape}")
    if n_per_band < 1:
        raise InkfaceError(f"n_per_band must be at least 1, got {n_per_band}")
    ascending = np.argsort(d, kind="stable")
    if d.size <= 3 * n_per_band:
        return ascending[::-1].copy()
    high = np.argsort(-d, kind="stable")[:n_per_band]
    low = ascending[:n_per_band][::-1]
    taken = np.zeros(d.size, dtype=bool)
    taken[high] = taken[low] = True
    gap = np.where(taken, np.inf, np.abs(d - np.median(d)))
    medium = np.argsort(gap, kind="stable")[:n_per_band]
    medium = medium[np.argsort(-d[medium], kind="stable")]
    return np.concatenate((high, medium, low))


def _show(ax, image: np.ndarray) -> None:
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        ax.imshow(img, cmap="gray", vmin=0, vmax=255 if img.dtype == np.uint8 else None)
    else:
        ax.imshow(img)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_pair_grid(
    pairs: Sequence[tuple[np.ndarray, np.ndarray, float, int]], path: str | os.PathLike[str]
) -> Path:
    """One row per pair: the two signatures side by side, titled with their distance and
    true label (paper Figure 3 shows 3 high, 3 medium and 3 low distance pairs)."""
    if not pairs:
        raise InkfaceError("plot_pair_grid needs at least one pair")
    fig = _new_figure(6.0, 1.6 * len(pairs) + 0.4)
    rows = fig.subfigures(len(pairs), 1, squeeze=False)[:, 0]
    for row, (left, right, distance, label) in zip(rows, pairs, strict=True):
        truth = "genuine pair" if int(label) == 1 else "forgery pair"
        for ax, image in zip(row.subplots(1, 2), (left, right), strict=True):
            _show(ax, image)
        row.suptitle(f"distance {float(distance):.3f}  |  {truth}", fontsize=9)
    fig.suptitle("Pairs by embedding distance")
    return _save(fig, path)


def plot_training_curves(
    history: Mapping[str, Sequence[float]], path: str | os.PathLike[str]
) -> Path:
    """Per-epoch curves: losses on the left, every other metric (accuracy...) on the right."""
    series = {k: np.asarray(v, float) for k, v in history.items() if len(v)}
    if not series:
        raise InkfaceError("training history is empty")
    losses = {k: v for k, v in series.items() if "loss" in k}
    others = {k: v for k, v in series.items() if "loss" not in k}
    panels = [(p, t) for p, t in ((losses, "loss"), (others, "metric")) if p]
    fig = _new_figure(5.0 * len(panels), 3.8)
    for i, (panel, ylabel) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        colours: dict[str, str] = {}
        for name, values in panel.items():
            base = name.removeprefix("train_").removeprefix("val_")
            colour = colours.setdefault(base, f"C{len(colours)}")
            style = "--" if name.startswith("val") else "-"
            epochs = np.arange(1, values.size + 1)
            ax.plot(epochs, values, style, color=colour, marker="o", ms=3, label=name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Training curves")
    return _save(fig, path)


def plot_reliability(
    curves: Mapping[str, Mapping[str, Sequence[float | None]]], path: str | os.PathLike[str]
) -> Path:
    """Reliability diagram of ``p_genuine``: per bin, the fraction of genuine pairs against
    the mean prediction (class-balanced; :func:`inkface.evaluation.calibration.reliability`),
    one line per curve (e.g. per number of references), ECE in the legend."""
    if not curves:
        raise InkfaceError("plot_reliability needs at least one curve")
    fig = _new_figure(5.0, 5.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect")
    for name, curve in curves.items():
        points = [
            (p, o)
            for p, o in zip(curve["predicted"], curve["observed"], strict=True)
            if p is not None and o is not None
        ]
        if points:
            x, y = zip(*points, strict=True)
            ece = float(curve["ece"])  # type: ignore[arg-type]
            ax.plot(x, y, marker="o", ms=4, label=f"{name} (ECE {ece:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted p_genuine")
    ax.set_ylabel("fraction genuine (even prior odds)")
    ax.set_title("Reliability of p_genuine (test writers)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _save(fig, path)
