"""Train a Siamese verifier from a recipe into a run folder, then evaluate it.

``train_verifier`` is the one call behind ``inkface train``: read the datasets, cache
their preprocessed images, split writers and form pairs, fit with Lightning (progress
bar, checkpoints, early stopping on validation accuracy, resume), then evaluate on
the test sets and write ``model.pt``, ``meta.json``, ``metrics.json``, figures and
``report.html``.

``init_from`` (``inkface train --init-from RUN``) starts from a trained run's tower
weights instead of random ones (:mod:`inkface.signatures.verification.finetune`); the
weights are loaded into the module before :func:`~inkface.training.fit.fit`, so a resumed
fine-tuning run continues from its own checkpoint as any other run.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L

from inkface.core.atomic import atomic_open
from inkface.evaluation.policy import POLICY_KEY
from inkface.evaluation.policy_fit import PolicySettings
from inkface.models import model_info
from inkface.models.run import RunMeta, save_run_model
from inkface.signatures.data.pairs import RANDOM
from inkface.signatures.verification.data import prepare_data
from inkface.signatures.verification.evaluate import evaluate_verifier
from inkface.signatures.verification.finetune import load_source_tower
from inkface.signatures.verification.module import SiameseModule
from inkface.signatures.verification.pair_batches import pair_loader
from inkface.signatures.verification.recipe import Recipe
from inkface.training.fit import fit

EVAL_BATCH_PAIRS = 1024


def train_verifier(
    recipe: Recipe,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    resume: bool = True,
    strict: bool = True,
    progress: bool = True,
    init_from: str | Path | None = None,
) -> Path:
    """Train, evaluate and save a verifier; returns the run folder.

    An interrupted run resumes from ``checkpoints/last.ckpt`` when ``resume`` is true.
    ``init_from``: a trained verification run whose tower weights training starts from
    (same architecture, input size and preprocessing style, checked).
    """
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
    source_tower, source = None, None
    if init_from is not None:
        style = data.plan.datasets[0].style
        source_tower, source = load_source_tower(init_from, recipe, data.input_size, style)
        module.tower.load_state_dict(source_tower.state_dict())
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
    fitted = fit(
        module,
        train_loader,
        val_loader,
        run_dir,
        max_epochs=cfg.max_epochs,
        monitor="val_accuracy",
        mode="max",
        patience=cfg.patience,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        precision=cfg.precision,
        max_train_batches=cfg.max_train_batches,
        progress=progress,
        resume=resume,
    )
    tower = module.tower.cpu().eval()
    metrics = evaluate_verifier(
        tower,
        data,
        run_dir,
        title=f"{recipe.name}: {recipe.model.name}",
        history=fitted.history,
        n_boot=recipe.evaluation.bootstrap,
        level=recipe.evaluation.confidence,
        seed=recipe.data.seed,
        settings=PolicySettings(
            operating_points=tuple(recipe.evaluation.operating_points),
            default=recipe.evaluation.default_operating_point,
        ),
        baseline=source_tower,
        progress=progress,
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
            "best_val_accuracy": fitted.best_score,
            "epochs_trained": fitted.epochs,
            POLICY_KEY: metrics["decision_policy"],
            **({"init_from": source} if source else {}),
        },
    )
    save_run_model(run_dir, tower, meta)
    return run_dir
