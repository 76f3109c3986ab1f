"""Identification figures: CMC curves and accuracy against epochs for several models
(the identification paper's Figure 7 compares 2, 3, 4 and 5 convolutional layers)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from inkface.core.errors import InkfaceError
from inkface.evaluation.plots import _new_figure, _save


def plot_cmc(curves: Mapping[str, Sequence[float]], path: str | os.PathLike[str]) -> Path:
    """Cumulative match characteristic of several models on one plot."""
    if not curves:
        raise InkfaceError("no CMC curves to plot")
    fig = _new_figure(5.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for name, values in curves.items():
        ranks = np.arange(1, len(values) + 1)
        ax.plot(ranks, values, marker="o", ms=3, label=f"{name} (top-1 {values[0]:.2f})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("rank")
    ax.set_ylabel("identification rate")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("CMC")
    return _save(fig, path)


def plot_series(
    series: Mapping[str, Sequence[float]],
    path: str | os.PathLike[str],
    ylabel: str = "validation accuracy",
    title: str = "Accuracy against epochs",
) -> Path:
    """One line per model, epochs on the x axis (Figure 7 of the identification paper)."""
    if not any(len(v) for v in series.values()):
        raise InkfaceError("no series to plot")
    fig = _new_figure(5.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for name, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3, label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    return _save(fig, path)
