"""``p_genuine``: Platt and isotonic calibration of distances, class-balanced, and the
expected calibration error with its reliability bins (issue 13)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inkface.core.errors import InkfaceError
from inkface.evaluation.calibration import (
    MAX_BREAKPOINTS,
    Calibrator,
    balanced_weights,
    choose_calibrator,
    fit_isotonic,
    fit_platt,
    reliability,
)
from inkface.evaluation.plots import plot_reliability


def logistic_data(n: int, seed: int, a: float = 4.0, b: float = -8.0):
    """Distances uniform on [0, 1] and labels drawn from p = sigmoid(a + b d)."""
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.0, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-(a + b * d)))
    return d, (rng.random(n) < p).astype(int)


def test_balanced_weights_give_each_class_half() -> None:
    y = np.array([1, 0, 0, 0])
    w = balanced_weights(y)
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum()) == pytest.approx(2.0)
    with pytest.raises(InkfaceError, match="genuine and forged"):
        balanced_weights(np.ones(3))


def test_platt_recovers_a_balanced_logistic() -> None:
    d, y = logistic_data(20_000, 0)  # a = 4, b = -8: classes balanced around d = 0.5
    fitted = fit_platt(d, y)
    assert fitted.params["b"] == pytest.approx(-8.0, rel=0.1)
    assert fitted.params["a"] == pytest.approx(4.0, rel=0.1)
    p = fitted(np.array([0.0, 0.5, 1.0]))
    assert p[0] > 0.95 and p[1] == pytest.approx(0.5, abs=0.05) and p[2] < 0.05


def test_platt_stays_finite_on_separable_pairs() -> None:
    d = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    y = np.array([1, 1, 1, 0, 0, 0])
    p = fit_platt(d, y)(d)
    assert np.all(np.isfinite(p)) and np.all(np.diff(p) < 0)
    assert p[0] < 1.0 and p[-1] > 0.0  # Platt's targets keep it off 0 and 1


def test_isotonic_is_decreasing_bounded_and_small() -> None:
    d, y = logistic_data(5_000, 1)
    fitted = fit_isotonic(d, y)
    x = np.asarray(fitted.params["x"])
    assert len(x) <= MAX_BREAKPOINTS and np.all(np.diff(x) > 0)
    p = fitted(np.linspace(-1, 2, 300))
    assert np.all(np.diff(p) <= 1e-12) and p.min() > 0 and p.max() < 1


def test_reliability_and_ece() -> None:
    d, y = logistic_data(20_000, 2)
    good = reliability(fit_platt(d, y)(d), y)
    assert good["ece"] < 0.03
    assert sum(good["share"]) == pytest.approx(1.0)
    bad = reliability(np.full(len(d), 0.9), y)  # always "probably genuine"
    assert bad["ece"] > 0.3
    assert bad["predicted"][9] == pytest.approx(0.9) and bad["predicted"][0] is None


def test_choice_by_writer_cross_validation_and_json(tmp_path) -> None:
    d, y = logistic_data(3_000, 3)
    writers = np.arange(3_000) % 30
    calibrator, cv = choose_calibrator(d, y, writers)
    assert set(cv) == {"platt", "isotonic"} and all(v is not None for v in cv.values())
    best = min(cv, key=lambda m: cv[m])
    assert calibrator.method == best
    again = Calibrator.from_json(json.loads(json.dumps(calibrator.to_json())))
    assert np.allclose(again(d[:50]), calibrator(d[:50]))
    # One writer cannot be split in two folds: Platt, without scores.
    single, cv = choose_calibrator(d[:100], y[:100], np.zeros(100))
    assert single.method == "platt" and cv == {"platt": None, "isotonic": None}
    with pytest.raises(InkfaceError, match="calibration method"):
        Calibrator.from_json({"method": "temperature"})
    curve = reliability(calibrator(d), y)
    path = plot_reliability({"1 reference": curve}, tmp_path / "r.png")
    assert path.read_bytes().startswith(b"\x89PNG")
