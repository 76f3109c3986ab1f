"""Operating points: named rules that fix a distance threshold on validation pairs.

The DeepSign paper fixes one threshold, the one maximising validation accuracy (section
5.2). That rule depends on the mix of genuine and forged pairs and, on signature data,
lands where most genuine signatures are rejected. A signature desk instead chooses the
error it can live with, so every trained verifier carries several operating points, each
fixed on the validation writers and never on test:

* ``accuracy``: the paper's rule (kept for its Tables 6-7), on genuine + skilled pairs;
* ``eer``: where the validation FAR on skilled forgeries equals the FRR (the default);
* ``far=X``: the highest threshold whose skilled-forgery FAR on validation is <= X;
* ``frr=X``: the lowest threshold whose FRR on validation is <= X.

FAR/FRR here are comparison-level rates, which ISO/IEC 19795-1 calls FMR/FNMR (there is
no failure-to-acquire stage, so the two coincide). The impostors that fix ``eer``,
``far=X`` and ``accuracy`` are skilled forgeries; a data set without forgeries (a user's
own folder) falls back to random forgeries, and the policy says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.evaluation.bootstrap import bootstrap_ci
from inkface.evaluation.thresholds import accuracy_threshold, threshold_at_far
from inkface.evaluation.verification import (
    GENUINE,
    RANDOM,
    SKILLED,
    PairScores,
    equal_error_rate,
    to_optional_float,
    verification_metrics,
)

DEFAULT_OPERATING_POINT = "eer"
DEFAULT_OPERATING_POINTS = (
    "accuracy",
    "eer",
    "far=0.001",
    "far=0.01",
    "far=0.05",
    "frr=0.01",
    "frr=0.05",
)
# The rates reported at an operating point (comparison level: FMR / FNMR).
RATE_METRICS = ("far_skilled", "far_random", "frr")
IMPOSTOR_KINDS = {"skilled": SKILLED, "random": RANDOM}
# Keeps a threshold strictly positive (meta.json's threshold scales the similarity).
MIN_THRESHOLD = 1e-6


@dataclass(frozen=True)
class OperatingPoint:
    """A parsed operating point: ``kind`` with its ``target`` rate for far / frr."""

    kind: str
    target: float | None = None

    @property
    def name(self) -> str:
        """Canonical spelling, e.g. ``eer`` or ``far=0.01``."""
        return self.kind if self.target is None else f"{self.kind}={self.target:g}"

    @classmethod
    def parse(cls, text: str) -> OperatingPoint:
        """``accuracy``, ``eer``, ``far=0.01``, ``far=1%``, ``frr=0.05`` (case-insensitive)."""
        spec = str(text).strip().lower().replace(" ", "")
        if spec in ("accuracy", "eer"):
            return cls(spec)
        kind, sep, value = spec.partition("=")
        if sep and kind in ("far", "frr"):
            try:
                target = float(value[:-1]) / 100.0 if value.endswith("%") else float(value)
            except ValueError:
                target = math.nan
            if 0.0 < target < 1.0:
                return cls(kind, target)
            raise InkfaceError(f"operating point {text!r}: {kind} must be in (0, 1), e.g. 0.01")
        raise InkfaceError(
            f"unknown operating point {text!r}: use accuracy, eer, far=X or frr=X (0 < X < 1)"
        )


def canonical_name(text: str) -> str:
    """The canonical spelling of an operating point name (``FAR=1%`` -> ``far=0.01``)."""
    return OperatingPoint.parse(text).name


def impostor_kind(scores: PairScores) -> str:
    """``skilled`` when the pairs hold skilled forgeries, else ``random``."""
    if np.any(scores.kinds == SKILLED):
        return "skilled"
    if np.any(scores.kinds == RANDOM):
        return "random"
    raise InkfaceError("operating points need forgery pairs (skilled or random) on validation")


def _genuine_and_impostors(scores: PairScores, impostors: str) -> tuple[np.ndarray, np.ndarray]:
    genuine = scores.distances[scores.kinds == GENUINE]
    forged = scores.distances[scores.kinds == IMPOSTOR_KINDS[impostors]]
    if genuine.size == 0 or forged.size == 0:
        raise InkfaceError(f"an operating point needs genuine and {impostors}-forgery pairs")
    return genuine, forged


def threshold_for(
    point: OperatingPoint, scores: PairScores, impostors: str, positive: bool = True
) -> float:
    """The threshold of ``point`` on ``scores`` (validation pairs); accept when
    ``score <= threshold``. Always finite; kept positive for distances (``positive``),
    free for writer-normalised scores, which may be negative."""
    genuine, forged = _genuine_and_impostors(scores, impostors)
    if point.kind == "accuracy":
        distances = np.concatenate([genuine, forged])
        labels = np.concatenate([np.ones(genuine.size), np.zeros(forged.size)])
        value = accuracy_threshold(distances, labels, accept="below").threshold
    elif point.kind == "eer":
        distances = np.concatenate([genuine, forged])
        labels = np.concatenate([np.ones(genuine.size), np.zeros(forged.size)])
        value = equal_error_rate(distances, labels)[1]
    elif point.kind == "far":
        value = threshold_at_far(forged, float(point.target), accept="below")
        if not np.isfinite(value):  # every forgery may pass: accept everything seen
            value = float(max(genuine.max(), forged.max()))
    else:  # frr: keep at least ceil((1 - X) * n) genuine pairs in
        ordered = np.sort(genuine)
        allowed = int(np.floor(float(point.target) * ordered.size))
        value = float(ordered[max(ordered.size - allowed - 1, 0)])
    return float(max(value, MIN_THRESHOLD)) if positive else float(value)


def thresholds_for(
    names: Sequence[str], scores: PairScores, impostors: str, positive: bool = True
) -> dict[str, float]:
    """``{name: threshold}`` for every operating point name, fixed on ``scores``."""
    points = [OperatingPoint.parse(n) for n in names]
    return {p.name: threshold_for(p, scores, impostors, positive) for p in points}


def rates_at(
    scores: PairScores,
    threshold: float,
    n_boot: int = 0,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """FAR (FMR) on skilled and on random forgeries and FRR (FNMR) at ``threshold``, with
    percentile intervals over writer resamples when ``n_boot`` > 0. None = no such pairs."""
    metrics = verification_metrics(scores, threshold)
    out: dict[str, Any] = {"threshold": float(threshold)}
    out.update({name: metrics[name] for name in RATE_METRICS})
    out.update({"n_genuine": metrics["n_genuine"], "n_skilled": metrics["n_skilled"]})
    out.update({"n_random": metrics["n_random"], "n_writers": metrics["n_writers"]})
    if n_boot > 0 and len(scores):
        ci = bootstrap_ci(scores, threshold, RATE_METRICS, n_boot=n_boot, seed=seed, level=level)
        out["ci"] = {k: None if v is None else [v[0], v[1]] for k, v in ci.items()}
    return out


def equal_error(scores: PairScores, impostors: str) -> float | None:
    """EER of genuine against one forgery kind; None without both kinds of pair."""
    try:
        genuine, forged = _genuine_and_impostors(scores, impostors)
    except InkfaceError:
        return None
    distances = np.concatenate([genuine, forged])
    labels = np.concatenate([np.ones(genuine.size), np.zeros(forged.size)])
    return to_optional_float(equal_error_rate(distances, labels)[0])


def user_threshold_eer(scores: PairScores, impostors: str) -> float | None:
    """Mean over writers of each writer's own EER ("EER with user thresholds" in the
    sigver literature): the a-posteriori best a writer-dependent threshold could do, an
    optimistic bound to set beside the global-threshold EER. Writers lacking genuine or
    forgery pairs are left out; None when no writer has both."""
    values = []
    for writer in np.unique(scores.writers):
        keep = scores.writers == writer
        sub = PairScores(
            scores.distances[keep], scores.labels[keep], scores.kinds[keep], scores.writers[keep]
        )
        value = equal_error(sub, impostors)
        if value is not None:
            values.append(value)
    return float(np.mean(values)) if values else None


def percent(value: float | None) -> str:
    """``12.3%`` for a rate, ``n/a`` for None (report tables and printed lines)."""
    return "n/a" if value is None else f"{100.0 * float(value):.1f}%"
