"""A trained verifier's decision policy, read from ``meta.json``: how to turn distances
to k references into a decision with its operating point, error rates and p_genuine.

Training (:mod:`inkface.evaluation.policy_fit`) stores the policy under
``meta.json["verification"]``::

    format                   1
    default_operating_point  "eer"
    impostors                "skilled" (or "random" for data without forgeries)
    max_references           the largest k with its own thresholds (<= 5)
    combination              {"rule": "mean" | "min" | "nearest2", "reason", per-rule EERs}
    operating_points         {name: {"thresholds": {"1": t, ...}, "validation": {"1": rates}}}
    calibration              {"1": {"method": "platt", "a", "b"} | {"method": "isotonic", "x", "y"}}
    writer_thresholds        {"min_references": 3, "median_spread": {"3": M, ...},
                              "operating_points": {name: {"family", "strength",
                                                   "thresholds": {"3": t, ...}, ...}}} | null

A run trained before operating points existed has only ``meta.json["threshold"]`` (the
paper's accuracy rule on single pairs): it loads as the ``accuracy`` operating point with
that threshold for every k, the mean rule, no calibration and a note saying so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike, fspath
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.evaluation.calibration import Calibrator
from inkface.evaluation.multi_reference import RULES, combine
from inkface.evaluation.operating_points import DEFAULT_OPERATING_POINT, canonical_name
from inkface.evaluation.writer_thresholds import (
    FAMILIES,
    MIN_WRITER_REFERENCES,
    writer_threshold,
)

POLICY_KEY = "verification"
POLICY_FORMAT = 1
LEGACY_NOTE = (
    "this run was trained before operating points: its single threshold (maximum "
    "validation accuracy on single pairs, the paper's rule) is used for any number of "
    "references, and no error rates or p_genuine are known; retrain to get them"
)


@dataclass(frozen=True)
class Decision:
    """The threshold for one (operating point, k) and what validation promised there."""

    operating_point: str
    k: int
    k_threshold: int
    threshold: float
    far: float | None = None
    frr: float | None = None
    far_random: float | None = None
    notes: list[str] = field(default_factory=list)


class DecisionPolicy:
    """Thresholds per operating point and number of references, calibration, writer
    thresholds; built from ``meta.json`` by :meth:`from_meta`."""

    def __init__(self, data: Mapping[str, Any], source: str | PathLike[str] = "meta.json") -> None:
        """``source``: the ``meta.json`` the policy was read from, named in errors."""
        try:
            check_policy(data)
        except (InkfaceError, KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise InkfaceError(
                f"{fspath(source)}: malformed verification policy ({detail})"
            ) from None
        self.data = data
        self.legacy = bool(data.get("legacy", False))
        self.default_operating_point = str(data.get("default_operating_point", "eer"))
        self.rule = str(data["combination"]["rule"])
        self.max_references = max(1, int(data.get("max_references", 1)))
        self._points: Mapping[str, Any] = data["operating_points"]
        self._calibration = {
            int(k): Calibrator.from_json(v) for k, v in (data.get("calibration") or {}).items()
        }
        self._writer = data.get("writer_thresholds") or None

    @classmethod
    def from_meta(
        cls,
        extra: Mapping[str, Any] | None,
        threshold: float | None,
        source: str | PathLike[str] = "meta.json",
    ) -> DecisionPolicy:
        """The policy stored in ``meta.json``, or the legacy one around its threshold;
        errors name ``source`` (the run's ``meta.json`` path, when the caller knows it)."""
        stored = (extra or {}).get(POLICY_KEY)
        if stored:
            return cls(stored, source)
        if threshold is None or not threshold > 0:
            raise InkfaceError(f"{fspath(source)}: the run has no positive decision threshold")
        return cls(legacy_policy(float(threshold)), source)

    @property
    def operating_points(self) -> list[str]:
        return list(self._points)

    @property
    def impostors(self) -> str:
        return str(self.data.get("impostors", "skilled"))

    def resolve(self, operating_point: str | None) -> str:
        """The canonical name of ``operating_point`` (None: the default); an unknown or
        unstored one is an error listing those available."""
        name = self.default_operating_point if operating_point is None else operating_point
        canonical = canonical_name(name)
        if canonical not in self._points:
            raise InkfaceError(
                f"operating point {name!r} is not stored in this run; available: "
                f"{', '.join(self._points)}"
            )
        return canonical

    def combine(self, distances: Sequence[float] | np.ndarray) -> float:
        return float(combine(np.asarray(distances, dtype=np.float64), self.rule))

    def _k_used(self, k: int, available: Mapping[str, Any], what: str) -> tuple[int, list[str]]:
        ks = sorted(int(v) for v in available)
        if not ks:
            raise InkfaceError(f"the run stores no {what}")
        if k in ks:
            return k, []
        used = max((v for v in ks if v <= k), default=ks[0])
        return used, [
            f"{what} were fixed on validation for up to {ks[-1]} references; "
            f"{k} given, so those for {used} are used"
        ]

    def decision(self, operating_point: str | None, k: int) -> Decision:
        """The threshold of an operating point for k references and its promised rates."""
        if k < 1:
            raise InkfaceError("a decision needs at least one reference")
        name = self.resolve(operating_point)
        entry = self._points[name]
        k_used, notes = self._k_used(k, entry["thresholds"], "thresholds")
        rates = (entry.get("validation") or {}).get(str(k_used)) or {}
        if self.legacy:
            notes = [str(self.data.get("note") or LEGACY_NOTE)]
        return Decision(
            operating_point=name,
            k=k,
            k_threshold=k_used,
            threshold=float(entry["thresholds"][str(k_used)]),
            far=_rate(rates, f"far_{self.impostors}"),
            frr=_rate(rates, "frr"),
            far_random=_rate(rates, "far_random"),
            notes=notes,
        )

    def p_genuine(self, distance: float, k: int) -> float | None:
        """Calibrated probability of a genuine signature (even prior odds), or None."""
        if not self._calibration:
            return None
        k_used = max((v for v in self._calibration if v <= k), default=min(self._calibration))
        return float(self._calibration[k_used](distance))

    def writer_threshold(
        self, operating_point: str | None, n_references: int, spread: float
    ) -> tuple[float, int] | None:
        """The writer's distance threshold from the spread of their references (and the
        number of references whose normalised threshold was used); None when the run has
        no writer-threshold rule or the writer has fewer than the minimum references."""
        if not self._writer or n_references < self.min_writer_references:
            return None
        name = self.resolve(operating_point)
        entry = self._writer["operating_points"].get(name)
        if entry is None:
            return None
        n_used, _ = self._k_used(n_references, entry["thresholds"], "writer thresholds")
        value = writer_threshold(
            float(entry["thresholds"][str(n_used)]),
            spread,
            float(self._writer["median_spread"][str(n_used)]),
            str(entry["family"]),
            float(entry["strength"]),
        )
        return value, n_used

    def writer_rule(self, operating_point: str | None) -> dict[str, Any] | None:
        """The writer normalisation chosen for an operating point (family, strength)."""
        if not self._writer:
            return None
        entry = self._writer["operating_points"].get(self.resolve(operating_point))
        return None if entry is None else {"family": entry["family"], "strength": entry["strength"]}

    def writer_rates(self, operating_point: str | None, n_used: int) -> Mapping[str, Any]:
        """Validation rates of the writer-threshold rule at an operating point."""
        if not self._writer:
            return {}
        entry = self._writer["operating_points"][self.resolve(operating_point)]
        return (entry.get("validation") or {}).get(str(n_used)) or {}

    @property
    def min_writer_references(self) -> int:
        if not self._writer:
            return MIN_WRITER_REFERENCES
        return int(self._writer.get("min_references", MIN_WRITER_REFERENCES))

    def describe(self) -> dict[str, Any]:
        """What a service lists: operating points with their k=1 thresholds and rates."""
        points = {}
        for name in self._points:
            d = self.decision(name, 1)
            points[name] = {"threshold": d.threshold, "far": d.far, "frr": d.frr}
        return {
            "operating_points": points,
            "default_operating_point": self.default_operating_point,
            "combination_rule": self.rule,
            "max_references": self.max_references,
            "calibrated": bool(self._calibration),
            "writer_thresholds": bool(self._writer),
            "legacy_threshold_only": self.legacy,
        }


def legacy_policy(threshold: float, note: str = LEGACY_NOTE) -> dict[str, Any]:
    """The policy of a run trained before operating points (or whose validation writers
    had no forgeries to fix them on): its one accuracy threshold, with ``note``."""
    return {
        "format": POLICY_FORMAT,
        "legacy": True,
        "note": note,
        "default_operating_point": "accuracy",
        "impostors": "skilled",
        "max_references": 1,
        "combination": {"rule": "mean", "reason": "runs before operating points used the mean"},
        "operating_points": {"accuracy": {"thresholds": {"1": threshold}, "validation": {}}},
        "calibration": {},
        "writer_thresholds": None,
    }


def check_policy(data: Mapping[str, Any]) -> None:
    """Raise (InkfaceError, KeyError, TypeError, ValueError) unless ``data`` is a policy
    this code can apply: known rule and family, finite thresholds keyed by k, parseable
    operating point names and calibrators. meta.json is untrusted input."""
    if not isinstance(data, Mapping) or data.get("format") != POLICY_FORMAT:
        raise InkfaceError(f"unsupported verification policy format {data.get('format')!r}")
    if data["combination"]["rule"] not in RULES:
        raise ValueError(f"unknown combination rule {data['combination']['rule']!r}")
    points = data["operating_points"]
    if not isinstance(points, Mapping) or not points:
        raise ValueError("no operating points")
    _check_tables(points, positive=True)
    if data.get("default_operating_point", "eer") not in points:
        raise ValueError("the default operating point is not stored")
    for entry in (data.get("calibration") or {}).values():
        calibrator = Calibrator.from_json(entry)
        if not np.all(np.isfinite(calibrator(np.linspace(0.0, 4.0, 9)))):
            raise ValueError("calibration gives non-finite probabilities")
    writer = data.get("writer_thresholds")
    if writer:
        _check_tables(writer["operating_points"], positive=False)
        for entry in writer["operating_points"].values():
            if entry["family"] not in FAMILIES or not 0.0 <= float(entry["strength"]) <= 1.0:
                raise ValueError(f"bad writer normalisation {entry['family']!r}")
            for k in entry["thresholds"]:
                if not np.isfinite(float(writer["median_spread"][k])):
                    raise ValueError("writer median spread must be finite")


def _check_tables(points: Mapping[str, Any], positive: bool) -> None:
    for name, entry in points.items():
        if canonical_name(name) != name:
            raise ValueError(f"operating point {name!r} is not in canonical form")
        thresholds = entry["thresholds"]
        if not isinstance(thresholds, Mapping) or not thresholds:
            raise ValueError(f"operating point {name}: no thresholds")
        for k, value in thresholds.items():
            if not (str(k).isdigit() and 1 <= int(k) <= 99):
                raise ValueError(f"operating point {name}: bad reference count {k!r}")
            value = float(value)
            if not np.isfinite(value) or (positive and value <= 0):
                raise ValueError(f"operating point {name}: bad threshold {value!r}")


def _rate(rates: Mapping[str, Any], key: str) -> float | None:
    value = rates.get(key)
    return None if value is None else float(value)


__all__ = ["DEFAULT_OPERATING_POINT", "POLICY_KEY", "Decision", "DecisionPolicy", "legacy_policy"]
