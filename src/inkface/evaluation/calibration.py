"""A calibrated score: ``p_genuine`` from a distance, fitted on validation pairs.

The display similarity ``2 ** (-d / threshold)`` is a monotone rescaling, not a
probability. ``p_genuine`` is one (where the paper is silent, these are our choices):

* **what it estimates**: the probability that the questioned signature is genuine rather
  than a skilled forgery *at even prior odds*. Validation pairs are weighted so that
  genuine and forged pairs count equally, because the pair mix of a data set (Table 5's
  276 genuine against 576 skilled pairs per CEDAR writer) says nothing about how often a
  desk sees forgeries. A different prior ``pi`` is applied as
  ``odds(p) * pi / (1 - pi)``. Without skilled forgeries, random ones take their place.
* **how**: Platt scaling (a logistic curve in the distance, Platt's smoothed targets so
  that separable data stays finite) or isotonic regression (pool-adjacent-violators,
  decreasing in the distance). Both are fitted; the one with the lower Brier score in a
  two-fold cross-validation over validation *writers* is kept (isotonic needs many pairs
  before it beats two parameters). One calibrator per number of references k.
* **how it is checked**: the expected calibration error (ECE, 10 equal-width bins, the
  same class weighting) and a reliability diagram on the test writers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError

METHODS = ("platt", "isotonic")
N_BINS = 10
P_CLIP = 1e-4  # isotonic steps may reach 0 or 1; no decision is that certain
MAX_BREAKPOINTS = 200  # isotonic curves are thinned to this many points (meta.json stays small)


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Pair weights giving genuine (1) and forged (0) pairs the same total weight."""
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise InkfaceError("calibration needs genuine and forged pairs")
    return np.where(y, 0.5 / n_pos, 0.5 / n_neg) * len(y)


@dataclass(frozen=True)
class Calibrator:
    """Distance -> p_genuine. ``params``: Platt ``a, b`` (p = 1 / (1 + exp(-(a + b d))))
    or isotonic breakpoints ``x`` (ascending distances) and ``y`` (their p)."""

    method: str
    params: dict[str, Any]

    def __call__(self, distances: np.ndarray | float) -> np.ndarray:
        d = np.asarray(distances, dtype=np.float64)
        if self.method == "platt":
            z = self.params["a"] + self.params["b"] * d
            p = 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic, without overflow
        elif self.method == "isotonic":
            p = np.interp(d, self.params["x"], self.params["y"])
        else:
            raise InkfaceError(f"unknown calibration method {self.method!r}")
        return np.clip(p, P_CLIP, 1.0 - P_CLIP)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, **self.params}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Calibrator:
        method = str(data.get("method"))
        if method == "platt":
            return Calibrator(method, {"a": float(data["a"]), "b": float(data["b"])})
        if method == "isotonic":
            x = [float(v) for v in data["x"]]
            y = [float(v) for v in data["y"]]
            return Calibrator(method, {"x": x, "y": y})
        raise InkfaceError(f"unknown calibration method {method!r} in meta.json")


