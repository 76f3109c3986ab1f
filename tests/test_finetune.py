"""Fine-tuning a trained verifier on one's own signatures (``inkface train --init-from``):
the source run's model input is checked, the recipe defaults to ``finetune-small``, and a
model trained on one generator's signatures improves on differently made ones."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from inkface.core.errors import InkfaceError
from inkface.models import get_model
from inkface.models.run import RunMeta, read_meta, save_run_model
from inkface.signatures.verification.finetune import (
    FINETUNE_RECIPE,
    check_compatible,
    finetune_recipe,
)
from inkface.signatures.verification.recipe import load_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _run(folder: Path, task: str = "signature-verification", style: str = "cedar") -> Path:
    torch.manual_seed(0)
    meta = RunMeta("deepsign", {}, (48, 64), {"style": style}, 0.5, task=task)
    save_run_model(folder, get_model("deepsign"), meta)
    return folder


def test_finetune_recipe_takes_the_source_model(tmp_path: Path) -> None:
    source = _run(tmp_path / "src")
    recipe = finetune_recipe(source).with_roots({"folder": tmp_path})
    assert recipe.name == FINETUNE_RECIPE and recipe.model.name == "deepsign"
    assert recipe.data.input_size == "48x64" and recipe.data.random_forgeries_in_training
    assert recipe.training.max_epochs <= 8 and recipe.training.patience
    given = load_recipe("deepsign-demo")
    assert finetune_recipe(source, given) is given  # checked later, against the data


def test_incompatible_sources_are_refused_naming_each_difference(tmp_path: Path) -> None:
    meta = read_meta(_run(tmp_path / "src", style="binarised"))
    recipe = load_recipe("deepsign-demo")  # 150x180 input
    with pytest.raises(InkfaceError) as caught:
        check_compatible(meta, recipe, (150, 180), "cedar", tmp_path / "src")
    message = str(caught.value)
    assert "input size (48, 64) vs (150, 180)" in message
    assert "preprocessing style binarised vs cedar" in message
    check_compatible(read_meta(_run(tmp_path / "ok")), recipe, (48, 64), "cedar", "ok")
    other = _run(tmp_path / "id", task="signature-identification-siamese")
    with pytest.raises(InkfaceError, match="needs a signature-verification run"):
        finetune_recipe(other)


def test_a_bad_source_is_refused_before_any_data_is_read(tmp_path: Path, capsys) -> None:
    from inkface.cli.main import main
    from inkface.signatures.synth.generator import generate_signatures

    photos = tmp_path / "photos"  # a usable dataset: only the source keeps it from caching
    generate_signatures(photos, 3, 3, 0, layout="folder", seed=1, workers=1, progress=False)
    weights = _run(tmp_path / "weights")
    (weights / "model.pt").write_bytes(b"not a state dict")
    policy = _run(tmp_path / "policy")
    meta = json.loads((policy / "meta.json").read_text())
    meta["verification"] = {"format": 1, "operating_points": "lots"}
    (policy / "meta.json").write_text(json.dumps(meta))
    for source, named, words in (
        (weights, weights / "model.pt", "not an inkface state dict"),
        (policy, policy / "meta.json", "malformed verification policy"),
    ):
        with pytest.raises(InkfaceError) as caught:
            finetune_recipe(source)
        assert str(named) in str(caught.value) and words in str(caught.value)
        out, cache = tmp_path / f"out-{source.name}", tmp_path / f"cache-{source.name}"
        argv = ["train", "--init-from", str(source), "--root", f"folder={photos}"]
        argv += ["--out", str(out), "--cache-dir", str(cache), "--quiet"]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(named) in err, err
        assert not out.exists() and not cache.exists()


def photograph(root: Path) -> None:
    """Make a generated folder look photographed at an angle: sheared by 0.3 and blurred."""
    for path in sorted(root.rglob("*.png")):
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        h, w = img.shape
        shear = np.float32([[1, -0.3, 0.3 * h], [0, 1, 0]])
        img = cv2.warpAffine(img, shear, (w + int(0.3 * h), h), borderValue=245)
        cv2.imwrite(str(path), cv2.GaussianBlur(img, (3, 3), 0.8))


def _quick(recipe, epochs: int, **data: object):
    """A recipe cut down for a CPU test: 48x64 input, no early stopping, few resamples."""
    return recipe.model_copy(
        update={
            "data": recipe.data.model_copy(update={"input_size": "48x64", **data}),
            "training": recipe.training.model_copy(
                update={"max_epochs": epochs, "accelerator": "cpu", "patience": None}
            ),
            "evaluation": recipe.evaluation.model_copy(update={"bootstrap": 20}),
        }
    )


@pytest.mark.slow
def test_finetuning_improves_auroc_on_other_signatures(tmp_path: Path, capsys) -> None:
    """A DeepSign run trained on generated CEDAR-layout scans, fine-tuned (recipe
    finetune-small) on 12 writers of a differently generated set (another seed, folder
    layout, photographed at an angle), gains test AUROC on that set's 24 held-out
    writers. Measured when written: 0.757 -> 0.832 (other seeds of the second set:
    +0.01 and +0.05); since training reseeds dropout per epoch (exact resume), 0.783 ->
    0.805 with these seeds. The margin asked is 0.015."""
    from inkface.cli.main import main
    from inkface.signatures.synth.generator import generate_signatures
    from inkface.signatures.verification.train import train_verifier
    from inkface.signatures.verification.verifier import load_verifier

    scans, photos = tmp_path / "scans", tmp_path / "photos"
    generate_signatures(scans, 8, 5, 4, layout="cedar", seed=1, progress=False)
    generate_signatures(photos, 40, 5, 4, layout="folder", seed=7, progress=False)
    photograph(photos)
    base = _quick(load_recipe("deepsign-demo").with_roots({"cedar": scans}), 4)
    base = base.model_copy(
        update={"training": base.training.model_copy(update={"batch_pairs": 32})}
    )
    source = train_verifier(base, tmp_path / "base", cache_dir=tmp_path / "cache", progress=False)
    meta = json.loads((source / "meta.json").read_text())
    policy = meta["verification"]
    assert policy["default_operating_point"] == "eer" and meta["threshold"] > 0
    assert meta["threshold"] == policy["operating_points"]["eer"]["thresholds"]["1"]

    # The built-in recipe, with more held-out writers so that the AUROC is steady.
    recipe = _quick(load_recipe("finetune-small"), 6, fractions=(0.3, 0.1, 0.6))
    recipe_file = tmp_path / "finetune.yaml"
    recipe_file.write_text(recipe.to_yaml())
    out = tmp_path / "tuned"
    argv = ["train", "--init-from", str(source), "--recipe", str(recipe_file)]
    argv += ["--root", f"folder={photos}", "--out", str(out), "--quiet"]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "default operating point eer: threshold" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    before = metrics["init_from"]["test_auroc_before"]["test/folder"]
    after = metrics["init_from"]["test_auroc_after"]["test/folder"]
    assert metrics["pairs"]["test/folder"]["writers"] == 24
    assert after > before + 0.015, (before, after)
    tuned = json.loads((out / "meta.json").read_text())
    assert tuned["init_from"]["run"] == str(source.resolve())
    assert tuned["verification"]["operating_points"]["eer"]["thresholds"]["1"] > 0

    test = metrics["test_sets"]["test/folder"]["decision"]
    assert set(test["operating_points"]) == set(tuned["verification"]["operating_points"])
    assert {"eer_global", "eer_user", "eer_writer_rule"} <= set(test["user_thresholds"])
    html = (out / "report.html").read_text()
    for heading in ("Operating points", "Global vs user thresholds", "Fine-tuning"):
        assert heading in html
    assert (out / "figures" / "reliability.png").is_file()

    writer = sorted(p for p in photos.iterdir() if p.is_dir())[-1]
    images = sorted(writer.glob("*.png"))
    result = load_verifier(out).verify(images[:3], images[3], operating_point="far=0.01")
    assert result.operating_point == "far=0.01" and result.k_threshold == 3
    assert result.p_genuine is not None and result.far is not None
