"""Decision thresholds on pair scores: one rule for verification and identification.

Two ways to fix a threshold, both used unchanged on the test data afterwards:

* :func:`accuracy_threshold`: the threshold maximising accuracy on validation pairs
  (DeepSign section 5.2 for the verifier; the identification paper's pixel Siamese
  network decides "same writer" the same way);
* :func:`threshold_at_far`: the most lenient threshold whose false-accept rate on
  impostor scores stays at or below a target (open-set identification, DIR at fixed FAR).

Scores come in two directions, always named explicitly with ``accept``:

* ``"below"``: a distance; a pair is accepted (genuine, same writer) when
  ``score <= threshold`` (the Siamese verifier);
* ``"above"``: a similarity; accepted when ``score >= threshold`` (the pixel Siamese
  network, identification scores).

Internally everything is computed on distances; a similarity is negated on the way in
and its threshold negated on the way out, so both directions share one search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from inkface.core.errors import InkfaceError

Accept = Literal["below", "above"]
FAR_EPSILON = 1e-12  # keeps the impostor at the threshold out (accepts are inclusive)


@dataclass(frozen=True)
class ThresholdChoice:
    """The accuracy-maximising threshold and the accuracy it reaches (paper 5.2)."""

    threshold: float
    accuracy: float


def _sign(accept: Accept) -> float:
    """+1 for distances (accept below), -1 for similarities (accept above)."""
    if accept == "below":
        return 1.0
    if accept == "above":
        return -1.0
    raise InkfaceError(
        f"accept must be 'below' (distances) or 'above' (similarities), not {accept!r}"
    )


def check_scores(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores as float64 and labels as bool (1 = genuine / same writer), both validated."""
    d = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if d.ndim != 1 or y.ndim != 1 or len(d) != len(y):
        raise InkfaceError(
            f"scores and labels must be 1-D of equal length, got {d.shape} and {y.shape}"
        )
    if not np.all(np.isfinite(d)):
        raise InkfaceError("scores contain NaN or infinite values")
    if np.any((y != 0) & (y != 1)):
        raise InkfaceError("labels must be 0 (impostor / forgery pair) or 1 (genuine pair)")
    return d, y.astype(bool)


def candidate_thresholds(distances: np.ndarray) -> np.ndarray:
    """Midpoints of the sorted unique distances, plus one below (reject all) and one above
    (accept all): every distinct decision on these pairs is reached by one candidate."""
    u = np.unique(np.asarray(distances, dtype=np.float64))
    if u.size == 0:
        raise InkfaceError("no pairs to choose a threshold from")
    pad = 0.5 * (u[-1] - u[0]) / max(u.size - 1, 1) if u.size > 1 else 0.5
    return np.concatenate(([u[0] - pad], (u[:-1] + u[1:]) / 2.0, [u[-1] + pad]))


def accuracy_curve(
    scores: np.ndarray,
    labels: np.ndarray,
    thresholds: np.ndarray | None = None,
    accept: Accept = "below",
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of the accept rule at each threshold (paper 5.2's plot).

    Without ``thresholds`` every distinct decision is tried (:func:`candidate_thresholds`),
    ordered from the strictest (accept nothing) to the most lenient (accept everything):
    ascending for distances, descending for similarities. Runs in O((n + k) log n)
    through sorted searches.
    """
    sign = _sign(accept)
    d, y = check_scores(scores, labels)
    if d.size == 0:
        raise InkfaceError("no pairs to compute an accuracy curve on")
    d = sign * d
    t = candidate_thresholds(d) if thresholds is None else sign * np.asarray(thresholds, np.float64)
    genuine = np.sort(d[y])
    forged = np.sort(d[~y])
    accepted_genuine = np.searchsorted(genuine, t, side="right")
    accepted_forged = np.searchsorted(forged, t, side="right")
    correct = accepted_genuine + (forged.size - accepted_forged)
    return sign * t, correct / d.size


def accuracy_threshold(
    scores: np.ndarray, labels: np.ndarray, *, accept: Accept
) -> ThresholdChoice:
    """The threshold maximising accuracy on ``scores`` (validation pairs).

    Exact search over every distinct decision; ties go to the strictest threshold (the
    smallest distance, the largest similarity).
    """
    t, acc = accuracy_curve(scores, labels, accept=accept)
    i = int(np.argmax(acc))
    return ThresholdChoice(threshold=float(t[i]), accuracy=float(acc[i]))


def threshold_at_far(impostor_scores: np.ndarray, far: float, *, accept: Accept) -> float:
    """The most lenient threshold accepting at most ``far`` of ``impostor_scores``.

    Impostor scores are those of pairs that must be rejected (non-mated searches,
    forgeries). At most ``floor(far * n)`` of them pass; ``far = 1`` accepts everything
    (an infinite threshold). Ties at the threshold are rejected together.
    """
    sign = _sign(accept)
    if not 0.0 <= far <= 1.0:
        raise InkfaceError(f"a false-accept rate must lie in [0, 1], got {far}")
    d = np.sort(sign * np.asarray(impostor_scores, dtype=np.float64).ravel())
    if d.size == 0:
        raise InkfaceError("a threshold at a false-accept rate needs impostor scores")
    allowed = int(np.floor(far * d.size))
    if allowed >= d.size:
        return sign * np.inf
    edge = d[allowed]
    # Strictly below the first impostor that must stay out, even where the epsilon is
    # lost in rounding (large scores).
    below = min(edge - FAR_EPSILON, float(np.nextafter(edge, -np.inf)))
    return float(sign * below)
