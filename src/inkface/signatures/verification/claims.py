"""Decide a claimed identity against an enrolled writer's references (``gallery verify``).

The enrolment gallery keeps every reference embedding of a writer, so a claim is a
verification with k = all of them: the distances are combined with the run's rule and
compared with the operating point's threshold for k (:mod:`inkface.evaluation.policy`).
When the writer has at least three references, a *writer threshold* is derived from the
spread of their own references (:mod:`inkface.evaluation.writer_thresholds`); it decides,
and the global decision is reported beside it. Runs without a stored policy (the
identification paper's Siamese network, verifiers trained before operating points) keep
the earlier rule: the nearest reference's similarity against the run's similarity
threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inkface.evaluation.multi_reference import reference_spread
from inkface.evaluation.policy import POLICY_KEY, DecisionPolicy
from inkface.models.run import META_FILE
from inkface.signatures.verification.embedder import VERIFICATION_TASK, Embedder

NO_POLICY_NOTE = (
    "this run has no stored operating points (a Siamese identification run, or a verifier "
    "trained before them): the nearest reference's similarity is compared with the run's "
    "similarity threshold; no writer threshold or error rates"
)


def claim_policy(embedder: Embedder, source: str | Path = META_FILE) -> DecisionPolicy | None:
    """The decision policy of a verification run that stores one, else None; ``source``
    (the run's ``meta.json``) is named when the policy is malformed."""
    extra = embedder.meta.extra or {}
    if embedder.meta.task != VERIFICATION_TASK or not extra.get(POLICY_KEY):
        return None
    return DecisionPolicy.from_meta(extra, embedder.meta.threshold, source)


def writer_spread(references: np.ndarray, policy: DecisionPolicy | None) -> float | None:
    """The spread of a writer's reference embeddings (mean leave-one-out combined
    distance), or None with fewer than two references or no policy."""
    if policy is None or len(references) < 2:
        return None
    return float(reference_spread(np.asarray(references), policy.rule).mean())


def writer_thresholds(
    policy: DecisionPolicy | None, n_references: int, spread: float | None
) -> dict[str, float]:
    """The writer's distance threshold at every operating point (empty without one)."""
    if policy is None or spread is None:
        return {}
    out = {}
    for name in policy.operating_points:
        found = policy.writer_threshold(name, n_references, spread)
        if found is not None:
            out[name] = found[0]
    return out


def decide_claim(
    embedder: Embedder,
    policy: DecisionPolicy | None,
    references: np.ndarray,
    query: np.ndarray,
    operating_point: str | None = None,
    spread: float | None = None,
    similarity_limit: float | None = None,
) -> dict[str, Any]:
    """The claim's decision fields. ``similarity_limit`` (``--threshold``) overrides the
    policy with a manual similarity threshold, as before operating points existed."""
    distances = np.sqrt(np.maximum(((np.asarray(references) - query) ** 2).sum(axis=1), 0.0))
    if policy is None:
        return _without_policy(embedder, distances, similarity_limit)
    n = len(distances)
    distance = policy.combine(distances)
    glob = policy.decision(operating_point, n)
    global_block = {
        "threshold": glob.threshold,
        "decision": _accept(distance <= glob.threshold),
        "far": glob.far,
        "frr": glob.frr,
        "k_threshold": glob.k_threshold,
    }
    writer_block = None
    found = None if spread is None else policy.writer_threshold(operating_point, n, spread)
    if found is not None:
        value, n_used = found
        rates = policy.writer_rates(operating_point, n_used)
        writer_block = {
            "threshold": value,
            "decision": _accept(distance <= value),
            "far": _rate(rates.get(f"far_{policy.impostors}")),
            "frr": _rate(rates.get("frr")),
            "k_threshold": n_used,
            "spread": spread,
            "rule": policy.writer_rule(operating_point),
        }
    used = writer_block or global_block
    notes = list(glob.notes)
    if writer_block is None:
        notes.append(
            f"writer threshold needs at least {policy.min_writer_references} references "
            f"({n} enrolled): the global threshold decides"
        )
    similarity = float(embedder.similarity(distance))
    out = {
        "distance": distance,
        "similarity": similarity,
        "threshold": float(embedder.similarity(used["threshold"])),
        "decision": used["decision"],
        "threshold_used": "writer" if writer_block else "global",
        "distance_threshold": used["threshold"],
        "operating_point": glob.operating_point,
        "references": n,
        "distances": [float(d) for d in distances],
        "rule": policy.rule,
        "p_genuine": policy.p_genuine(distance, glob.k_threshold),
        "far": used["far"],
        "frr": used["frr"],
        "global": global_block,
        "writer": writer_block,
        "notes": notes,
    }
    if similarity_limit is not None:
        out.update(_manual(similarity, similarity_limit))
    return out


def _without_policy(
    embedder: Embedder, distances: Sequence[float], similarity_limit: float | None
) -> dict[str, Any]:
    distance = float(np.min(distances))
    similarity = float(embedder.similarity(distance))
    limit = embedder.threshold_similarity if similarity_limit is None else similarity_limit
    return {
        "distance": distance,
        "similarity": similarity,
        "threshold": float(limit),
        "decision": _accept(similarity >= limit),
        "threshold_used": "manual" if similarity_limit is not None else "global",
        "distance_threshold": None,
        "operating_point": None,
        "references": len(distances),
        "distances": [float(d) for d in distances],
        "rule": "min",
        "p_genuine": None,
        "far": None,
        "frr": None,
        "global": None,
        "writer": None,
        "notes": [NO_POLICY_NOTE],
    }


def _manual(similarity: float, limit: float) -> dict[str, Any]:
    return {
        "threshold": float(limit),
        "decision": _accept(similarity >= limit),
        "threshold_used": "manual",
        "distance_threshold": None,
        "far": None,
        "frr": None,
    }


def _accept(ok: bool | np.bool_) -> str:
    return "accept" if bool(ok) else "reject"


def _rate(value: Any) -> float | None:
    return None if value is None else float(value)
