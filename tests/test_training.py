"""Contrastive loss, deduplicated pair batches, the shared fit helper, optimizers and an
end-to-end training run."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from layouts import write_cedar
from torch.utils.data import DataLoader, TensorDataset

from inkface.core.errors import InkfaceError
from inkface.signatures.data.bank import ImageBank
from inkface.signatures.data.pairs import WriterImages, make_pairs
from inkface.signatures.verification.module import SiameseModule
from inkface.signatures.verification.pair_batches import PairBatchDataset, WriterGroupedBatchSampler
from inkface.signatures.verification.recipe import builtin_recipes, load_recipe
from inkface.training.fit import FitResult, fit
from inkface.training.losses import contrastive_loss, pair_distances
from inkface.training.optim import build_optimizer, build_scheduler


def test_contrastive_loss_pulls_genuine_and_pushes_forgeries() -> None:
    d = torch.tensor([0.0, 0.5, 0.2, 1.5])
    y = torch.tensor([1.0, 1.0, 0.0, 0.0])
    # genuine: d^2; forgery: max(0, 1 - d)^2
    expected = (0.0 + 0.25 + 0.64 + 0.0) / 4
    assert contrastive_loss(d, y, margin=1.0).item() == pytest.approx(expected)
    assert contrastive_loss(torch.tensor([0.1]), torch.tensor([1.0])) < contrastive_loss(
        torch.tensor([0.1]), torch.tensor([0.0])
    )


def test_pair_distance_gradient_is_finite_at_zero() -> None:
    a = torch.ones(2, 4, requires_grad=True)
    pair_distances(a, a.detach().clone()).sum().backward()
    assert torch.isfinite(a.grad).all()


def _toy_bank(writers: int = 4, per_kind: int = 5, size=(40, 48)) -> tuple[ImageBank, list]:
    rng = np.random.default_rng(0)
    n = writers * per_kind * 2
    images = rng.integers(0, 256, size=(n, *size), dtype=np.uint8)
    groups = [
        WriterImages(
            w,
            np.arange(w * 2 * per_kind, w * 2 * per_kind + per_kind),
            np.arange(w * 2 * per_kind + per_kind, (w + 1) * 2 * per_kind),
        )
        for w in range(writers)
    ]
    return ImageBank([images]), groups


@pytest.mark.parametrize("model", ["deepsign", "signet", "mobilenetv2_signature"])
def test_dedup_batches_give_the_naive_loss(model: str) -> None:
    size = {"deepsign": (64, 80), "signet": (155, 220), "mobilenetv2_signature": (64, 64)}[model]
    bank, groups = _toy_bank(writers=2, per_kind=4, size=size)
    pairs = make_pairs(groups, random_per_writer=3, seed=0)
    torch.manual_seed(0)
    module = SiameseModule(model).eval()
    batch_ids = list(range(len(pairs)))
    fast = PairBatchDataset(bank, pairs, dedup=True)[batch_ids]
    slow = PairBatchDataset(bank, pairs, dedup=False)[batch_ids]
    assert fast["images"].shape[0] == 16 < slow["images"].shape[0] == 2 * len(pairs)
    with torch.no_grad():
        loss_fast = contrastive_loss(module.batch_distances(fast), fast["labels"])
        # Naive two-tower computation, pair by pair.
        left = module.embed(torch.from_numpy(bank.take(pairs.left)).unsqueeze(1))
        right = module.embed(torch.from_numpy(bank.take(pairs.right)).unsqueeze(1))
        loss_naive = contrastive_loss(pair_distances(left, right), slow["labels"])
    assert loss_fast.item() == pytest.approx(loss_naive.item(), rel=1e-5, abs=1e-6)


def test_sampler_covers_every_pair_once_and_groups_writers() -> None:
    _, groups = _toy_bank(writers=5, per_kind=6)
    pairs = make_pairs(groups, random_per_writer=None)
    sampler = WriterGroupedBatchSampler(pairs, batch_pairs=16, seed=1)
    sampler.set_epoch(0)
    epoch0 = list(sampler)
    flat = [i for b in epoch0 for i in b]
    assert sorted(flat) == list(range(len(pairs)))
    assert len(epoch0) == len(sampler)
    # Pairs of one writer stay contiguous: a batch touches at most two writers.
    assert max(len(set(pairs.writers[b].tolist())) for b in epoch0) <= 2
    sampler.set_epoch(1)
    assert list(sampler) != epoch0
    sampler.set_epoch(0)
    assert list(sampler) == epoch0


def test_every_builtin_recipe_loads() -> None:
    names = builtin_recipes()
    assert {"deepsign-combined", "signet-combined", "mobilenetv2-combined"} <= set(names)
    assert {"deepsign-cedar-to-bhsig260", "deepsign-demo"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert recipe.model.name in {"deepsign", "signet", "mobilenetv2_signature"}
    ds = load_recipe("deepsign-combined")
    assert ds.optimizer.name == "adam" and ds.optimizer.lr == 3e-5
    assert ds.training.batch_pairs == 32
    mob = load_recipe("mobilenetv2-combined")
    assert mob.optimizer.lr == 1e-3 and mob.training.max_epochs == 5
    assert load_recipe("signet-combined").optimizer.name == "rmsprop"


def test_recipe_errors_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text(
        "name: x\nmodel: {name: deepsign}\ndata: {train: [{name: cedar}]}\n"
        "optimizer: {name: adam, lr: 0.1, momentun: 0.9}\n"
    )
    with pytest.raises(InkfaceError, match=r"r\.yaml: field optimizer\.momentun"):
        load_recipe(bad)
    with pytest.raises(InkfaceError, match="unknown recipe 'nope'"):
        load_recipe("nope")
    with pytest.raises(InkfaceError, match="does not use"):
        load_recipe("deepsign-cedar").with_roots({"hindi": "/x"})


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("64x80x3", "expected HxW (two integers, e.g. 150x220) or a model name, got '64x80x3'"),
        ("4x80", "each side of '4x80' must be 8 to 4096 pixels"),
        ("nomodel", "or a model name, got 'nomodel'"),
    ],
)
def test_a_bad_input_size_is_one_line_naming_the_field(
    tmp_path: Path, size: str, expected: str
) -> None:
    from pydantic import ValidationError

    from inkface.signatures.verification.recipe import Recipe

    text = (
        load_recipe("deepsign-demo").to_yaml().replace("input_size: 150x180", f"input_size: {size}")
    )
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(InkfaceError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert "\n" not in message and "r.yaml: field data.input_size: " in message, message
    assert expected in message
    # Built in code rather than read from a file: refused by the schema alike.
    data = load_recipe("deepsign-demo").model_dump()
    data["data"]["input_size"] = size
    with pytest.raises(ValidationError, match=r"data\.input_size"):
        Recipe.model_validate(data)
    data["data"]["input_size"] = "signet"  # a model's name: its input size
    assert Recipe.model_validate(data).data.input_size == "signet"


def tiny_recipe(tmp_path: Path, epochs: int = 2):
    root = write_cedar(tmp_path / "cedar", writers=10, genuine=4, forged=3)
    recipe = load_recipe("deepsign-demo").with_roots({"cedar": root})
    return recipe.model_copy(
        update={
            "data": recipe.data.model_copy(update={"input_size": "48x64"}),
            "training": recipe.training.model_copy(
                update={"max_epochs": epochs, "batch_pairs": 16, "accelerator": "cpu"}
            ),
            "evaluation": recipe.evaluation.model_copy(update={"bootstrap": 20}),
        }
    )


@pytest.mark.slow
def test_train_evaluate_verify_end_to_end(tmp_path: Path, capsys) -> None:
    from inkface.signatures.verification.train import train_verifier
    from inkface.signatures.verification.verifier import load_verifier

    recipe = tiny_recipe(tmp_path)
    run = train_verifier(recipe, tmp_path / "run", cache_dir=tmp_path / "cache", progress=False)
    for name in (
        "model.pt",
        "meta.json",
        "metrics.json",
        "report.html",
        "recipe.yaml",
        "history.json",
        "figures/roc.png",
        "figures/det.png",
        "figures/pair_grid.png",
        "figures/accuracy_vs_threshold.png",
        "figures/training_curves.png",
    ):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    test = metrics["test_sets"]["test/cedar"]
    assert set(test["paper"]) == {"accuracy", "precision", "recall", "auroc"}
    assert test["test"]["far_random"] is not None and test["test"]["far_skilled"] is not None
    assert metrics["pairs"]["train"]["writers"] == 6
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert len(history) == 2 and "val_accuracy" in history[-1] and "train_loss" in history[-1]
    meta = json.loads((run / "meta.json").read_text())
    assert meta["architecture"] == "deepsign" and meta["input_size"] == [48, 64]
    assert meta["threshold"] == pytest.approx(metrics["threshold"])
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.split("<body>")[1][:2000]

    verifier = load_verifier(run)
    refs = list((tmp_path / "cedar" / "full_org").glob("original_1_*.png"))[:2]
    result = verifier.verify(refs, tmp_path / "cedar" / "full_forg" / "forgeries_1_1.png")
    assert len(result.distances) == 2 and 0 < result.similarity <= 1
    assert result.decision in {"genuine", "forged"}
    assert (result.distance <= result.threshold) == result.is_genuine

    # The same through the command line: JSON on stdout, exit 0 whatever the decision.
    from inkface.cli.main import main

    questioned = tmp_path / "cedar" / "full_org" / "original_1_4.png"
    assert main(["verify", "--run", str(run), *map(str, refs), str(questioned)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) >= {"distances", "distance", "similarity", "threshold", "decision"}
    assert len(printed["distances"]) == 2 and 0 < printed["similarity"] <= 1

    # Resuming a finished run ("continue", ``--resume``) trains only the missing epoch and
    # keeps the history whole.
    bigger = recipe.model_copy(
        update={"training": recipe.training.model_copy(update={"max_epochs": 3})}
    )
    train_verifier(bigger, run, cache_dir=tmp_path / "cache", progress=False, resume="continue")
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert [row["epoch"] for row in history] == [0.0, 1.0, 2.0]


def test_block_order_makes_small_batches_share_images() -> None:
    # One CEDAR-like writer: 24 genuine + 24 forged images, 852 pairs.
    group = [WriterImages(0, np.arange(24), np.arange(24, 48))]
    pairs = make_pairs(group, random_per_writer=None)
    batches = list(WriterGroupedBatchSampler(pairs, batch_pairs=32, seed=0))
    distinct = [len(np.unique(np.concatenate([pairs.left[b], pairs.right[b]]))) for b in batches]
    assert sorted(i for b in batches for i in b) == list(range(len(pairs)))
    shuffled = np.random.default_rng(0).permutation(len(pairs))
    naive = [
        len(np.unique(np.concatenate([pairs.left[b], pairs.right[b]])))
        for b in np.array_split(shuffled, len(batches))
    ]
    # Pairs drawn at random touch about 36 distinct images per 32 pairs; blocks about 19.
    assert np.mean(distinct) < 0.6 * np.mean(naive)


# ---------------------------------------------------------------------------- fit helper


class _ScriptedModule(L.LightningModule):
    """A one-layer regression whose validation score per epoch is given in advance, so
    that the best epoch and early stopping are known; it snapshots its weights at every
    validation."""

    def __init__(self, scores: list[float], losses: list[float] | None = None) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)
        self.scores = scores
        self.losses = losses
        self.snapshots: dict[int, dict[str, torch.Tensor]] = {}
        self.trained_epochs: list[int] = []
        self.train_batches = 0

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        if batch_idx == 0:
            self.trained_epochs.append(self.current_epoch)
        self.train_batches += 1
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss, on_epoch=True, on_step=False, batch_size=len(y))
        return loss

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        score = float(self.scores[self.current_epoch])
        self.log("val_accuracy", score, on_epoch=True, batch_size=len(batch[1]))
        if self.losses is not None:
            loss = float(self.losses[self.current_epoch])
            self.log("val_loss", loss, on_epoch=True, batch_size=len(batch[1]))

    def on_validation_epoch_end(self) -> None:
        state = self.state_dict()
        self.snapshots[self.current_epoch] = {k: v.detach().clone() for k, v in state.items()}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return build_optimizer(self.parameters(), {"name": "sgd", "lr": 0.1})


def _loaders(n: int = 32, batch: int = 8) -> tuple[DataLoader, DataLoader]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=generator)
    data = TensorDataset(x, x.sum(dim=1, keepdim=True))
    return DataLoader(data, batch_size=batch), DataLoader(data, batch_size=n)


def _fit(module: L.LightningModule, run: Path, **settings: object) -> FitResult:
    train, val = _loaders()
    options = {"max_epochs": 4, "accelerator": "cpu", "progress": False, **settings}
    return fit(module, train, val, run, **options)  # type: ignore[arg-type]


def test_fit_restores_the_best_epoch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = _ScriptedModule([0.2, 0.9, 0.5, 0.4])
    result = _fit(module, tmp_path / "run")
    assert module.trained_epochs == [0, 1, 2, 3] and result.epochs == 4
    assert result.best_score == pytest.approx(0.9) and result.restored
    assert result.best_checkpoint == tmp_path / "run" / "checkpoints" / "best.ckpt"
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    for name, value in module.state_dict().items():
        assert torch.equal(value, module.snapshots[1][name]), name
    assert not torch.equal(module.layer.weight, module.snapshots[3]["layer.weight"])
    assert result.history["val_accuracy"] == pytest.approx([0.2, 0.9, 0.5, 0.4])
    saved = json.loads((tmp_path / "run" / "history.json").read_text())["epochs"]
    assert [row["epoch"] for row in saved] == [0.0, 1.0, 2.0, 3.0]


def test_fit_stops_early_on_its_own_metric(tmp_path: Path) -> None:
    module = _ScriptedModule([0.5, 0.7, 0.6, 0.6, 0.9, 0.9])
    result = _fit(module, tmp_path / "a", max_epochs=6, patience=2)
    # Best at epoch 1, then two epochs without improvement: epoch 4 never runs.
    assert module.trained_epochs == [0, 1, 2, 3] and len(result.history["val_accuracy"]) == 4
    assert result.best_score == pytest.approx(0.7)
    # Early stopping may watch another metric than the best-epoch choice (face stages:
    # best accuracy, stop on the loss).
    other = _ScriptedModule([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], losses=[1.0, 0.5, 0.6, 0.7, 0.1, 0.1])
    result = _fit(
        other, tmp_path / "b", max_epochs=6, patience=2, stop_monitor="val_loss", stop_mode="min"
    )
    assert other.trained_epochs == [0, 1, 2, 3] and result.best_score == pytest.approx(0.4)
    # None: no early stopping at all.
    always = _ScriptedModule([0.5, 0.4, 0.3])
    _fit(always, tmp_path / "c", max_epochs=3, patience=None)
    assert always.trained_epochs == [0, 1, 2]


def test_fit_resumes_from_last_checkpoint(tmp_path: Path) -> None:
    scores = [0.1, 0.8, 0.3, 0.9, 0.2]
    first = _ScriptedModule(scores)
    _fit(first, tmp_path / "run", max_epochs=2, resume=True)
    second = _ScriptedModule(scores)
    result = _fit(second, tmp_path / "run", max_epochs=4, resume=True)
    assert second.trained_epochs == [2, 3] and result.epochs == 4
    assert result.history["val_accuracy"] == pytest.approx(scores[:4])
    assert result.best_score == pytest.approx(0.9)
    # A finished run resumed with the same budget trains nothing more.
    third = _ScriptedModule(scores)
    _fit(third, tmp_path / "run", max_epochs=4, resume=True)
    assert third.trained_epochs == []
    # Without resume the run and its history start afresh.
    fresh = _ScriptedModule(scores)
    result = _fit(fresh, tmp_path / "run", max_epochs=1, resume=False)
    assert fresh.trained_epochs == [0] and result.history["val_accuracy"] == pytest.approx([0.1])


def test_fit_caps_batches_and_can_skip_last_checkpoint(tmp_path: Path) -> None:
    module = _ScriptedModule([0.5])
    train, val = _loaders(n=32, batch=4)
    fit(
        module,
        train,
        val,
        tmp_path / "run",
        max_epochs=1,
        accelerator="cpu",
        progress=False,
        max_train_batches=3,
        save_last=False,
    )
    assert module.train_batches == 3
    assert not (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (None, torch.optim.Optimizer),
        ({"name": "none"}, torch.optim.Optimizer),
        ({"name": "plateau"}, dict),
        ({"name": "multistep", "milestones": [1]}, dict),
    ],
)
def test_build_scheduler_shapes(schedule: dict | None, expected: type) -> None:
    optimizer = build_optimizer(torch.nn.Linear(2, 1).parameters(), {"name": "adam", "lr": 0.1})
    config = build_scheduler(optimizer, schedule)
    assert isinstance(config, expected)
    if isinstance(config, dict):
        assert config["optimizer"] is optimizer
    with pytest.raises(ValueError, match="unknown optimizer"):
        build_optimizer(torch.nn.Linear(2, 1).parameters(), {"name": "lbfgs", "lr": 0.1})
    with pytest.raises(ValueError, match="schedule"):
        build_scheduler(optimizer, {"name": "cosine"})
