"""Verification metrics, thresholds, writer bootstrap, figures and the HTML report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inkface.core.errors import InkfaceError
from inkface.evaluation import (
    PairScores,
    accuracy_curve,
    accuracy_threshold,
    auroc,
    best_threshold,
    bootstrap_ci,
    equal_error_rate,
    evaluate,
    roc_curve,
    threshold_at_far,
    verification_metrics,
    write_report,
)
from inkface.evaluation.bootstrap import bootstrap_samples
from inkface.evaluation.plots import (
    plot_accuracy_vs_threshold,
    plot_det,
    plot_distance_histograms,
    plot_pair_grid,
    plot_roc,
    plot_training_curves,
    select_grid_pairs,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pairs(distances, kinds, writers=None) -> PairScores:
    kinds = np.asarray(kinds)
    writers = np.zeros(len(kinds), dtype=int) if writers is None else writers
    return PairScores(np.asarray(distances, float), (kinds == 0).astype(int), kinds, writers)


def synthetic(n_writers: int, per_writer: int, seed: int, shift: float = 0.0) -> PairScores:
    """Genuine ~ N(0.4, 0.1), skilled ~ N(0.7, 0.15), random ~ N(0.9, 0.15)."""
    rng = np.random.default_rng(seed)
    n = n_writers * per_writer
    kinds = rng.choice(3, size=n, p=[0.5, 0.25, 0.25])
    d = np.where(
        kinds == 0,
        rng.normal(0.4 + shift, 0.1, n),
        np.where(kinds == 1, rng.normal(0.7, 0.15, n), rng.normal(0.9, 0.15, n)),
    )
    return pairs(np.abs(d), kinds, np.repeat(np.arange(n_writers), per_writer))


# Hand-made case: genuine 0.1 0.2 0.5, skilled 0.3 0.6, random 0.15 0.9 0.95.
HAND = pairs([0.1, 0.2, 0.5, 0.3, 0.6, 0.15, 0.9, 0.95], [0, 0, 0, 1, 1, 2, 2, 2])


def test_best_threshold_hand_computed_and_ties_take_smallest():
    scores = pairs([0.1, 0.2, 0.5, 0.3, 0.6, 0.7], [0, 0, 0, 1, 1, 1])
    choice = best_threshold(scores)
    # 0.25 and 0.55 both give 5/6; the smaller one is kept.
    assert choice.threshold == pytest.approx(0.25)
    assert choice.accuracy == pytest.approx(5 / 6)


def test_accuracy_curve_explicit_thresholds():
    t, acc = accuracy_curve(
        np.array([0.1, 0.2, 0.5, 0.3, 0.6, 0.7]), np.array([1, 1, 1, 0, 0, 0]), [0.0, 0.15, 1.0]
    )
    np.testing.assert_allclose(acc, [3 / 6, 4 / 6, 3 / 6])
    np.testing.assert_allclose(t, [0.0, 0.15, 1.0])


def test_best_threshold_matches_brute_force():
    scores = synthetic(20, 30, seed=3)
    choice = best_threshold(scores)
    grid = np.unique(scores.distances)
    brute = max(np.mean((scores.distances <= t) == (scores.labels == 1)) for t in grid)
    assert choice.accuracy == pytest.approx(brute)
    pred = scores.distances <= choice.threshold
    assert np.mean(pred == (scores.labels == 1)) == pytest.approx(choice.accuracy)


def test_verification_metrics_hand_computed():
    m = verification_metrics(HAND, 0.4)
    # accepted: genuine 0.1 0.2, skilled 0.3, random 0.15
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["frr"] == pytest.approx(1 / 3)
    assert m["far"] == pytest.approx(2 / 5)
    assert m["far_skilled"] == pytest.approx(1 / 2)
    assert m["far_random"] == pytest.approx(1 / 3)
    assert (m["n_genuine"], m["n_skilled"], m["n_random"], m["n_pairs"]) == (3, 2, 3, 8)
    assert m["threshold"] == 0.4
    assert all(type(v) in (float, int) for v in m.values())


def test_equal_error_rate_interpolates():
    # ROC points (FAR, TAR): (0,0) (0,1/3) (0,2/3) (1,2/3) (1,1) -> FAR = FRR = 1/3 at t=0.2167
    eer, thr = equal_error_rate(np.array([0.1, 0.2, 0.3, 0.25]), np.array([1, 1, 1, 0]))
    assert eer == pytest.approx(1 / 3)
    assert thr == pytest.approx(0.2 + 0.05 / 3)
    eer, thr = equal_error_rate(np.array([0.1, 0.3, 0.2, 0.4]), np.array([1, 1, 0, 0]))
    assert (eer, thr) == pytest.approx((0.5, 0.2))


def test_separable_and_identical_distributions():
    sep = pairs([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 2, 1])
    m = verification_metrics(sep, best_threshold(sep).threshold)
    assert (m["auroc"], m["eer"], m["accuracy"]) == (1.0, 0.0, 1.0)
    assert m["auroc_skilled"] == 1.0 and m["eer_random"] == 0.0
    rng = np.random.default_rng(0)
    d = rng.normal(0.5, 0.1, 20000)
    y = rng.integers(0, 2, 20000)
    assert auroc(d, y) == pytest.approx(0.5, abs=0.02)
    assert equal_error_rate(d, y)[0] == pytest.approx(0.5, abs=0.02)


def test_auroc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(1)
    d = np.round(rng.normal(0.5, 0.2, 300), 1)  # many ties
    y = rng.integers(0, 2, 300)
    pos, neg = d[y == 1], d[y == 0]
    expected = np.mean((pos[:, None] < neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))
    assert auroc(d, y) == pytest.approx(expected)
    fpr, tpr, thr = roc_curve(d, y)
    assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
    assert np.all(np.diff(thr) > 0)


def test_missing_kind_reports_none_and_is_json_ready():
    no_random = pairs([0.1, 0.2, 0.6, 0.7], [0, 0, 1, 1])
    m = verification_metrics(no_random, 0.4)
    for key in ("far_random", "auroc_random", "eer_random", "eer_random_threshold"):
        assert m[key] is None
    assert m["n_random"] == 0 and m["far_skilled"] == 0.0 and m["auroc_skilled"] == 1.0
    json.dumps(m, allow_nan=False)
    only_genuine = verification_metrics(pairs([0.1, 0.9], [0, 0]), 0.4)
    assert only_genuine["far"] is None and only_genuine["auroc"] is None
    assert only_genuine["accuracy"] == 0.5 and only_genuine["frr"] == 0.5


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (([0.1, 0.2], [1, 0], [0, 1], [0]), "differ in length"),
        (([0.1, 0.2], [1, 1], [0, 1], [0, 0]), "disagree"),
        (([0.1, np.nan], [1, 0], [0, 1], [0, 0]), "NaN"),
        (([0.1, 0.2], [1, 2], [0, 1], [0, 0]), "labels"),
        (([0.1, 0.2], [1, 0], [0, 3], [0, 0]), "kinds"),
        (([[0.1, 0.2]], [1], [0], [0]), "1-D"),
        (([0.1, 0.2], [1, 0], [0, 1], ["a", "b"]), "integers"),
        (([0.1, 0.2], [1, 0], [0, 1], [0.5, 1.0]), "integers"),
        ((["x", "y"], [1, 0], [0, 1], [0, 0]), "numeric"),
    ],
)
def test_pair_scores_validation(fields, message):
    with pytest.raises(InkfaceError, match=message):
        PairScores(*(np.asarray(f) for f in fields))


def test_function_input_validation():
    with pytest.raises(InkfaceError, match="equal length"):
        accuracy_curve(np.array([0.1, 0.2]), np.array([1]))
    with pytest.raises(InkfaceError, match="both genuine"):
        equal_error_rate(np.array([0.1, 0.2]), np.array([1, 1]))
    with pytest.raises(InkfaceError, match="no pairs"):
        best_threshold(pairs([], []))


def test_bootstrap_single_writer_gives_point_estimate():
    scores = synthetic(1, 200, seed=2)
    point = verification_metrics(scores, 0.55)
    ci = bootstrap_ci(scores, 0.55, ["accuracy", "far_skilled", "auroc", "eer_random"], n_boot=20)
    for name, (low, high) in ci.items():
        assert low == pytest.approx(point[name]) and high == pytest.approx(point[name])


def test_bootstrap_resamples_are_weighted_copies_of_writers():
    scores = synthetic(2, 60, seed=4)
    a, b = (scores.writers == 0), (scores.writers == 1)

    def subset(mask_list):
        idx = np.concatenate([np.flatnonzero(m) for m in mask_list])
        return PairScores(
            scores.distances[idx], scores.labels[idx], scores.kinds[idx], scores.writers[idx]
        )

    names = ["accuracy", "precision", "auroc", "eer", "eer_skilled_threshold"]
    options = [verification_metrics(subset(m), 0.55) for m in ([a, a], [a, b], [b, b])]
    samples = bootstrap_samples(scores, 0.55, names, n_boot=30, seed=1)
    for name in names:
        allowed = np.array([o[name] for o in options])
        assert np.all(np.min(np.abs(samples[name][:, None] - allowed), axis=1) < 1e-9)
        assert len(np.unique(np.round(samples[name], 12))) > 1


def test_bootstrap_ci_contains_point_narrows_and_is_deterministic():
    names = ["accuracy", "far", "frr", "auroc", "eer", "far_skilled"]
    small, large = synthetic(10, 40, seed=5), synthetic(200, 40, seed=5)
    point = verification_metrics(large, 0.55)
    ci_small = bootstrap_ci(small, 0.55, names, n_boot=300, seed=0)
    ci_large = bootstrap_ci(large, 0.55, names, n_boot=300, seed=0)
    for name in names:
        low, high = ci_large[name]
        assert low <= point[name] <= high
        assert (high - low) < 0.6 * (ci_small[name][1] - ci_small[name][0])
    assert bootstrap_ci(large, 0.55, names, n_boot=300, seed=0) == ci_large
    assert bootstrap_ci(large, 0.55, names, n_boot=300, seed=1) != ci_large


def test_bootstrap_errors_and_absent_kind():
    scores = pairs([0.1, 0.2, 0.6, 0.7], [0, 0, 1, 1], [0, 1, 0, 1])
    assert bootstrap_ci(scores, 0.4, ["far_random", "far_skilled"], n_boot=10)["far_random"] is None
    with pytest.raises(InkfaceError, match="unknown bootstrap metric"):
        bootstrap_ci(scores, 0.4, ["f1"])
    with pytest.raises(InkfaceError, match="level"):
        bootstrap_ci(scores, 0.4, ["accuracy"], level=1.5)


def test_evaluate_fixes_threshold_on_validation():
    val, test = synthetic(20, 50, seed=6), synthetic(20, 50, seed=7, shift=0.1)
    result = evaluate(val, test, n_boot=100, seed=0)
    json.dumps(result, allow_nan=False)
    assert result["threshold"] == best_threshold(val).threshold
    assert result["threshold"] != pytest.approx(best_threshold(test).threshold)
    assert result["test"] == verification_metrics(test, result["threshold"])
    assert result["validation"]["accuracy"] == pytest.approx(
        max(result["validation"]["curve"]["accuracies"]), abs=0.02
    )
    low, high = result["ci"]["accuracy"]
    assert low <= result["test"]["accuracy"] <= high


def _is_png(path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def test_plots_write_png_atomically(tmp_path):
    val, test = synthetic(10, 40, seed=8), synthetic(10, 40, seed=9, shift=0.1)
    choice = best_threshold(val)
    t, acc = accuracy_curve(val.distances, val.labels)
    rng = np.random.default_rng(0)
    images = [
        (rng.integers(0, 256, (30, 60), dtype=np.uint8), rng.random((30, 60, 3))) for _ in range(9)
    ]
    grid = [
        (a, b, float(test.distances[i]), int(test.labels[i]))
        for (a, b), i in zip(images, select_grid_pairs(test.distances), strict=True)
    ]
    history = {
        "train_loss": [1.0, 0.6, 0.4],
        "val_loss": [1.1, 0.7, 0.6],
        "val_accuracy": [0.6, 0.7, 0.8],
    }
    written = [
        plot_accuracy_vs_threshold(t, acc, choice, tmp_path / "acc.png"),
        plot_roc({"a": val, "b": test}, tmp_path / "roc.png"),
        plot_roc({"a": val}, tmp_path / "roc_skilled.png", kind="skilled"),
        plot_det({"a": val, "b": test}, tmp_path / "det.png"),
        plot_distance_histograms(test, choice.threshold, tmp_path / "hist.png"),
        plot_pair_grid(grid, tmp_path / "grid.png"),
        plot_training_curves(history, tmp_path / "curves.png"),
    ]
    for path in written:
        assert _is_png(path), path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)
    with pytest.raises(InkfaceError, match="empty"):
        plot_training_curves({}, tmp_path / "none.png")
    with pytest.raises(InkfaceError, match="forgery kind"):
        plot_roc({"a": val}, tmp_path / "x.png", kind="bogus")
    assert not (tmp_path / "none.png").exists()


def test_select_grid_pairs_bands():
    d = np.random.default_rng(0).permutation(np.arange(21.0))
    idx = select_grid_pairs(d)
    assert d[idx].tolist() == [20, 19, 18, 11, 10, 9, 2, 1, 0]
    assert d[select_grid_pairs(d[:5])].tolist() == sorted(d[:5].tolist(), reverse=True)
    np.testing.assert_array_equal(select_grid_pairs(d), idx)


def test_report_is_self_contained(tmp_path):
    val, test = synthetic(10, 40, seed=10), synthetic(10, 40, seed=11)
    result = evaluate(val, test, n_boot=50)
    result["model"] = "deepsign"
    figs = tmp_path / "figs"
    roc = plot_roc({"deepsign": test}, figs / "roc.png")
    det = plot_det({"deepsign": test}, figs / "det.png")
    run = tmp_path / "run"
    path = write_report(
        run,
        "DeepSign <CEDAR> & co",
        result,
        [roc, (det, "DET with <EER>")],
        extra_tables={"Paper Table 6": [{"model": "DeepSign", "accuracy": 0.74}]},
    )
    assert path == run / "report.html" and [p.name for p in run.iterdir()] == ["report.html"]
    text = path.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 2
    assert 'src="http' not in text and "<script" not in text and "<link" not in text
    assert "DeepSign &lt;CEDAR&gt; &amp; co" in text and "DET with &lt;EER&gt;" in text
    assert "Biometric error rates" in text and "deepsign" in text and "Paper Table 6" in text
    assert f"{result['test']['accuracy']:.4f}" in text
    with pytest.raises(InkfaceError, match=r"missing\.png"):
        write_report(run, "t", result, [tmp_path / "missing.png"])


# ---------------------------------------------------------------------------- threshold rule


def test_accuracy_threshold_directions_agree() -> None:
    distances = np.array([0.1, 0.2, 0.5, 0.3, 0.6, 0.7])
    labels = np.array([1, 1, 1, 0, 0, 0])
    below = accuracy_threshold(distances, labels, accept="below")
    assert (below.threshold, below.accuracy) == pytest.approx((0.25, 5 / 6))
    # The same pairs as similarities: same decisions, threshold mirrored, ties still
    # go to the strictest threshold (now the largest).
    above = accuracy_threshold(-distances, labels, accept="above")
    assert (above.threshold, above.accuracy) == pytest.approx((-0.25, 5 / 6))
    sims = np.array([0.9, 0.8, 0.6, 0.7, 0.3, 0.2])
    choice = accuracy_threshold(sims, labels, accept="above")
    assert np.mean((sims >= choice.threshold) == (labels == 1)) == pytest.approx(choice.accuracy)
    # 0.75 and 0.45 both give 5/6; the stricter (larger) similarity is kept.
    assert choice.accuracy == pytest.approx(5 / 6) and choice.threshold == pytest.approx(0.75)
    assert best_threshold(pairs(distances, 1 - labels)) == below
    t, _ = accuracy_curve(sims, labels, accept="above")
    assert np.all(np.diff(t) < 0)  # strictest first: descending similarities
    with pytest.raises(InkfaceError, match="accept must be"):
        accuracy_threshold(sims, labels, accept="higher")  # type: ignore[arg-type]


def test_accuracy_threshold_separable_similarities() -> None:
    sims = np.array([0.95, 0.9, 0.85, 0.4, 0.3, 0.1])
    labels = np.array([1, 1, 1, 0, 0, 0])
    choice = accuracy_threshold(sims, labels, accept="above")
    assert choice.accuracy == 1.0 and 0.4 < choice.threshold < 0.85


def test_threshold_at_far_both_directions() -> None:
    impostors = np.array([0.5, 0.35, 0.2, 0.1])  # similarities: higher = accepted
    for far, passing in ((0.0, 0), (0.25, 1), (0.5, 2), (0.6, 2), (1.0, 4)):
        t = threshold_at_far(impostors, far, accept="above")
        assert int(np.sum(impostors >= t)) == passing, far
        # The same impostors as distances: the mirrored threshold.
        d = threshold_at_far(-impostors, far, accept="below")
        assert d == -t and int(np.sum(-impostors <= d)) == passing
    assert threshold_at_far(impostors, 0.25, accept="above") == pytest.approx(0.35)
    assert threshold_at_far(impostors, 0.25, accept="above") > 0.35  # 0.35 itself stays out
    assert threshold_at_far(impostors, 1.0, accept="above") == -np.inf
    assert threshold_at_far(impostors, 1.0, accept="below") == np.inf
    # Ties at the edge are rejected together (never more than the target rate).
    tied = np.array([0.5, 0.5, 0.5, 0.1])
    assert np.mean(tied >= threshold_at_far(tied, 0.5, accept="above")) == 0.0
    # Large scores: the threshold still leaves the edge impostor out.
    big = np.array([3e6, 2e6, 1e6])
    assert np.sum(big >= threshold_at_far(big, 1 / 3, accept="above")) == 1
    with pytest.raises(InkfaceError, match=r"\[0, 1\]"):
        threshold_at_far(impostors, 1.5, accept="above")
    with pytest.raises(InkfaceError, match="impostor"):
        threshold_at_far(np.array([]), 0.1, accept="below")
