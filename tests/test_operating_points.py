"""Operating points, multi-reference decisions, writer thresholds and the stored policy
(issue 13): thresholds fixed on validation, meaning the same for any number of
references, and runs from before operating points still deciding."""

from __future__ import annotations

import json
from itertools import combinations
from math import comb

import numpy as np
import pytest

from inkface.core.errors import InkfaceError
from inkface.evaluation import PairScores, best_threshold, equal_error_rate
from inkface.evaluation.multi_reference import (
    EmbeddedImages,
    combine,
    max_references,
    reference_spread,
    reference_trials,
    trials_with_spread,
)
from inkface.evaluation.operating_points import (
    OperatingPoint,
    canonical_name,
    equal_error,
    rates_at,
    threshold_for,
    user_threshold_eer,
)
from inkface.evaluation.policy import DecisionPolicy, legacy_policy
from inkface.evaluation.policy_fit import (
    PolicySettings,
    evaluate_policy,
    fit_policy,
    fit_policy_or_fallback,
)
from inkface.evaluation.policy_report import policy_tables
from inkface.evaluation.writer_thresholds import normalise, writer_threshold


def pairs(distances, kinds, writers=None) -> PairScores:
    kinds = np.asarray(kinds)
    writers = np.zeros(len(kinds), dtype=int) if writers is None else np.asarray(writers)
    return PairScores(np.asarray(distances, float), (kinds == 0).astype(int), kinds, writers)


def clustered(n_writers: int, n_genuine: int, n_forged: int, seed: int) -> EmbeddedImages:
    """Unit-norm embeddings: each writer a cluster of its own spread; the writer's
    forgeries a nearby cluster (a skilled forger); writers far apart."""
    rng = np.random.default_rng(seed)
    rows, writers, genuine = [], [], []
    for w in range(n_writers):
        centre = rng.normal(size=16)
        spread = rng.uniform(0.2, 0.6)
        forger = centre + rng.normal(scale=0.8, size=16)
        for flag, middle, n in ((True, centre, n_genuine), (False, forger, n_forged)):
            rows += [middle + rng.normal(scale=spread, size=16) for _ in range(n)]
            writers += [w + 1000 * seed] * n
            genuine += [flag] * n
    e = np.asarray(rows)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    return EmbeddedImages(e, np.asarray(writers), np.asarray(genuine))


def paper_pairs(images: EmbeddedImages, seed: int) -> PairScores:
    """Every genuine-genuine and genuine-forged pair per writer plus random forgeries."""
    rng = np.random.default_rng(seed)
    d, kinds, writers = [], [], []

    def add(a: int, b: int, kind: int, writer: int) -> None:
        d.append(float(np.linalg.norm(images.embeddings[a] - images.embeddings[b])))
        kinds.append(kind)
        writers.append(writer)

    for w in images.writer_ids():
        gen, forg = images.of(w)
        others = np.flatnonzero(images.genuine & (images.writers != w))
        for a, b in combinations(gen, 2):
            add(a, b, 0, w)
        for a in gen:
            for b in forg:
                add(a, b, 1, w)
            add(a, int(rng.choice(others)), 2, w)
    return pairs(d, kinds, writers)


@pytest.fixture(scope="module")
def fitted() -> tuple[dict, PairScores, EmbeddedImages]:
    val = clustered(12, 7, 5, seed=1)
    settings = PolicySettings(n_boot=50)
    return fit_policy(paper_pairs(val, 0), val, settings), paper_pairs(val, 0), val


# -- operating points -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "name"),
    [("eer", "eer"), ("Accuracy", "accuracy"), ("FAR=1%", "far=0.01"), ("frr = 0.05", "frr=0.05")],
)
def test_operating_point_names_are_canonical(text: str, name: str) -> None:
    assert canonical_name(text) == name


@pytest.mark.parametrize("text", ["far=0", "far=1", "frr=-0.1", "far=abc", "median", "far"])
def test_bad_operating_points_are_refused(text: str) -> None:
    with pytest.raises(InkfaceError, match="operating point"):
        OperatingPoint.parse(text)


def test_thresholds_by_hand() -> None:
    # genuine 0.1 0.2 0.3 0.4; skilled 0.25 0.5 0.6 0.7
    scores = pairs([0.1, 0.2, 0.3, 0.4, 0.25, 0.5, 0.6, 0.7], [0, 0, 0, 0, 1, 1, 1, 1])
    far = threshold_for(OperatingPoint.parse("far=0.25"), scores, "skilled")
    assert 0.5 - 1e-6 < far < 0.5  # the highest threshold letting 1 of 4 forgeries in
    assert threshold_for(OperatingPoint.parse("frr=0.25"), scores, "skilled") == 0.3
    assert threshold_for(OperatingPoint.parse("eer"), scores, "skilled") == pytest.approx(
        equal_error_rate(scores.distances, scores.labels)[1]
    )
    assert threshold_for(OperatingPoint("accuracy"), scores, "skilled") == pytest.approx(
        best_threshold(scores).threshold
    )
    rates = rates_at(scores, far)
    assert rates["far_skilled"] == 0.25 and rates["frr"] == 0.0


