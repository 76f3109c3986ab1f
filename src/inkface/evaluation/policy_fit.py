"""Fit a verifier's decision policy on validation writers and measure it on test writers.

:func:`fit_policy` chooses everything on validation (never on test): the multi-reference
combination rule, each operating point's threshold for k = 1..5 references, one
``p_genuine`` calibrator per k and the writer-threshold rule. k = 1 uses the validation
pairs of the paper's protocol; k >= 2 uses simulated reference-set trials
(:mod:`inkface.evaluation.multi_reference`). :func:`evaluate_policy` applies the stored
policy unchanged to test writers and reports FAR/FRR (FMR/FNMR) per operating point and k
with writer-bootstrap intervals, global- against user-threshold EERs and calibration.
The result of :func:`fit_policy` is the ``meta.json["verification"]`` block
(:mod:`inkface.evaluation.policy`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inkface.evaluation.calibration import Calibrator, choose_calibrator, reliability
from inkface.evaluation.multi_reference import (
    MAX_REFERENCES,
    RULES,
    EmbeddedImages,
    max_references,
    trials_with_spread,
)
from inkface.evaluation.operating_points import (
    DEFAULT_OPERATING_POINT,
    DEFAULT_OPERATING_POINTS,
    IMPOSTOR_KINDS,
    OperatingPoint,
    equal_error,
    impostor_kind,
    rates_at,
    threshold_for,
    thresholds_for,
    user_threshold_eer,
)
from inkface.evaluation.policy import POLICY_FORMAT, legacy_policy
from inkface.evaluation.verification import GENUINE, PairScores
from inkface.evaluation.writer_thresholds import (
    FAMILIES,
    MIN_WRITER_REFERENCES,
    STRENGTHS,
    median_spread,
    normalised_scores,
)


@dataclass(frozen=True)
class PolicySettings:
    """Which operating points to store, the default, and the bootstrap settings."""

    operating_points: tuple[str, ...] = DEFAULT_OPERATING_POINTS
    default: str = DEFAULT_OPERATING_POINT
    n_boot: int = 1000
    level: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class Trials:
    """Scores for one k: combined distances and each trial's reference spread."""

    scores: PairScores
    spread: np.ndarray


def _trials(pairs: PairScores, images: EmbeddedImages, k: int, rule: str, seed: int) -> Trials:
    if k == 1:  # the paper's own pairs
        return Trials(pairs, np.full(len(pairs), np.nan))
    return Trials(*trials_with_spread(images, k, rule, seed))


