"""Signature identification: models, metrics, the SQLite gallery, training runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from verification_policies import handmade_policy

from inkface.cli.main import main
from inkface.core.errors import InkfaceError
from inkface.evaluation.identification import (
    closed_set_metrics,
    cmc_curve,
    open_set_rates,
    true_ranks,
)
from inkface.models import get_model
from inkface.models.run import RunMeta, save_run_model
from inkface.models.siamese_pixels import PixelSiamese
from inkface.signatures.identification.gallery import open_gallery
from inkface.signatures.verification.embedder import load_embedder


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_writer_cnn_depths(depth: int) -> None:
    model = get_model("writer_cnn", num_classes=8, conv_layers=depth)
    assert model(torch.zeros(2, 1, 128, 128)).shape == (2, 8)
    assert len([m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]) == depth


def test_writer_cnn_rejects_bad_depth() -> None:
    with pytest.raises(InkfaceError, match="between 2 and 5"):
        get_model("writer_cnn", conv_layers=6)


def test_pixel_siamese_similarity_is_bounded_and_decreasing() -> None:
    torch.manual_seed(0)
    net = PixelSiamese()
    x = torch.rand(3, 1, 128, 128)
    same = net(x, x)
    other = net(x, torch.rand(3, 1, 128, 128))
    assert torch.all((other >= 0) & (other <= 1)) and torch.all(same > other)
    d = torch.linspace(0, 5, 20)
    assert torch.all(torch.diff(net.head(d)) < 0)


def test_rank_metrics_by_hand() -> None:
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.5, 0.6], [0.3, 0.2, 0.1]])
    truth = np.array([0, 1, 2])
    assert true_ranks(scores, truth).tolist() == [1, 2, 3]
    assert cmc_curve(scores, truth).tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert closed_set_metrics(scores, truth)["top1"] == pytest.approx(1 / 3)


def test_open_set_rates() -> None:
    mated = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.3]])
    truth = np.array([0, 1, 0])
    nonmated = np.array([0.5, 0.35, 0.2, 0.1])
    rows = {r["far"]: r for r in open_set_rates(mated, truth, nonmated, fars=(0.0, 0.25, 1.0))}
    assert rows[0.0]["achieved_far"] == 0 and rows[0.0]["dir"] == pytest.approx(2 / 3)
    assert rows[0.25]["achieved_far"] == 0.25 and rows[0.25]["dir"] == pytest.approx(1.0)
    assert rows[1.0]["dir"] == pytest.approx(1.0)


def _siamese_run(folder: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    tower = get_model("siamese_pixels")
    meta = RunMeta(
        architecture="siamese_pixels",
        model_kwargs={},
        input_size=(128, 128),
        preprocessing={"style": "cedar"},
        threshold=None,
        task="signature-identification-siamese",
        extra={"similarity_head": {"offset": 2.0, "scale": 0.5}, "similarity_threshold": 0.3},
    )
    save_run_model(folder, tower, meta)
    return folder


@pytest.fixture(scope="module")
def writers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from inkface.signatures.synth.generator import generate_signatures

    root = tmp_path_factory.mktemp("ids")
    generate_signatures(
        root, writers=4, genuine=6, forgeries=0, layout="folder", seed=3, progress=False
    )
    return root


def _images(root: Path, writer: int) -> list[Path]:
    return sorted((root / f"writer_{writer:02d}").glob("*.png"))


def test_gallery_enrols_unseen_writers_without_retraining(writers: Path, tmp_path: Path) -> None:
    run = _siamese_run(tmp_path / "run")
    embedder = load_embedder(run)
    with open_gallery(tmp_path / "g.db", embedder) as gallery:
        for w in range(1, 5):
            gallery.enrol(f"w{w}", _images(writers, w)[:4])
        assert [r["references"] for r in gallery.writers()] == [4, 4, 4, 4]
        correct = [
            gallery.identify(image, top_k=3).candidates[0].writer == f"w{w}"
            for w in range(1, 5)
            for image in _images(writers, w)[4:]
        ]
        assert np.mean(correct) >= 0.75  # chance is 0.25
        result = gallery.identify(_images(writers, 1)[5], top_k=3, threshold=1.01)
        assert result.decision == "unknown" and len(result.candidates) == 3
        assert gallery.verify("w2", _images(writers, 2)[5], threshold=0.0)["decision"] == "accept"
        assert gallery.remove("w3") == 4
        assert "w3" not in [c.writer for c in gallery.identify(_images(writers, 3)[5]).candidates]
    # Reopening keeps the data.
    with open_gallery(tmp_path / "g.db", embedder, create=False) as gallery:
        assert [r["writer"] for r in gallery.writers()] == ["w1", "w2", "w4"]


def test_gallery_bad_inputs_leave_it_unchanged(writers: Path, tmp_path: Path) -> None:
    run = _siamese_run(tmp_path / "run")
    embedder = load_embedder(run)
    db = tmp_path / "g.db"
    with open_gallery(db, embedder) as gallery:
        gallery.enrol("w1", _images(writers, 1)[:2])
        bad = tmp_path / "bad.png"
        bad.write_bytes(b"not an image")
        with pytest.raises(InkfaceError, match=r"bad\.png"):
            gallery.enrol("w2", [*_images(writers, 2)[:2], bad])
        assert [r["writer"] for r in gallery.writers()] == ["w1"]
        with pytest.raises(InkfaceError, match="no enrolled writer named 'ghost'"):
            gallery.remove("ghost")
    other = load_embedder(_siamese_run(tmp_path / "other", seed=1))
    with pytest.raises(InkfaceError, match="model differs"):
        open_gallery(db, other)
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"garbage" * 100)
    with pytest.raises(InkfaceError, match=r"corrupt\.db"):
        open_gallery(corrupt, embedder)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as con:
        con.execute("CREATE TABLE t (x)")
    with pytest.raises(InkfaceError, match="not an inkface gallery"):
        open_gallery(foreign, embedder)


def test_gallery_with_a_verification_tower(writers: Path, tmp_path: Path) -> None:
    """DeepSign (any verification run) works as the identification backbone too."""
    torch.manual_seed(0)
    meta = RunMeta(
        architecture="deepsign",
        model_kwargs={},
        input_size=(64, 80),
        preprocessing={"style": "cedar"},
        threshold=0.5,
    )
    save_run_model(tmp_path / "ds", get_model("deepsign"), meta)
    embedder = load_embedder(tmp_path / "ds")
    assert embedder.threshold_similarity == 0.5
    with open_gallery(tmp_path / "g.db", embedder) as gallery:
        for w in (1, 2):
            gallery.enrol(f"w{w}", _images(writers, w)[:3])
        result = gallery.identify(_images(writers, 1)[0], top_k=2)
        assert result.candidates[0].writer == "w1" and result.candidates[0].distance < 1e-4
        assert {c.writer for c in result.candidates} == {"w1", "w2"}


def _deepsign_run(folder: Path, **extra: object) -> Path:
    torch.manual_seed(0)
    meta = RunMeta("deepsign", {}, (64, 80), {"style": "cedar"}, 0.5, extra=dict(extra))
    save_run_model(folder, get_model("deepsign"), meta)
    return folder


def test_gallery_verify_with_writer_thresholds(writers: Path, tmp_path: Path) -> None:
    """A verification run with operating points: the writer's own threshold decides once
    three references are enrolled, and the global decision is reported beside it."""
    embedder = load_embedder(_deepsign_run(tmp_path / "ds", verification=handmade_policy()))
    db = tmp_path / "g.db"
    with open_gallery(db, embedder) as gallery:
        images = _images(writers, 1)
        gallery.enrol("w1", images[:2], sources=["a.png", "b.png"])
        two = gallery.verify("w1", images[5])
        assert two["threshold_used"] == "global" and two["writer"] is None
        assert two["operating_point"] == "eer" and two["references"] == 2
        assert two["distance_threshold"] == 0.75 and "at least 3 references" in two["notes"][0]
        gallery.enrol("w1", images[2:3])
        record = gallery.writer_record("w1")
        assert record["references"] == 3 and record["spread"] > 0
        assert set(record["writer_thresholds"]) == {"accuracy", "eer", "far=0.01"}
        three = gallery.verify("w1", images[5], operating_point="far=0.01")
        assert three["threshold_used"] == "writer" and three["references"] == 3
        expected = 0.4 + 0.5 * (record["spread"] - 0.3)  # offset rule, strength 0.5
        assert three["writer"]["threshold"] == pytest.approx(max(expected, 0.0))
        assert three["distance_threshold"] == three["writer"]["threshold"]
        assert three["global"]["threshold"] == 0.4
        assert three["decision"] == three["writer"]["decision"]
        assert three["far"] == 0.02 and three["frr"] == 0.05 and 0 < three["p_genuine"] < 1
        assert (three["similarity"] >= three["threshold"]) == (three["decision"] == "accept")
        json.dumps(three)
        manual = gallery.verify("w1", images[5], threshold=0.0)
        assert manual["decision"] == "accept" and manual["threshold_used"] == "manual"
        with pytest.raises(InkfaceError, match="available"):
            gallery.verify("w1", images[5], operating_point="frr=0.3")
        with pytest.raises(InkfaceError, match="source names"):
            gallery.enrol("w2", images[:2], sources=["only-one.png"])
    with sqlite3.connect(db) as con:
        sources = [r[0] for r in con.execute("SELECT source FROM refs ORDER BY id")]
        assert sources[:2] == ["a.png", "b.png"] and sources[2].endswith(".png")
        # A gallery from before writer thresholds: no stats table; computed when needed.
        con.execute("DROP TABLE writer_stats")
    with open_gallery(db, embedder, create=False) as gallery:
        old = gallery.verify("w1", images[5], operating_point="far=0.01")
        assert old["threshold_used"] == "writer" and "computed now" in old["notes"][-1]
        assert old["writer"]["threshold"] == pytest.approx(three["writer"]["threshold"])


def test_gallery_verify_keeps_the_old_rule_without_a_policy(writers: Path, tmp_path: Path) -> None:
    embedder = load_embedder(_deepsign_run(tmp_path / "old"))  # trained before the policy
    with open_gallery(tmp_path / "g.db", embedder) as gallery:
        gallery.enrol("w1", _images(writers, 1)[:3])
        result = gallery.verify("w1", _images(writers, 1)[4])
        assert result["rule"] == "min" and result["operating_point"] is None
        assert result["threshold"] == 0.5 and result["writer"] is None
        assert result["distance"] == pytest.approx(min(result["distances"]))
        assert gallery.writer_record("w1")["writer_thresholds"] == {}


def test_gallery_cli(writers: Path, tmp_path: Path, capsys) -> None:
    run = _siamese_run(tmp_path / "run")
    db = str(tmp_path / "g.db")
    base = ["--gallery", db, "--run", str(run)]
    for w in (1, 2):
        images = [str(p) for p in _images(writers, w)[:3]]
        assert main(["gallery", "enrol", *base, "--writer", f"w{w}", *images]) == 0
    capsys.readouterr()
    assert main(["gallery", "identify", *base, str(_images(writers, 2)[4])]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["candidates"][0]["writer"] == "w2"
    assert main(["gallery", "list", *base]) == 0
    assert len(json.loads(capsys.readouterr().out)["writers"]) == 2
    assert main(["gallery", "identify", *base, str(tmp_path / "missing.png")]) == 2
    assert "missing.png" in capsys.readouterr().err
    verify = ["gallery", "verify", *base, "--writer", "w2", str(_images(writers, 2)[4])]
    assert main(verify) == 0
    assert json.loads(capsys.readouterr().out)["decision"] in {"accept", "reject"}
    assert main([*verify, "--operating-point", "eer"]) == 2  # a Siamese run has none
    assert "stores no operating points" in capsys.readouterr().err


def test_gallery_cli_operating_points(writers: Path, tmp_path: Path, capsys) -> None:
    run = _deepsign_run(tmp_path / "ds", verification=handmade_policy())
    base = ["--gallery", str(tmp_path / "g.db"), "--run", str(run)]
    images = [str(p) for p in _images(writers, 3)[:3]]
    assert main(["gallery", "enrol", *base, "--writer", "w3", *images]) == 0
    enrolled = json.loads(capsys.readouterr().out)
    assert enrolled["added"] == 3 and enrolled["writer"] == "w3"
    assert set(enrolled["writer_thresholds"]) == {"accuracy", "eer", "far=0.01"}
    question = str(_images(writers, 3)[5])
    assert (
        main(
            [
                "gallery",
                "verify",
                *base,
                "--writer",
                "w3",
                question,
                "--operating-point",
                "far=0.01",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["operating_point"] == "far=0.01" and out["threshold_used"] == "writer"
    assert (
        main(
            ["gallery", "verify", *base, "--writer", "w3", question, "--operating-point", "far=0.3"]
        )
        == 2
    )
    assert "available" in capsys.readouterr().err


@pytest.mark.slow
def test_identification_training_runs(writers: Path, tmp_path: Path) -> None:
    from inkface.signatures.identification.data import prepare_identification_data
    from inkface.signatures.identification.train import train_siamese_identifier, train_writer_cnn

    data = prepare_identification_data(writers, cache_dir=tmp_path / "cache", progress=False)
    assert data.n_writers == 4 and len(data.hard_test_images) == len(data.test)
    # Every writer appears in every split (closed set), and no sample twice.
    for split in (data.train, data.val, data.test):
        assert set(data.labels[split].tolist()) == {0, 1, 2, 3}
    assert len(set(data.train) | set(data.val) | set(data.test)) == len(data.labels)
    cnn = train_writer_cnn(
        data,
        tmp_path / "cnn",
        conv_layers=2,
        epochs=2,
        samples_per_writer=8,
        progress=False,
        accelerator="cpu",
    )
    assert 0 <= cnn["test"]["top1"] <= 1 and len(cnn["history"]["val_accuracy"]) == 2
    assert json.loads((tmp_path / "cnn" / "meta.json").read_text())["class_names"]
    with pytest.raises(InkfaceError, match="retrained"):
        load_embedder(tmp_path / "cnn")
    snn = train_siamese_identifier(
        data, tmp_path / "snn", n_pairs=64, epochs=2, progress=False, accelerator="cpu"
    )
    assert len(snn["cmc_test"]) == 4 and snn["cmc_test"][-1] == 1.0
    rates = snn["open_set_test"]["rates"]
    assert snn["open_set_test"]["enrolled_writers"] == 3 and len(rates) == 4
    assert all(0 <= r["dir"] <= 1 and r["achieved_far"] <= r["far"] + 1e-9 for r in rates)
    embedder = load_embedder(tmp_path / "snn")
    assert 0 < embedder.threshold_similarity < 1