@pytest.mark.parametrize("target", [0.01, 0.05, 0.2])
def test_far_and_frr_points_keep_their_promise_on_validation(target: float) -> None:
    rng = np.random.default_rng(3)
    kinds = rng.choice(2, size=600)
    d = np.where(kinds == 0, rng.normal(0.4, 0.1, 600), rng.normal(0.7, 0.15, 600))
    scores = pairs(np.abs(d), kinds)
    genuine, forged = scores.distances[kinds == 0], scores.distances[kinds == 1]
    t = threshold_for(OperatingPoint("far", target), scores, "skilled")
    assert np.mean(forged <= t) <= target
    assert np.mean(forged <= np.min(forged[forged > t])) > target  # nothing higher keeps it
    t = threshold_for(OperatingPoint("frr", target), scores, "skilled")
    assert np.mean(genuine > t) <= target
    assert np.mean(genuine > np.max(genuine[genuine < t])) > target  # the lowest such


def test_user_threshold_eer_is_per_writer() -> None:
    # Each writer is separable on its own, but not with one global threshold.
    scores = pairs(
        [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9],
        [0, 0, 1, 1, 0, 0, 1, 1],
        [0, 0, 0, 0, 1, 1, 1, 1],
    )
    assert user_threshold_eer(scores, "skilled") == 0.0
    assert equal_error(scores, "skilled") > 0.2
    assert equal_error(scores, "random") is None


# -- several references -----------------------------------------------------------------
def test_combination_rules() -> None:
    d = np.array([[0.4, 0.1, 0.3], [0.2, 0.2, 0.8]])
    assert combine(d, "mean").tolist() == pytest.approx([0.8 / 3, 0.4])
    assert combine(d, "min").tolist() == [0.1, 0.2]
    assert combine(d, "nearest2").tolist() == pytest.approx([0.2, 0.2])
    assert combine(np.array([[0.5]]), "nearest2").tolist() == [0.5]
    with pytest.raises(InkfaceError, match="combination rule"):
        combine(d, "median")


def test_reference_trials_count_and_stay_within_writers() -> None:
    images = clustered(3, 4, 3, seed=5)
    scores = reference_trials(images, k=2, rule="mean")
    subsets = comb(4, 2)  # all of them: fewer than the cap
    per_writer = subsets * (2 + 3 + 2)  # 2 genuine questioned, 3 forgeries, 2 random
    assert len(scores) == 3 * per_writer
    assert np.sum(scores.kinds == 0) == 3 * subsets * 2
    assert set(np.unique(scores.writers)) == set(images.writer_ids())
    # Groups keep random forgeries within a data set: one writer alone has none.
    lonely = EmbeddedImages(images.embeddings, images.writers, images.genuine, images.writers)
    assert not np.any(reference_trials(lonely, 2, "mean").kinds == 2)
    assert max_references(images) == 3
    _, spread = trials_with_spread(images, 3, "mean")
    assert np.all(spread > 0)
    refs = images.embeddings[images.of(images.writer_ids()[0])[0][:3]]
    loo = reference_spread(refs, "min")
    assert loo.shape == (3,) and np.all(loo > 0)


def test_per_k_thresholds_give_the_same_meaning_for_any_k(fitted) -> None:
    policy, _, val = fitted
    eer = policy["operating_points"]["eer"]
    assert set(eer["thresholds"]) == {"1", "2", "3", "4", "5"}
    for rates in eer["validation"].values():  # FAR = FRR at every k, by construction
        assert abs(rates["far_skilled"] - rates["frr"]) < 0.1
    for k, rates in policy["operating_points"]["far=0.05"]["validation"].items():
        assert rates["far_skilled"] <= 0.05, k
    # A threshold fixed on single pairs means something else for a combined distance
    # (the complaint): on the nearest of 5 references it lets far more forgeries in.
    five = reference_trials(val, 5, "min")
    one_pair = rates_at(five, eer["thresholds"]["1"])
    assert one_pair["far_skilled"] > 2 * one_pair["frr"]
    assert policy["combination"]["rule"] in {"mean", "min", "nearest2"}
    assert "validation" in policy["combination"]["reason"]


def test_policy_is_json_and_applies_to_test_writers(fitted) -> None:
    policy, _, _ = fitted
    assert json.loads(json.dumps(policy)) == policy
    test = clustered(12, 7, 5, seed=2)
    result = evaluate_policy(policy, paper_pairs(test, 1), test, PolicySettings(n_boot=50))
    rates = result["operating_points"]["eer"]["3"]
    assert set(rates) >= {"far_skilled", "far_random", "frr", "ci", "threshold"}
    assert rates["ci"]["frr"][0] <= rates["frr"] <= rates["ci"]["frr"][1]
    users = result["user_thresholds"]
    assert users["eer_user"]["1"] <= users["eer_global"]["1"]
    assert set(users["eer_writer_rule"]) == {"3", "4", "5"}
    tables = policy_tables(policy, result, "test/x")
    assert all(rows for rows in tables.values())
    json.dumps(result)