def _genuine_vs(scores: PairScores, impostors: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keep = (scores.kinds == GENUINE) | (scores.kinds == IMPOSTOR_KINDS[impostors])
    return scores.distances[keep], scores.labels[keep], scores.writers[keep]


def choose_rule(
    pairs: PairScores, images: EmbeddedImages, impostors: str, k_max: int, seed: int
) -> dict[str, Any]:
    """The combination rule with the lowest mean validation EER over k = 2..k_max."""
    table = {
        rule: {
            str(k): equal_error(_trials(pairs, images, k, rule, seed).scores, impostors)
            for k in range(2, k_max + 1)
        }
        for rule in RULES
    }
    means = {
        rule: float(np.mean([v for v in row.values() if v is not None]))
        for rule, row in table.items()
        if any(v is not None for v in row.values())
    }
    if not means:
        reason = "mean (not measured: validation writers have too few genuine signatures)"
        return {"rule": "mean", "reason": reason, "validation_eer": table, "mean_eer": {}}
    best = min(RULES, key=lambda r: (round(means.get(r, np.inf), 12), RULES.index(r)))
    listed = ", ".join(f"{r} {100 * m:.2f}%" for r, m in means.items())
    reason = (
        f"lowest mean {impostors}-forgery EER on validation over k=2..{k_max} references ({listed})"
    )
    return {"rule": best, "reason": reason, "validation_eer": table, "mean_eer": means}


def fit_policy(
    pairs: PairScores, images: EmbeddedImages, settings: PolicySettings = PolicySettings()
) -> dict[str, Any]:
    """The decision policy fixed on validation ``pairs`` (the paper's pairs) and
    ``images`` (the same writers' embedded images, for k >= 2 and writer thresholds)."""
    impostors = impostor_kind(pairs)
    k_max = max(1, min(MAX_REFERENCES, max_references(images)))
    combination = choose_rule(pairs, images, impostors, k_max, settings.seed)
    rule = combination["rule"]
    trials = {k: _trials(pairs, images, k, rule, settings.seed) for k in range(1, k_max + 1)}
    trials = {k: t for k, t in trials.items() if impostor_count(t.scores, impostors)}
    names = [OperatingPoint.parse(n).name for n in settings.operating_points]
    default = OperatingPoint.parse(settings.default).name
    if default not in names:
        names.insert(0, default)
    points: dict[str, Any] = {n: {"thresholds": {}, "validation": {}} for n in names}
    calibration: dict[str, Any] = {}
    for k, t in trials.items():
        for name, value in thresholds_for(names, t.scores, impostors).items():
            points[name]["thresholds"][str(k)] = value
            points[name]["validation"][str(k)] = _rates(t.scores, value, settings)
        d, y, w = _genuine_vs(t.scores, impostors)
        calibrator, cv = choose_calibrator(d, y, w, settings.seed)
        calibration[str(k)] = {**calibrator.to_json(), "cv_brier": cv}
    return {
        "format": POLICY_FORMAT,
        "default_operating_point": default,
        "impostors": impostors,
        "max_references": max(trials),
        "combination": combination,
        "operating_points": points,
        "calibration": calibration,
        "writer_thresholds": fit_writer_rule(trials, names, impostors, settings),
    }


NO_FORGERIES_NOTE = (
    "the validation writers had no forgery pairs (no skilled forgeries and a single "
    "writer), so no operating point could be fixed: the paper's accuracy threshold on "
    "single pairs is used for any number of references; add writers or forgeries"
)


def fit_policy_or_fallback(
    pairs: PairScores,
    images: EmbeddedImages,
    fallback_threshold: float,
    settings: PolicySettings = PolicySettings(),
) -> dict[str, Any]:
    """:func:`fit_policy`, or, when validation holds no forgery pairs at all, the single
    ``fallback_threshold`` (the paper's) with a note saying why."""
    if not np.any(pairs.kinds != GENUINE):
        return legacy_policy(max(float(fallback_threshold), 1e-6), NO_FORGERIES_NOTE)
    return fit_policy(pairs, images, settings)


def impostor_count(scores: PairScores, impostors: str) -> int:
    genuine = int(np.sum(scores.kinds == GENUINE))
    forged = int(np.sum(scores.kinds == IMPOSTOR_KINDS[impostors]))
    return min(genuine, forged)


def fit_writer_rule(
    trials: Mapping[int, Trials], names: Sequence[str], impostors: str, settings: PolicySettings
) -> dict[str, Any] | None:
    """Per operating point, the writer normalisation (family, strength) that does best on
    the validation writers (:mod:`inkface.evaluation.writer_thresholds`), averaged over
    the reference counts with writer thresholds (>= 3), and its thresholds per count."""
    usable = {k: t for k, t in trials.items() if k >= MIN_WRITER_REFERENCES}
    if not usable:
        return None
    medians = {k: median_spread(t.spread) for k, t in usable.items()}
    candidates = [(f, s) for s in STRENGTHS for f in FAMILIES if s > 0 or f == FAMILIES[0]]
    points: dict[str, Any] = {}
    for name in names:
        point = OperatingPoint.parse(name)
        scored = []
        for family, strength in candidates:
            values = []
            for k, t in usable.items():
                z = normalised_scores(t.scores, t.spread, medians[k], family, strength)
                threshold = threshold_for(point, z, impostors, positive=False)
                values.append(_criterion(point, z, threshold, impostors))
            scored.append((round(float(np.mean(values)), 12), family, strength))
        best = min(scored, key=lambda row: row[0])  # ties: the earliest (global first)
        _, family, strength = best
        entry: dict[str, Any] = {
            "family": family,
            "strength": strength,
            "criterion": _CRITERIA[point.kind],
            "global_criterion": scored[0][0],
            "writer_criterion": best[0],
            "thresholds": {},
            "validation": {},
        }
        for k, t in usable.items():
            z = normalised_scores(t.scores, t.spread, medians[k], family, strength)
            value = threshold_for(point, z, impostors, positive=False)
            entry["thresholds"][str(k)] = value
            entry["validation"][str(k)] = _rates(z, value, settings)
        points[point.name] = entry
    return {
        "min_references": MIN_WRITER_REFERENCES,
        "median_spread": {str(k): v for k, v in medians.items()},
        "operating_points": points,
    }


_CRITERIA = {
    "far": "validation FRR (lower)",
    "frr": "validation FAR (lower)",
    "eer": "validation EER (lower)",
    "accuracy": "validation error rate (lower)",
}


def _criterion(point: OperatingPoint, z: PairScores, threshold: float, impostors: str) -> float:
    """What an operating point trades for: FRR at a FAR target, FAR at an FRR target,
    the EER, or the error rate (1 - accuracy) on genuine + impostor pairs."""
    genuine = z.distances[z.kinds == GENUINE]
    forged = z.distances[z.kinds == IMPOSTOR_KINDS[impostors]]
    frr = float(np.mean(genuine > threshold))
    far = float(np.mean(forged <= threshold))
    if point.kind == "far":
        return frr
    if point.kind == "frr":
        return far
    if point.kind == "eer":
        value = equal_error(z, impostors)
        return 1.0 if value is None else value
    return (frr * genuine.size + far * forged.size) / (genuine.size + forged.size)


def _rates(scores: PairScores, threshold: float, settings: PolicySettings) -> dict[str, Any]:
    return rates_at(scores, threshold, settings.n_boot, settings.seed, settings.level)


def evaluate_policy(
    policy: Mapping[str, Any],
    pairs: PairScores,
    images: EmbeddedImages,
    settings: PolicySettings = PolicySettings(),
) -> dict[str, Any]:
    """The stored ``policy`` applied unchanged to test ``pairs`` / ``images``: rates per
    operating point and k, global vs writer thresholds, calibration. JSON-ready."""
    impostors = str(policy["impostors"])
    rule = str(policy["combination"]["rule"])
    k_max = min(int(policy["max_references"]), max(1, max_references(images)))
    trials = {k: _trials(pairs, images, k, rule, settings.seed + 1) for k in range(1, k_max + 1)}
    trials = {k: t for k, t in trials.items() if len(t.scores)}
    points: dict[str, Any] = {}
    for name, entry in policy["operating_points"].items():
        points[name] = {
            str(k): _rates(t.scores, float(entry["thresholds"][str(k)]), settings)
            for k, t in trials.items()
            if str(k) in entry["thresholds"]
        }
    eer = {
        str(k): {kind: equal_error(t.scores, kind) for kind in IMPOSTOR_KINDS}
        for k, t in trials.items()
    }
    calibration = {}
    for k, t in trials.items():
        if str(k) in policy["calibration"] and impostor_count(t.scores, impostors):
            d, y, _ = _genuine_vs(t.scores, impostors)
            p = Calibrator.from_json(policy["calibration"][str(k)])(d)
            calibration[str(k)] = reliability(p, y)
    return {
        "rule": rule,
        "impostors": impostors,
        "operating_points": points,
        "eer": eer,
        "calibration": calibration,
        "user_thresholds": _writer_results(policy, trials, impostors, settings),
    }


def _writer_results(
    policy: Mapping[str, Any],
    trials: Mapping[int, Trials],
    impostors: str,
    settings: PolicySettings,
) -> dict[str, Any]:
    """Global-threshold EER, sigver's user-threshold EER, the EER of the writer rule
    chosen for ``eer``, and every operating point's rates with writer thresholds, per
    number of references (test writers)."""
    rule = policy.get("writer_thresholds")
    out: dict[str, Any] = {
        "eer_global": {str(k): equal_error(t.scores, impostors) for k, t in trials.items()},
        "eer_user": {str(k): user_threshold_eer(t.scores, impostors) for k, t in trials.items()},
        "eer_writer_rule": {},
        "operating_points": {},
    }
    if not rule:
        return out
    for name, entry in rule["operating_points"].items():
        for k, t in trials.items():
            if str(k) not in entry["thresholds"]:
                continue
            median = float(rule["median_spread"][str(k)])
            z = normalised_scores(t.scores, t.spread, median, entry["family"], entry["strength"])
            threshold = float(entry["thresholds"][str(k)])
            out["operating_points"].setdefault(name, {})[str(k)] = _rates(z, threshold, settings)
            if name == "eer":
                out["eer_writer_rule"][str(k)] = equal_error(z, impostors)
    return out
