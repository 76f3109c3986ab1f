"""Training on several processes (Lightning DDP): settings, ranks, flags, and a real
two-process ``inkface train-face`` run on CPU (gloo) against a single-process one."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import inkface
from inkface.cli import train_face
from inkface.cli.options import add_distribution_flags, distribution_overrides
from inkface.core.errors import InkfaceError
from inkface.core.recipe import DistributionConfig
from inkface.faces.classification.quick import quick_recipe
from inkface.faces.classification.recipe import load_face_recipe
from inkface.faces.synth.generator import generate_faces
from inkface.training.distributed import STRATEGIES, Distribution, is_global_zero, rank

LAUNCH_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "WORLD_SIZE")
LAUNCH_VARIABLES += ("LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID")
LAUNCH_VARIABLES += ("SLURM_NTASKS", "JSM_NAMESPACE_RANK", "PL_GLOBAL_SEED")


def test_distribution_is_checked_and_passed_to_lightning() -> None:
    assert Distribution().trainer_kwargs() == {"devices": 1, "num_nodes": 1, "strategy": "auto"}
    spread = Distribution(devices=4, num_nodes=2, strategy="ddp")
    assert spread.world_size("gpu") == 8 and spread.per_rank_batch(64) == 8
    assert spread.per_rank_batch(4) == 1  # at least one sample per process
    assert Distribution(devices="auto").world_size("cpu") == 1  # Lightning: one CPU process
    for bad, field in (({"devices": 0}, "devices"), ({"num_nodes": 0}, "num_nodes")):
        with pytest.raises(InkfaceError, match=field):
            Distribution(**bad)
    with pytest.raises(InkfaceError, match="strategy: expected one of auto, ddp"):
        Distribution(strategy="ddp_spawn")
    block = DistributionConfig(devices=2, strategy="ddp")
    assert Distribution.from_settings(block) == Distribution(2, 1, "ddp")
    assert Distribution.from_settings({"num_nodes": 3}) == Distribution(1, 3, "auto")
    literal = DistributionConfig.model_fields["strategy"].annotation
    assert literal.__args__ == STRATEGIES  # the recipe schema offers what Distribution takes


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, 0),
        ({"RANK": "3", "LOCAL_RANK": "1"}, 3),  # torchrun
        ({"LOCAL_RANK": "1", "NODE_RANK": "0", "WORLD_SIZE": "2"}, 1),  # Lightning's launcher
        ({"LOCAL_RANK": "0", "NODE_RANK": "1", "LOCAL_WORLD_SIZE": "4"}, 4),
        ({"LOCAL_RANK": "0", "SLURM_PROCID": "0", "NODE_RANK": "0"}, 0),
        ({"LOCAL_RANK": "1", "SLURM_PROCID": "0"}, 1),  # a SLURM step Lightning launches in
        ({"SLURM_PROCID": "5"}, 5),  # srun managing the tasks
        ({"JSM_NAMESPACE_RANK": "2"}, 2),
    ],
)
def test_rank_is_read_from_the_launchers_environment(environ: dict, expected: int) -> None:
    assert rank(environ) == expected
    assert is_global_zero(environ) == (expected == 0)


def test_distribution_flags_override_the_recipe_and_name_the_flag() -> None:
    parser = argparse.ArgumentParser()
    add_distribution_flags(parser)
    args = parser.parse_args(["--devices", "2", "--num-nodes", "3", "--strategy", "ddp"])
    assert distribution_overrides(args) == {"devices": 2, "num_nodes": 3, "strategy": "ddp"}
    assert distribution_overrides(parser.parse_args([])) == {}
    assert distribution_overrides(parser.parse_args(["--devices", "auto"])) == {"devices": "auto"}
    for argv, flag in (
        (["--devices", "0"], "--devices"),
        (["--devices", "two"], "--devices"),
        (["--num-nodes", "-1"], "--num-nodes"),
        (["--strategy", "fsdp"], "--strategy"),
    ):
        with pytest.raises(InkfaceError, match=f"^{flag}: expected"):
            distribution_overrides(parser.parse_args(argv))


def test_recipe_yaml_names_the_distribution_only_when_not_the_default() -> None:
    recipe = load_face_recipe("smile-proposed")
    assert "distribution" not in yaml.safe_load(recipe.to_yaml())  # old run folders match
    spread = recipe.updated("distribution", devices=4, num_nodes=2, strategy="ddp")
    saved = yaml.safe_load(spread.to_yaml())
    assert list(saved)[-1] == "distribution"
    assert saved["distribution"] == {"devices": 4, "num_nodes": 2, "strategy": "ddp"}


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smile recipe shrunk to a 2-epoch run on 64 generated faces (32x32 inputs)."""
    root = tmp_path_factory.mktemp("ddp")
    faces = generate_faces(root / "smile", "smile", 64, seed=1, size=64, progress=False).root
    recipe = quick_recipe(load_face_recipe("smile-proposed"), faces, epochs=2)
    recipe = recipe.updated("model", kwargs={"widths": [8, 16, 16, 32]}, input_size=(32, 32))
    path = root / "recipe.yaml"
    path.write_text(recipe.to_yaml())
    return path


