"""A hand-made decision policy (``meta.json["verification"]``) for tests of the verifier
and the gallery that do not train a model."""

from __future__ import annotations

from typing import Any


def _rates(far: float, frr: float) -> dict[str, Any]:
    return {"threshold": 0.0, "far_skilled": far, "far_random": far / 2, "frr": frr}


def handmade_policy(scale: float = 1.0) -> dict[str, Any]:
    """Three operating points for 1..3 references, Platt calibration, writer thresholds
    for 3 references (offset, strength 0.5). ``scale`` multiplies every threshold."""
    thresholds = {
        "accuracy": (0.5, 0.55, 0.6),
        "eer": (0.7, 0.75, 0.8),
        "far=0.01": (0.3, 0.35, 0.4),
    }
    points = {
        name: {
            "thresholds": {str(k + 1): scale * t for k, t in enumerate(values)},
            "validation": {str(k + 1): _rates(0.01 * (k + 1), 0.1) for k in range(3)},
        }
        for name, values in thresholds.items()
    }
    writer = {
        name: {
            "family": "offset",
            "strength": 0.5,
            "thresholds": {"3": scale * values[2]},
            "validation": {"3": _rates(0.02, 0.05)},
        }
        for name, values in thresholds.items()
    }
    return {
        "format": 1,
        "default_operating_point": "eer",
        "impostors": "skilled",
        "max_references": 3,
        "combination": {"rule": "mean", "reason": "hand-made"},
        "operating_points": points,
        "calibration": {
            str(k): {"method": "platt", "a": 4.0, "b": -5.0 / scale} for k in (1, 2, 3)
        },
        "writer_thresholds": {
            "min_references": 3,
            "median_spread": {"3": 0.3 * scale},
            "operating_points": writer,
        },
    }