def fit_platt(distances: np.ndarray, labels: np.ndarray) -> Calibrator:
    """Weighted logistic regression of the label on the distance (Newton's method), with
    Platt's targets (n+ + 1) / (n+ + 2) and 1 / (n- + 2) and balanced weights."""
    d = np.asarray(distances, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    w = balanced_weights(y)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    target = np.where(y, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    centre, scale = float(d.mean()), float(d.std()) or 1.0
    x = (d - centre) / scale
    design = np.stack([np.ones_like(x), x], axis=1)
    beta = np.zeros(2)
    for _ in range(100):
        p = 0.5 * (1.0 + np.tanh(0.5 * design @ beta))
        gradient = design.T @ (w * (p - target))
        hessian = design.T @ (design * (w * p * (1.0 - p))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    a = beta[0] - beta[1] * centre / scale
    return Calibrator("platt", {"a": float(a), "b": float(beta[1] / scale)})


def _pool_adjacent_violators(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted non-increasing least-squares fit of ``values`` (in order)."""
    means: list[float] = []
    masses: list[float] = []
    sizes: list[int] = []
    for v, w in zip(values, weights, strict=True):
        means.append(float(v))
        masses.append(float(w))
        sizes.append(1)
        while len(means) > 1 and means[-2] < means[-1]:
            mass = masses[-2] + masses[-1]
            mean = (means[-2] * masses[-2] + means[-1] * masses[-1]) / mass
            size = sizes[-2] + sizes[-1]
            del means[-1], masses[-1], sizes[-1]
            means[-1], masses[-1], sizes[-1] = mean, mass, size
    return np.repeat(means, sizes)


def fit_isotonic(distances: np.ndarray, labels: np.ndarray) -> Calibrator:
    """Isotonic regression of the label on the distance, decreasing, balanced weights."""
    d = np.asarray(distances, dtype=np.float64)
    y = np.asarray(labels).astype(np.float64)
    w = balanced_weights(y)
    order = np.argsort(d, kind="stable")
    unique, first = np.unique(d[order], return_index=True)
    mass = np.add.reduceat(w[order], first)
    mean = np.add.reduceat((w * y)[order], first) / mass
    fitted = _pool_adjacent_violators(mean, mass)
    keep = np.ones(len(unique), dtype=bool)  # drop interior points of flat runs
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    x, y_fit = unique[keep], fitted[keep]
    if len(x) > MAX_BREAKPOINTS:  # still monotone: a subset of the breakpoints
        idx = np.unique(np.linspace(0, len(x) - 1, MAX_BREAKPOINTS).round().astype(np.int64))
        x, y_fit = x[idx], y_fit[idx]
    return Calibrator("isotonic", {"x": x.tolist(), "y": y_fit.tolist()})


def fit(method: str, distances: np.ndarray, labels: np.ndarray) -> Calibrator:
    if method == "platt":
        return fit_platt(distances, labels)
    if method == "isotonic":
        return fit_isotonic(distances, labels)
    raise InkfaceError(f"unknown calibration method {method!r}; choose one of {METHODS}")


def brier(p: np.ndarray, labels: np.ndarray) -> float:
    """Class-balanced Brier score."""
    y = np.asarray(labels).astype(np.float64)
    return float(np.average((np.asarray(p) - y) ** 2, weights=balanced_weights(y)))


def choose_calibrator(
    distances: np.ndarray, labels: np.ndarray, writers: np.ndarray, seed: int = 0
) -> tuple[Calibrator, dict[str, float | None]]:
    """Fit both methods; keep the one with the lower two-fold (by writer) Brier score.

    Returns the calibrator fitted on all pairs and each method's cross-validated score
    (None when the writers cannot be split into two folds holding both classes)."""
    d = np.asarray(distances, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    ids = np.unique(writers)
    fold_of = dict(zip(ids, np.random.default_rng(seed).permutation(len(ids)) % 2, strict=True))
    fold = np.array([fold_of[w] for w in writers], dtype=np.int64)
    scores: dict[str, float | None] = {}
    for method in METHODS:
        predicted = np.zeros(len(d))
        ok = True
        for f in (0, 1):
            train, held = fold != f, fold == f
            if len(np.unique(y[train])) < 2 or len(np.unique(y[held])) < 2:
                ok = False
                break
            predicted[held] = fit(method, d[train], y[train])(d[held])
        scores[method] = brier(predicted, y) if ok else None
    best = "platt"
    if scores["platt"] is not None and scores["isotonic"] is not None:
        best = "isotonic" if scores["isotonic"] < scores["platt"] else "platt"
    return fit(best, d, y), scores


def reliability(p: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> dict[str, Any]:
    """Per equal-width bin of ``p``: mean prediction, weighted fraction genuine and the
    bin's share of the (class-balanced) weight; and the expected calibration error."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(labels).astype(np.float64)
    w = balanced_weights(y)
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    mass = np.bincount(bins, weights=w, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = np.bincount(bins, weights=w * p, minlength=n_bins) / mass
        observed = np.bincount(bins, weights=w * y, minlength=n_bins) / mass
    share = mass / mass.sum()
    filled = mass > 0
    ece = float(np.sum(share[filled] * np.abs(predicted[filled] - observed[filled])))
    return {
        "ece": ece,
        "predicted": [float(v) if f else None for v, f in zip(predicted, filled, strict=True)],
        "observed": [float(v) if f else None for v, f in zip(observed, filled, strict=True)],
        "share": [float(v) for v in share],
    }
