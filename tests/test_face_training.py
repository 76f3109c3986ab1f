"""Face classifier training on tiny generated sets: run folders, stages, resume, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from inkface.core.errors import InkfaceError
from inkface.faces.classification.classifier import load_face_classifier
from inkface.faces.classification.quick import quick_recipe, write_synthetic_cifar10
from inkface.faces.classification.recipe import FaceRecipe, load_face_recipe
from inkface.faces.classification.train import train_face_classifier
from inkface.faces.synth.generator import generate_faces
from inkface.training.classifier import ClassifierModule


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("faces")
    out = {}
    for task, n in (("smile", 40), ("expression", 48)):
        out[task] = generate_faces(root / task, task, n, seed=1, size=64, progress=False).root
    out["cifar"] = write_synthetic_cifar10(root / "cifar10", n=60)
    return out


def _smile_recipe(root: Path, **training: object) -> FaceRecipe:
    recipe = quick_recipe(load_face_recipe("smile-proposed"), root, epochs=2)
    recipe = recipe.updated("model", kwargs={"widths": [8, 16, 16, 32]}, input_size=(32, 32))
    return recipe.updated("training", **training) if training else recipe


def test_train_smile_run_folder_plugs_into_the_pipeline(faces, tmp_path: Path) -> None:
    run = train_face_classifier(
        _smile_recipe(faces["smile"]), tmp_path / "run", progress=False, cache_dir=""
    )
    names = {p.name for p in run.run_dir.iterdir()}
    assert {
        "model.pt",
        "meta.json",
        "metrics.json",
        "history.json",
        "report.html",
        "training_curves.png",
        "learning_rate.png",
        "confusion_genki.png",
        "classification_report_genki.txt",
        "recipe.yaml",
    } <= names
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == {"training": 2}
    assert 0.0 <= metrics["tests"]["genki"]["accuracy"] <= 1.0
    history = json.loads((run.run_dir / "history.json").read_text())["stages"]["training"]
    assert len(history["train_loss"]) == 2 and history["lr"][0] == pytest.approx(1e-4)
    classifier = load_face_classifier(run.run_dir, prefer="torch")
    assert classifier.class_names == ["no_smile", "smile"] and classifier.input_size == (32, 32)
    crops = [np.full((50, 40, 3), 120, np.uint8), np.zeros((30, 30, 3), np.uint8)]
    probs = classifier.predict_proba(crops)
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_finished_stage_is_reused_on_resume(faces, tmp_path: Path) -> None:
    recipe = _smile_recipe(faces["smile"], max_epochs=1)
    first = train_face_classifier(recipe, tmp_path / "r", progress=False, cache_dir="")
    final = tmp_path / "r" / "stage1" / "final.pt"
    stamp = final.stat().st_mtime_ns
    second = train_face_classifier(recipe, tmp_path / "r", progress=False, cache_dir="")
    assert final.stat().st_mtime_ns == stamp  # not retrained
    assert first.metrics["tests"] == second.metrics["tests"]


@pytest.mark.slow
def test_two_stage_transfer_freezes_then_unfreezes(faces, tmp_path: Path) -> None:
    recipe = quick_recipe(load_face_recipe("smile-mobilenetv3-small"), faces["smile"], epochs=1)
    recipe = recipe.updated("model", input_size=(32, 32))
    recipe = recipe.updated("training", max_train_batches=1)
    recipe = recipe.updated("finetune", max_train_batches=1)
    run = train_face_classifier(recipe, tmp_path / "t", progress=False, cache_dir="")
    assert run.metrics["epochs"] == {"training": 1, "finetune": 1}
    stage1 = torch.load(tmp_path / "t" / "stage1" / "final.pt", weights_only=True)
    stage2 = torch.load(tmp_path / "t" / "stage2" / "final.pt", weights_only=True)
    early = "features.0.0.weight"  # before unfreeze_from "9": frozen in both stages
    late = "features.11.block.0.0.weight"  # unfrozen in stage two only
    assert torch.equal(stage1[early], stage2[early])
    assert not torch.equal(stage1[late], stage2[late])


@pytest.mark.slow
def test_fer_pretrain_then_new_final_layer_and_ten_crop(faces, tmp_path: Path) -> None:
    recipe = quick_recipe(
        load_face_recipe("fer-resnet20-cifar10"),
        faces["expression"],
        epochs=1,
        source_root=faces["cifar"],
    )
    run = train_face_classifier(recipe, tmp_path / "f", progress=False, cache_dir="")
    pre = torch.load(tmp_path / "f" / "pretrain" / "final.pt", weights_only=True)
    assert pre["classifier.weight"].shape[0] == 10  # CIFAR-10 head
    meta = json.loads((tmp_path / "f" / "meta.json").read_text())
    assert meta["model_kwargs"]["num_classes"] == 8
    assert len(meta["preprocessing"]["mean"]) == 3
    assert run.metrics["ten_crop"] and run.metrics["input_size"] == [32, 32]
    assert run.metrics["tests"]["ferplus"]["support"] > 0
    assert set(run.metrics["epochs"]) == {"pretrain", "training"}


def test_inverse_time_decay_matches_keras() -> None:
    module = ClassifierModule(
        "smile_cnn",
        {"widths": (4, 4, 4, 4)},
        {"name": "adam", "lr": 1e-4},
        {"name": "inverse_time", "decay": 0.5},
    )
    config = module.configure_optimizers()
    scheduler = config["lr_scheduler"]["scheduler"]
    optimizer = config["optimizer"]
    for _ in range(2):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-4 / (1 + 0.5 * 2))
    assert config["lr_scheduler"]["interval"] == "step"


def _train_face_cli(argv: list[str]) -> int:
    import argparse

    from inkface.cli import train_face

    parser = argparse.ArgumentParser()
    train_face.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train-face", *argv])
    return args.func(args)


def test_cli_train_face_and_missing_root(faces, tmp_path: Path, capsys) -> None:
    recipe = _smile_recipe(faces["smile"], max_epochs=1)
    path = tmp_path / "r.yaml"
    path.write_text(recipe.to_yaml())
    code = _train_face_cli(
        [
            "--recipe",
            str(path),
            "--out",
            str(tmp_path / "cli"),
            "--quiet",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 0 and (tmp_path / "cli" / "model.pt").is_file()
    assert "genki: accuracy" in capsys.readouterr().out
    with pytest.raises(InkfaceError, match="--root celeba=DIR"):
        _train_face_cli(["--recipe", "smile-proposed", "--out", str(tmp_path / "x"), "--quiet"])
