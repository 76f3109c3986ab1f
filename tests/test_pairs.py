"""Writer-disjoint splits and pair counts (DeepSign section 4, Table 5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from layouts import write_bhsig, write_cedar

from inkface.cli.main import main
from inkface.core.errors import InkfaceError
from inkface.signatures.data.pairs import (
    GENUINE,
    RANDOM,
    SKILLED,
    WriterImages,
    make_pairs,
    split_writers,
)
from inkface.signatures.data.plans import plan_pairs
from inkface.signatures.data.readers import read_bhsig260, read_cedar


@pytest.fixture(scope="module")
def cedar_full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Listing and pairing never decode images, so empty files are enough.
    return write_cedar(tmp_path_factory.mktemp("cedar"), 55, 24, 24, empty=True)


def test_table5_cedar_counts(cedar_full: Path) -> None:
    plan = plan_pairs([read_cedar(cedar_full)], seed=0)
    counts = plan.counts()
    paper = {"train": 28_116, "val": 9_372, "test/cedar": 9_372}
    for split, expected in paper.items():
        assert counts[split]["paper_pairs"] == expected
    assert counts["train"]["genuine"] == 33 * 276
    assert counts["train"]["skilled_forgery"] == 33 * 576
    assert counts["train"]["random_forgery"] == 33 * 276


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_splits_are_writer_disjoint(cedar_full: Path, seed: int) -> None:
    plan = plan_pairs([read_cedar(cedar_full)], seed=seed)
    owners = {}
    for key, pairs in plan.pairs.items():
        ws = set(np.unique(pairs.writers).tolist())
        for other, seen in owners.items():
            assert not ws & seen, f"{key} shares writers with {other}"
        owners[key] = ws
    # Every image of a pair belongs to the same split's writers (random pairs included).
    image_owner = np.empty(55 * 48, dtype=np.int64)
    for w in range(55):
        image_owner[w * 48 : (w + 1) * 48] = w
    for key, pairs in plan.pairs.items():
        assert set(image_owner[pairs.right].tolist()) <= owners[key]
        assert set(image_owner[pairs.left].tolist()) <= owners[key]


def test_split_sizes_and_seed() -> None:
    ids = [f"w{i}" for i in range(260)]
    split = split_writers(ids, seed=3)
    assert (len(split.train), len(split.val), len(split.test)) == (156, 52, 52)
    assert split == split_writers(ids, seed=3)
    assert split != split_writers(ids, seed=4)
    with pytest.raises(InkfaceError, match="sum to 1"):
        split_writers(ids, fractions=(0.5, 0.2, 0.2))


def test_make_pairs_kinds_and_labels() -> None:
    writers = [
        WriterImages(0, np.array([0, 1, 2]), np.array([3, 4])),
        WriterImages(1, np.array([5, 6, 7]), np.array([], dtype=int)),
    ]
    pairs = make_pairs(writers, random_per_writer="auto", seed=0)
    assert pairs.counts() == {"genuine": 6, "skilled_forgery": 6, "random_forgery": 6}
    assert set(pairs.labels[pairs.kinds == GENUINE]) == {1}
    assert set(pairs.labels[pairs.kinds != GENUINE]) == {0}
    rnd = pairs.select(pairs.kinds == RANDOM)
    for left, right, writer in zip(rnd.left, rnd.right, rnd.writers, strict=True):
        assert (left < 3) == (writer == 0) and (right < 3) != (left < 3)
    skilled = pairs.select(pairs.kinds == SKILLED)
    assert set(skilled.right.tolist()) == {3, 4}
    none = make_pairs(writers, random_per_writer=None)
    assert none.counts()["random_forgery"] == 0


def test_cross_and_combined_plans(tmp_path: Path) -> None:
    cedar = read_cedar(write_cedar(tmp_path / "c", 10, 4, 3))
    bengali = read_bhsig260(write_bhsig(tmp_path / "b", "Bengali", 5, 4, 2))
    cross = plan_pairs([cedar], [cedar, bengali], seed=0)
    assert set(cross.pairs) == {
        "train",
        "val",
        "test/cedar",
        "test/bhsig260-bengali",
        "test/combined",
    }
    # An unseen test dataset contributes all its writers.
    assert cross.counts()["test/bhsig260-bengali"]["writers"] == 5
    combined = plan_pairs([cedar, bengali], seed=0)
    counts = combined.counts()
    assert counts["train"]["writers"] == 6 + 3
    assert counts["test/cedar"]["writers"] == 2 and counts["test/bhsig260-bengali"]["writers"] == 1


def test_cli_pairs_prints_one_json_object(cedar_full: Path, capsys) -> None:
    assert (
        main(["data", "pairs", "--dataset", "cedar", "--root", str(cedar_full), "--seed", "0"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["splits"]["train"]["paper_pairs"] == 28_116
    assert len(report["splits"]["val"]["writer_ids"]) == 11


def test_cli_pairs_bad_root_is_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["data", "pairs", "--dataset", "cedar", "--root", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and str(tmp_path / "x") in err