def _cli_in_process(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    train_face.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train-face", *argv])
    return args.func(args)


def _cli_ddp(argv: list[str], cwd: Path) -> str:
    """``python -m inkface train-face ARGV --devices 2 --strategy ddp`` (Lightning starts
    the second process itself); its standard output. Launcher variables of the test's
    own environment are dropped, so the command starts as rank 0."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARIABLES}
    command = [sys.executable, "-m", "inkface", "train-face", *argv]
    done = subprocess.run(
        [*command, "--devices", "2", "--strategy", "ddp"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _files(run_dir: Path) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}


def _history(run_dir: Path) -> dict[str, list[float]]:
    return json.loads((run_dir / "history.json").read_text())["stages"]["training"]


@pytest.mark.slow
def test_two_process_ddp_matches_one_process_and_resumes(recipe_file: Path, tmp_path) -> None:
    """Two CPU processes (gloo) train what one process trains, within tolerance.

    Both runs start from the same weights (same seed) and take the same optimizer
    steps: the recipe's batch of 16 is split into 8 per process and DDP averages the
    two halves' gradients. What differs: the distributed sampler orders the samples
    otherwise, each process draws its own dropout masks, and BatchNorm layers (none in
    this model, several in others) would normalise each half-batch on its own. Over two
    epochs at the recipe's learning rate that moves the validation loss by about 0.002
    and the test probabilities by under 0.01 here, so the tolerances are 0.02 for the
    validation loss of each epoch, 0.05 for every test probability, and two test
    images for the test accuracy (an image whose probability sits within 0.05 of the
    decision boundary may flip). The DDP run is trained one epoch, then resumed from
    its ``last.ckpt`` (``--resume --max-epochs 2``) under DDP, so the resume is tested
    too.
    """
    cache = tmp_path / "cache"
    common = ["--recipe", str(recipe_file), "--cache-dir", str(cache)]
    assert _cli_in_process([*common, "--out", str(tmp_path / "one"), "--quiet"]) == 0
    ddp = tmp_path / "ddp"
    _cli_ddp([*common, "--out", str(ddp), "--max-epochs", "1"], tmp_path)
    first = json.loads((ddp / "metrics.json").read_text())
    assert first["epochs"] == {"training": 1}
    out = _cli_ddp([*common, "--out", str(ddp), "--resume", "--max-epochs", "2"], tmp_path)
    # Rank 1 printed nothing: one report, one line per trained epoch (the second only).
    assert out.count("run folder:") == 1 and out.count("genki: accuracy") == 1
    one, two = tmp_path / "one", ddp
    assert _files(two) == _files(one)  # the same single set of files, no "-v1" copies
    assert {p.name for p in (two / "stage1" / "checkpoints").iterdir()} == {
        "best.ckpt",
        "last.ckpt",
    }
    recorded = yaml.safe_load((two / "recipe.yaml").read_text())
    assert recorded["distribution"] == {"devices": 2, "num_nodes": 1, "strategy": "ddp"}

    h1, h2 = _history(one), _history(two)
    assert len(h2["val_loss"]) == len(h1["val_loss"]) == 2  # resumed, not restarted
    assert np.allclose(h2["val_loss"], h1["val_loss"], atol=0.02)
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    t1, t2 = m1["tests"]["genki"], m2["tests"]["genki"]
    assert t2["support"] == t1["support"] > 0  # rank 0 tested the whole test set
    assert abs(t2["accuracy"] - t1["accuracy"]) <= 2 / t1["support"] + 1e-9
    p1, p2 = (np.load(d / "test_probs_genki.npy") for d in (one, two))
    assert p1.shape == p2.shape and np.abs(p1 - p2).max() <= 0.05

    predictor = inkface.load_predictor(two, backend="torch")
    crops = [np.full((40, 40, 3), 120, np.uint8), np.zeros((32, 32, 3), np.uint8)]
    probs = predictor.predict_proba(crops)
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_two_process_ddp_trains_a_verifier(tmp_path: Path) -> None:
    """``inkface train`` on two CPU processes: validation pairs are gathered from both
    ranks before the threshold and accuracy are chosen (every rank logs the same
    values), rank 0 alone writes one complete, loadable run folder and reports once."""
    from test_training import tiny_recipe

    recipe = tiny_recipe(tmp_path, epochs=1).updated("training", patience=None)
    recipe_file = tmp_path / "tiny.yaml"
    recipe_file.write_text(recipe.to_yaml(), encoding="utf-8")
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARIABLES}
    argv = ["train", "--recipe", str(recipe_file), "--out", str(out), "--quiet"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--devices", "2", "--strategy", "ddp"]
    done = subprocess.run(
        [sys.executable, "-m", "inkface", *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run folder:") == 1
    assert {"model.pt", "meta.json", "metrics.json", "report.html"} <= _files(out)
    assert {p.name for p in (out / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    history = json.loads((out / "history.json").read_text())["epochs"]
    assert len(history) == 1 and 0.0 <= history[0]["val_accuracy"] <= 1.0
    recorded = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recorded["distribution"] == {"devices": 2, "num_nodes": 1, "strategy": "ddp"}
    verifier = inkface.load_predictor(out, backend="torch")
    assert verifier.describe()["task"] == "signature-verification"
