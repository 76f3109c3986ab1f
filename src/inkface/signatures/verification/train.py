"""Train a Siamese verifier from a recipe into a run folder, then evaluate it.

``train_verifier`` is the one call behind ``inkface train``: read the datasets, cache
their preprocessed images, split writers and form pairs, fit with Lightning (progress
bar, checkpoints, early stopping on validation accuracy, resume), then evaluate on
the test sets and write ``model.pt``, ``meta.json``, ``metrics.json``, figures and
``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader

from inkface.core.atomic import atomic_open
from inkface.core.errors import InkfaceError
from inkface.models import model_info
from inkface.models.run import RunMeta, save_run_model
from inkface.signatures.data.bank import ImageBank
from inkface.signatures.data.cache import PreprocessedImages, load_preprocessed
from inkface.signatures.data.pairs import RANDOM, PairSet
from inkface.signatures.data.plans import PairPlan, plan_pairs
from inkface.signatures.data.readers import load_signature_dataset
from inkface.signatures.verification.module import SiameseModule
from inkface.signatures.verification.pair_batches import PairBatchDataset, WriterGroupedBatchSampler
from inkface.signatures.verification.recipe import Recipe
from inkface.training.callbacks import EpochHistory, restore_best

EVAL_BATCH_PAIRS = 1024


@dataclass(frozen=True)
class PreparedData:
    """Everything a run needs from the data layer."""

    plan: PairPlan
    bank: ImageBank
    caches: tuple[PreprocessedImages, ...]
    input_size: tuple[int, int]


def prepare_data(
    recipe: Recipe,
    cache_dir: str | Path | None = None,
    strict: bool = True,
    progress: bool = True,
) -> PreparedData:
    """Read, cache and pair the recipe's datasets (roots must already be filled in)."""
    missing = [d.name for d in (*recipe.data.train, *recipe.data.test) if not d.root]
    if missing:
        raise InkfaceError(
            f"recipe {recipe.name} needs a dataset root for {', '.join(sorted(set(missing)))} "
            f"(give --root {missing[0]}=DIR)"
        )
    size_spec = recipe.data.input_size
    input_size = (
        tuple(int(v) for v in size_spec.lower().split("x"))
        if size_spec and "x" in size_spec
        else model_info(size_spec or recipe.model.name).input_size
    )
    loaded: dict[tuple[str, str], PreprocessedImages] = {}
    for cfg in (*recipe.data.train, *recipe.data.test):
        key = (cfg.name, str(Path(cfg.root).resolve()))
        if key not in loaded:
            dataset = load_signature_dataset(cfg.name, cfg.root, strict=strict)
            loaded[key] = load_preprocessed(
                dataset, input_size, cache_dir=cache_dir, strict=strict, progress=progress
            )

    def pick(items: list) -> list:
        return [loaded[(c.name, str(Path(c.root).resolve()))].dataset for c in items]

    plan = plan_pairs(
        pick(recipe.data.train),
        pick(recipe.data.test),
        seed=recipe.data.seed,
        fractions=recipe.data.fractions,
    )
    by_dataset = {id(c.dataset): c for c in loaded.values()}
    caches = tuple(by_dataset[id(ds)] for ds in plan.datasets)
    bank = ImageBank([c.images for c in caches])
    return PreparedData(plan, bank, caches, input_size)  # type: ignore[arg-type]


def pair_loader(
    bank: ImageBank, pairs: PairSet, batch_pairs: int, seed: int, shuffle: bool, workers: int = 0
) -> DataLoader:
    """A DataLoader of writer-grouped, image-deduplicated pair batches."""
    sampler = WriterGroupedBatchSampler(pairs, batch_pairs, seed=seed, shuffle=shuffle)
    return DataLoader(
        PairBatchDataset(bank, pairs),
        sampler=sampler,
        batch_size=None,
        num_workers=workers,
        persistent_workers=workers > 0,
    )


def train_verifier(
    recipe: Recipe,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    resume: bool = True,
    strict: bool = True,
    progress: bool = True,
) -> Path:
    """Train, evaluate and save a verifier; returns the run folder.

    An interrupted run resumes from ``checkpoints/last.ckpt`` when ``resume`` is true.
    """
    from inkface.signatures.verification.evaluate import evaluate_verifier

    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_open(run_dir / "recipe.yaml", "w", encoding="utf-8") as handle:
        handle.write(recipe.to_yaml())
    data = prepare_data(recipe, cache_dir=cache_dir, strict=strict, progress=progress)
    L.seed_everything(recipe.data.seed, workers=True, verbose=False)
    module = SiameseModule(
        recipe.model.name,
        recipe.model.kwargs,
        recipe.optimizer.model_dump(),
        recipe.training.margin,
    )
    train_pairs = data.plan.pairs["train"]
    if not recipe.data.random_forgeries_in_training:
        train_pairs = train_pairs.select(train_pairs.kinds != RANDOM)
    cfg = recipe.training
    train_loader = pair_loader(
        data.bank, train_pairs, cfg.batch_pairs, recipe.data.seed, True, cfg.num_workers
    )
    val_loader = pair_loader(
        data.bank, data.plan.pairs["val"], EVAL_BATCH_PAIRS, recipe.data.seed, False
    )
    checkpoints = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best",
        monitor="val_accuracy",
        mode="max",
        save_last=True,
    )
    history = EpochHistory(run_dir / "history.json")
    callbacks: list[L.Callback] = [checkpoints, history]
    if cfg.patience:
        callbacks.append(EarlyStopping("val_accuracy", mode="max", patience=cfg.patience))
    trainer = L.Trainer(
        default_root_dir=run_dir,
        max_epochs=cfg.max_epochs,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        precision=cfg.precision,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        deterministic="warn",
        limit_train_batches=cfg.max_train_batches,
        num_sanity_val_steps=0,
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    trainer.fit(
        module, train_loader, val_loader, ckpt_path=str(last) if resume and last.is_file() else None
    )
    restore_best(module, checkpoints)
    tower = module.tower.cpu().eval()
    metrics = evaluate_verifier(
        tower,
        data,
        run_dir,
        title=f"{recipe.name}: {recipe.model.name}",
        history=history.series(),
        n_boot=recipe.evaluation.bootstrap,
        level=recipe.evaluation.confidence,
        seed=recipe.data.seed,
    )
    spec = model_info(recipe.model.name)
    meta = RunMeta(
        architecture=recipe.model.name,
        model_kwargs=dict(recipe.model.kwargs),
        input_size=data.input_size,
        preprocessing={
            "style": data.plan.datasets[0].style,
            "description": "DeepSign section 4.1; model input = ink 1, background 0",
            "in_channels": spec.in_channels,
        },
        threshold=float(metrics["threshold"]),
        extra={
            "recipe": recipe.name,
            "trained_on": [d.summary() for d in data.plan.datasets],
            "best_val_accuracy": _float_or_none(checkpoints.best_model_score),
            "epochs_trained": int(trainer.current_epoch),
        },
    )
    save_run_model(run_dir, tower, meta)
    return run_dir


def _float_or_none(value: torch.Tensor | float | None) -> float | None:
    if value is None:
        return None
    return float(np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value))