# -- writer thresholds ------------------------------------------------------------------
@pytest.mark.parametrize("family", ["offset", "scale"])
@pytest.mark.parametrize("strength", [0.0, 0.5, 1.0])
def test_writer_threshold_inverts_the_normalisation(family: str, strength: float) -> None:
    d = np.linspace(0.05, 1.5, 30)
    t, spread, median = 0.4, 0.55, 0.4
    z = normalise(d, spread, median, family, strength)
    limit = writer_threshold(t, spread, median, family, strength)
    assert np.array_equal(z <= t, d <= limit + 1e-12)
    if strength == 0.0:
        assert limit == pytest.approx(t)  # strength 0 is the global threshold


def test_writer_rule_never_loses_to_global_on_validation(fitted) -> None:
    policy, _, _ = fitted
    rule = policy["writer_thresholds"]
    assert rule["min_references"] == 3 and set(rule["median_spread"]) == {"3", "4", "5"}
    for entry in rule["operating_points"].values():
        assert entry["writer_criterion"] <= entry["global_criterion"]
        assert entry["family"] in {"offset", "scale"} and 0 <= entry["strength"] <= 1


# -- the runtime policy -----------------------------------------------------------------
def test_decision_policy_choices(fitted) -> None:
    policy = DecisionPolicy(fitted[0])
    assert policy.default_operating_point == "eer" and "far=0.01" in policy.operating_points
    d = policy.decision(None, 3)
    assert (d.operating_point, d.k, d.k_threshold, d.notes) == ("eer", 3, 3, [])
    assert d.far is not None and d.frr is not None
    many = policy.decision("FAR=1%", 9)
    assert many.operating_point == "far=0.01" and many.k_threshold == 5
    assert "up to 5 references" in many.notes[0]
    with pytest.raises(InkfaceError, match=r"available: accuracy, eer"):
        policy.decision("far=0.2", 1)
    p_near, p_far = policy.p_genuine(0.05, 2), policy.p_genuine(1.5, 2)
    assert 0 < p_far < 0.5 < p_near < 1
    assert policy.writer_threshold("eer", 2, 0.3) is None  # fewer than 3 references
    value, used = policy.writer_threshold("eer", 7, 0.3)
    assert value > 0 and used == 5
    described = policy.describe()
    assert described["operating_points"]["eer"]["threshold"] == policy.decision("eer", 1).threshold
    assert described["default_operating_point"] == "eer" and described["calibrated"]


def test_legacy_runs_decide_with_their_one_threshold() -> None:
    policy = DecisionPolicy.from_meta({"recipe": "old"}, 0.42)
    d = policy.decision(None, 3)
    assert (d.operating_point, d.threshold, d.far) == ("accuracy", 0.42, None)
    assert "before operating points" in d.notes[0]
    assert policy.p_genuine(0.3, 1) is None and policy.legacy
    with pytest.raises(InkfaceError, match="available: accuracy"):
        policy.decision("eer", 1)
    with pytest.raises(InkfaceError, match="no positive decision threshold"):
        DecisionPolicy.from_meta({}, None)


def test_validation_without_forgeries_keeps_the_paper_threshold() -> None:
    """A user's folder with no forgeries and one validation writer: no operating point
    can be fixed, so the run keeps the paper's threshold and says why."""
    images = clustered(1, 5, 0, seed=4)
    e = images.embeddings
    d = [float(np.linalg.norm(e[a] - e[b])) for a, b in combinations(range(5), 2)]
    only_genuine = pairs(d, [0] * len(d))
    policy = fit_policy_or_fallback(only_genuine, images, 0.37, PolicySettings(n_boot=10))
    d = DecisionPolicy(policy).decision(None, 2)
    assert (d.operating_point, d.threshold) == ("accuracy", 0.37)
    assert "no forgery pairs" in d.notes[0]
    test = clustered(3, 5, 2, seed=6)
    result = evaluate_policy(policy, paper_pairs(test, 0), test, PolicySettings(n_boot=10))
    assert set(result["operating_points"]) == {"accuracy"}


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.pop("operating_points"),
        lambda p: p["combination"].update(rule="vote"),
        lambda p: p["operating_points"]["accuracy"]["thresholds"].update({"1": -1.0}),
        lambda p: p["operating_points"]["accuracy"]["thresholds"].update({"x": 0.3}),
        lambda p: p.update(calibration={"1": {"method": "magic"}}),
        lambda p: p.update(format=7),
    ],
)
def test_malformed_policies_are_one_clear_error(damage) -> None:
    data = legacy_policy(0.3)
    damage(data)
    with pytest.raises(InkfaceError, match=r"meta\.json: malformed verification policy"):
        DecisionPolicy(data)
