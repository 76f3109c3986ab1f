"""Train a Siamese verifier from a recipe into a run folder, then evaluate it.

``train_verifier`` is the one call behind ``inkface train``: read the datasets, cache
their preprocessed images, split writers and form pairs, fit with Lightning (progress
bar, checkpoints, early stopping on validation accuracy, resume), then evaluate on
the test sets and write ``model.pt``, ``meta.json``, ``metrics.json``, figures and
``report.html``.

The run folder is planned first (:mod:`inkface.training.run_folder`): another model's
folder is refused before anything is written, a finished run with the same recipe is
kept as it is unless asked (``resume="continue"`` trains it further, ``False`` afresh),
and the folder and its ``recipe.yaml`` are written only once the datasets have loaded,
so a bad dataset root leaves nothing behind.

``init_from`` (``inkface train --init-from RUN``) starts from a trained run's tower
weights instead of random ones (:mod:`inkface.signatures.verification.finetune`); the
weights are loaded into the module before :func:`~inkface.training.fit.fit`, so a resumed
fine-tuning run continues from its own checkpoint as any other run.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L

from inkface.core.recipe import DistributionConfig
from inkface.evaluation.policy import POLICY_KEY
from inkface.evaluation.policy_fit import PolicySettings
from inkface.models import model_info
from inkface.models.run import RunMeta, save_run_model
from inkface.signatures.data.pairs import RANDOM
from inkface.signatures.verification.data import prepare_data
from inkface.signatures.verification.embedder import VERIFICATION_TASK
from inkface.signatures.verification.evaluate import evaluate_verifier
from inkface.signatures.verification.finetune import (
    check_compatible,
    check_source,
    load_source_tower,
)
from inkface.signatures.verification.module import SiameseModule
from inkface.signatures.verification.pair_batches import pair_loader
from inkface.signatures.verification.recipe import Recipe
from inkface.training.distributed import Distribution, is_global_zero
from inkface.training.fit import fit
from inkface.training.run_folder import RunIdentity, RunPlan, begin_run, plan_run

EVAL_BATCH_PAIRS = 1024


def verifier_identity(recipe: Recipe) -> RunIdentity:
    """The model a verification run folder holds (what :func:`plan_run` compares)."""
    return RunIdentity(recipe.model.name, dict(recipe.model.kwargs), VERIFICATION_TASK)


def plan_verifier_run(recipe: Recipe, out_dir: str | Path, resume: bool | str = True) -> RunPlan:
    """What training ``recipe`` into ``out_dir`` would do (writes nothing): ``keep`` a
    finished run, or train with a fit ``resume`` flag; a folder that is not one is
    refused (see :func:`~inkface.training.run_folder.plan_run`)."""
    return plan_run(out_dir, verifier_identity(recipe), resume, recipe.to_yaml())


def train_verifier(
    recipe: Recipe,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    resume: bool | str = True,
    strict: bool = True,
    progress: bool = True,
    init_from: str | Path | None = None,
) -> Path:
    """Train, evaluate and save a verifier; returns the run folder.

    ``resume``: True (or ``"auto"``) resumes an interrupted run from
    ``checkpoints/last.ckpt`` and returns a finished run trained with the same recipe as
    it is; ``"continue"`` trains a finished run further (a larger ``max_epochs``) and
    evaluates it again; False (or ``"fresh"``) retrains from scratch.
    ``init_from``: a trained verification run whose tower weights training starts from
    (same architecture, input size and preprocessing style, checked).

    Under DDP (``recipe.distribution``, :mod:`inkface.training.distributed`) every rank
    trains its share of each batch; rank 0 alone writes the folder, evaluates on the
    whole test sets and saves the model, and the other ranks return after fitting.
    """
    run_dir = Path(out_dir)
    distribution = Distribution.from_settings(recipe.distribution)
    cfg = recipe.training
    if cfg.devices != "auto" and recipe.distribution == DistributionConfig():
        distribution = Distribution(devices=cfg.devices)  # the older training.devices
    primary = is_global_zero()
    progress = progress and primary  # launched ranks share rank 0's terminal
    plan = plan_verifier_run(recipe, run_dir, resume)
    if plan.keep:
        return run_dir
    # A bad source fails before any data is cached, one of another input before the
    # run folder is written.
    source_meta = None if init_from is None else check_source(init_from)
    data = prepare_data(recipe, cache_dir=cache_dir, strict=strict, progress=progress)
    if source_meta is not None:
        style = data.plan.datasets[0].style
        check_compatible(source_meta, recipe, data.input_size, style, init_from)
    if primary:
        begin_run(plan)
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
    train_loader = pair_loader(
        data.bank,
        train_pairs,
        distribution.per_rank_batch(cfg.batch_pairs, cfg.accelerator),
        recipe.data.seed,
        True,
        cfg.num_workers,
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
        distribution=distribution,
        precision=cfg.precision,
        max_train_batches=cfg.max_train_batches,
        progress=progress,
        resume=plan.resume,
    )
    if not primary:  # rank 0 evaluates on the whole test sets and writes the folder
        return run_dir
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
