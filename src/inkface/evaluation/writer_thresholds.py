"""Writer thresholds: writer-dependent decisions on a writer-independent model.

A writer whose own signatures vary a lot needs a more lenient threshold than a writer
who signs the same way every time. With at least ``MIN_WRITER_REFERENCES`` references,
the writer's *spread* ``m`` is measured from the references alone: each reference against
the others (leave one out, combined with the run's rule), averaged. The questioned
distance ``d`` is then normalised before the operating point's threshold applies (where
the paper is silent; our rule, tuned on validation writers):

* ``offset``: ``z = d - s * (m - M)``;
* ``scale``: ``z = d / (m / M) ** s``;

with ``M`` the median spread of validation reference sets of the same size and the
strength ``s`` in {0, 0.25, 0.5, 0.75, 1}. For each operating point the family and the
strength are chosen on the validation writers: the lowest FRR at ``far=X``, the lowest
FAR at ``frr=X``, the lowest EER at ``eer``, the highest accuracy at ``accuracy``
(averaged over 3..5 references). ``s = 0`` *is* the global threshold, so the rule never
does worse than it on validation; a plain ``s = 1`` (full Z-style normalisation) was
measured to trade a lower EER for far worse FRR at low FAR, because three references
estimate ``m`` noisily. The writer's distance threshold is ``t + s * (m - M)`` or
``t * (m / M) ** s`` for the normalised threshold ``t``.
"""

from __future__ import annotations

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.evaluation.verification import PairScores

FAMILIES = ("offset", "scale")  # preference order when validation criteria tie
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)  # preference order: the global threshold first
MIN_WRITER_REFERENCES = 3
_TINY = 1e-9


def normalise(
    distances: np.ndarray,
    spread: np.ndarray | float,
    median_spread: float,
    family: str,
    strength: float,
) -> np.ndarray:
    """Writer-normalised scores of ``distances`` (accept when at or below a threshold)."""
    d = np.asarray(distances, dtype=np.float64)
    m = np.asarray(spread, dtype=np.float64)
    if family == "offset":
        return d - strength * (m - median_spread)
    if family == "scale":
        ratio = np.maximum(m, _TINY) / max(median_spread, _TINY)
        return d / ratio**strength
    raise InkfaceError(f"unknown writer normalisation {family!r}; choose one of {FAMILIES}")


def writer_threshold(
    normalised_threshold: float,
    spread: float,
    median_spread: float,
    family: str,
    strength: float,
) -> float:
    """One writer's distance threshold: the inverse of :func:`normalise` (>= 0)."""
    t = float(normalised_threshold)
    if family == "offset":
        value = t + strength * (spread - median_spread)
    elif family == "scale":
        value = t * (max(spread, _TINY) / max(median_spread, _TINY)) ** strength
    else:
        raise InkfaceError(f"unknown writer normalisation {family!r}; choose one of {FAMILIES}")
    return float(max(value, 0.0))


def normalised_scores(
    scores: PairScores, spread: np.ndarray, median_spread: float, family: str, strength: float
) -> PairScores:
    """``scores`` with each distance replaced by its writer-normalised score."""
    z = normalise(scores.distances, spread, median_spread, family, strength)
    return PairScores(z, scores.labels, scores.kinds, scores.writers)


def median_spread(spread: np.ndarray) -> float:
    """``M``: the median spread of validation reference sets (0 when none is finite)."""
    finite = np.asarray(spread, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(np.median(finite)) if finite.size else 0.0
