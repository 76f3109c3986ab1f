"""Train a face classifier from a recipe into a run folder the face pipeline can load.

``train_face_classifier(recipe, out_dir)`` runs the recipe's stages (see
:mod:`inkface.faces.classification.recipe`): optional source-domain pre-training with a
new final layer
afterwards (FER paper §III-C), training on the faces (frozen backbone for the
transfer-learning baselines and the mask model), optional fine-tuning from an unfrozen
layer at a lower learning rate (smile report §7.2.2). Each stage keeps the epoch with
the best validation accuracy, can stop early on the validation loss, and resumes from
its last checkpoint; a finished stage is skipped on a rerun. The folder then holds
``history*.json``, ``metrics.json`` (:func:`inkface.faces.classification.report.evaluate_run`),
figures, ``report.html`` and, last, ``model.pt`` + ``meta.json``
(:func:`inkface.faces.classification.classifier.save_face_classifier`).

The output folder is checked before anything is written (:mod:`inkface.training.run_folder`):
another model's run is refused, a finished run is kept unless ``resume`` says otherwise,
and the folder is only created once the data has loaded.

The recipe's ``distribution`` block trains on several devices or nodes (Lightning DDP,
:mod:`inkface.training.distributed`): every process runs this function, each stage's
batch is shared out between them, and global rank 0 alone writes (run folder, each
stage's ``final.pt``, evaluation on the whole test sets, report and model); the other
ranks return a :class:`FaceRun` with ``secondary`` set once the last stage is fitted.
The cache of face crops is built before training starts, so ranks started by
Lightning's launcher only read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from inkface.core.atomic import write_json
from inkface.core.errors import DatasetError, InkfaceError
from inkface.faces.classification.classifier import TASK, save_face_classifier
from inkface.faces.classification.datasets import (
    ArrayTensors,
    FaceData,
    FaceTensors,
    prepare_face_data,
)
from inkface.faces.classification.recipe import FaceRecipe, StageConfig
from inkface.faces.classification.report import evaluate_run
from inkface.faces.data.source_domains import load_source_domain
from inkface.models import get_model, model_info
from inkface.models.classifier_pretrained import load_imagenet_weights
from inkface.models.run import read_state_dict, save_state_dict, state_dict_mismatch
from inkface.models.transfer import freeze_backbone, replace_classifier, unfreeze_from
from inkface.training.callbacks import EpochHistory
from inkface.training.classifier import ClassifierModule
from inkface.training.distributed import Distribution, is_global_zero
from inkface.training.fit import HISTORY_FILE, fit
from inkface.training.run_folder import (
    RunIdentity,
    begin_run,
    check_count,
    finished_note,
    plan_run,
)

SOURCE_VAL_FRACTION = 0.05  # held out when a source domain has no test split (CASIA)


class FaceClassifierModule(ClassifierModule):
    """ClassifierModule that also logs the learning rate (smile report Figure 7.3)."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        lr = self.trainer.optimizers[0].param_groups[0]["lr"]
        self.log("lr", lr, on_epoch=True, on_step=False, batch_size=len(batch[1]), sync_dist=True)
        return super().training_step(batch, batch_idx)


@dataclass(frozen=True)
class FaceRun:
    """A trained run folder and its metrics; ``kept`` when it was already finished and
    left unchanged (``note`` says so in one line). ``secondary``: a DDP rank other than
    global rank 0, which trained its share, wrote nothing and has no metrics."""

    run_dir: Path
    metrics: dict[str, Any]
    kept: bool = False
    note: str = ""
    secondary: bool = False


def _stage_settings(stage: StageConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    optimizer = stage.optimizer.model_dump()
    schedule = stage.schedule.model_dump()
    return optimizer, ({} if schedule["name"] == "none" else schedule)


def fit_stage(
    model: torch.nn.Module,
    stage: StageConfig,
    train_set: Dataset,
    val_set: Dataset,
    stage_dir: Path,
    class_names: tuple[str, ...],
    seed: int,
    progress: bool = True,
    resume: bool = True,
    accelerator: str = "auto",
    precision: str = "32-true",
    workers: int = 0,
    extend: bool = False,
    distribution: Distribution | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` in place for one stage; returns its per-epoch history series.

    The best epoch (validation accuracy) is loaded back and saved as ``final.pt`` (by
    global rank 0); a stage whose ``final.pt`` exists is not trained again when
    ``resume``, unless ``extend`` (``--resume`` on a finished run) lets it continue from
    its last checkpoint up to the stage's (possibly larger) epoch budget. With a
    ``distribution`` of N processes each loads ``batch_size // N`` samples per step.
    """
    final = stage_dir / "final.pt"
    if resume and not extend and final.is_file():
        _load_final(model, final)
        return EpochHistory(stage_dir / HISTORY_FILE).series()
    optimizer, schedule = _stage_settings(stage)
    module = FaceClassifierModule(
        type(model).__name__,
        optimizer=optimizer,
        schedule=schedule,
        class_names=class_names,
        model=model,
    )
    L.seed_everything(seed, workers=True, verbose=False)
    generator = torch.Generator().manual_seed(seed)
    distribution = distribution or Distribution()
    train_loader = DataLoader(
        train_set,
        distribution.per_rank_batch(stage.batch_size, accelerator),
        shuffle=True,  # under DDP Lightning swaps in a seeded distributed sampler
        generator=generator,
        num_workers=workers,
        drop_last=len(train_set) > stage.batch_size,
    )
    val_loader = DataLoader(val_set, max(64, stage.batch_size), num_workers=workers)
    fitted = fit(
        module,
        train_loader,
        val_loader,
        stage_dir,
        max_epochs=stage.max_epochs,
        monitor="val_accuracy",
        mode="max",
        patience=stage.patience,
        stop_monitor="val_loss",
        stop_mode="min",
        accelerator=accelerator,
        distribution=distribution,
        precision=precision,
        max_train_batches=stage.max_train_batches or None,
        progress=progress,
        resume=resume,
        deterministic=None,
    )
    model.cpu()
    if is_global_zero():
        save_state_dict(final, model.state_dict())
    return fitted.history


def _load_final(model: torch.nn.Module, final: Path) -> None:
    """A finished stage's weights, read safely and checked against ``model``."""
    state = read_state_dict(final)
    problem = state_dict_mismatch(model.state_dict(), state)
    if problem is not None:
        raise InkfaceError(f"{final}: weights of another model ({problem}); rerun with --no-resume")
    model.load_state_dict(state)


def _source_sets(recipe: FaceRecipe, seed: int) -> tuple[Dataset, Dataset, int, list[float]]:

    pre = recipe.pretrain
    assert pre is not None
    if pre.root is None:
        raise InkfaceError(f"recipe {recipe.name}: give --root {pre.source}=DIR to pre-train")
    train = load_source_domain(pre.source, pre.root, "train")
    images, labels = train.images, train.labels
    rng = np.random.default_rng(seed)
    if pre.max_images is not None and len(labels) > pre.max_images:
        keep = np.sort(rng.choice(len(labels), pre.max_images, replace=False))
        images, labels = images[keep], labels[keep]
    try:
        if pre.source == "casia-webface":
            raise DatasetError("no split")
        val = load_source_domain(pre.source, pre.root, "test")
        val_images, val_labels = val.images, val.labels
    except DatasetError:
        order = rng.permutation(len(labels))
        cut = max(1, int(len(labels) * SOURCE_VAL_FRACTION))
        val_images, val_labels = images[order[:cut]], labels[order[:cut]]
        images, labels = images[order[cut:]], labels[order[cut:]]
    mean = (images.reshape(-1, 3).mean(axis=0) / 255.0).tolist()
    crop = pre.crop
    return (
        ArrayTensors(images, labels, mean, crop, seed),
        ArrayTensors(val_images, val_labels, mean, None, seed),
        len(train.class_names),
        mean,
    )


def build_face_model(recipe: FaceRecipe, num_classes: int) -> tuple[torch.nn.Module, dict]:
    """The recipe's model with ``num_classes`` outputs (+ ImageNet weights if named)."""

    kwargs = {**recipe.model.kwargs, "num_classes": num_classes}
    model = get_model(recipe.model.name, **kwargs)
    if recipe.model.imagenet_weights:
        load_imagenet_weights(model, recipe.model.imagenet_weights)
    saved = {k: v for k, v in kwargs.items() if k != "backbone_weights"}
    return model, saved


def train_face_classifier(
    recipe: FaceRecipe,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    resume: bool | str = True,
    strict: bool = True,
    progress: bool = True,
    seed: int | None = None,
    data: FaceData | None = None,
    workers: int = 0,
) -> FaceRun:
    """Run every stage of ``recipe`` and evaluate; see the module docstring.

    ``resume``: True (or ``"auto"``) resumes an unfinished run and keeps a finished one;
    ``"continue"`` trains a finished run further; False (or ``"fresh"``) retrains.
    Under DDP (``recipe.distribution``) ranks other than 0 return ``secondary`` runs.
    """
    run_dir = Path(out_dir)
    distribution = Distribution.from_settings(recipe.distribution)
    primary = is_global_zero()
    progress = progress and primary  # launched ranks share the terminal of rank 0
    if workers < 0:
        raise InkfaceError(f"workers: must be >= 0, got {workers}")
    for stage in (recipe.pretrain, recipe.training, recipe.finetune):
        if stage is not None:
            check_count("max_epochs", stage.max_epochs)
    seed = recipe.data.seed if seed is None else seed
    identity = RunIdentity(recipe.model.name, dict(recipe.model.kwargs), TASK)
    resolved = recipe.updated("data", seed=seed).to_yaml()  # the seed actually used
    # Every rank plans (and refuses) alike. Ranks that Lightning starts at the first fit
    # may find the folder rank 0 began ("unfinished" for "new"): no checkpoint exists
    # before the first epoch all ranks train together, so they resume nothing either.
    plan = plan_run(run_dir, identity, resume, resolved)
    if plan.keep:
        note = finished_note(run_dir)
        return FaceRun(run_dir, _saved_metrics(run_dir), True, note, secondary=not primary)
    L.seed_everything(seed, workers=True, verbose=False)
    if data is None:
        data = prepare_face_data(recipe, cache_dir, strict=strict, progress=progress)
    if primary:
        begin_run(plan)
    n_classes = len(data.class_names)
    common = {
        "seed": seed,
        "progress": progress,
        "resume": plan.resume,
        "extend": resume == "continue",
        "workers": workers,
        "accelerator": recipe.accelerator,
        "precision": recipe.precision,
        "distribution": distribution,
    }
    histories: dict[str, dict[str, list[float]]] = {}
    if recipe.pretrain is not None:
        train_set, val_set, n_source, _ = _source_sets(recipe, seed)
        model, kwargs = build_face_model(recipe, n_source)
        histories["pretrain"] = fit_stage(
            model,
            recipe.pretrain,
            train_set,
            val_set,
            run_dir / "pretrain",
            tuple(str(i) for i in range(n_source)),
            **common,
        )
        replace_classifier(model, n_classes)  # "only changes the final layer" (§III-A)
        kwargs["num_classes"] = n_classes
    else:
        model, kwargs = build_face_model(recipe, n_classes)
    sets = {
        name: FaceTensors(
            crops,
            data.input_size,
            data.normalization,
            data.mean,
            augment=recipe.data.augment if name == "train" else None,
            random_crop=recipe.data.random_crop,
            train=name == "train",
            seed=seed,
        )
        for name, crops in (("train", data.train), ("val", data.val))
    }
    if recipe.training.freeze_backbone:
        freeze_backbone(model)
    histories["training"] = fit_stage(
        model,
        recipe.training,
        sets["train"],
        sets["val"],
        run_dir / "stage1",
        data.class_names,
        **common,
    )
    if recipe.finetune is not None:
        unfreeze_from(model, recipe.finetune.unfreeze_from)
        histories["finetune"] = fit_stage(
            model,
            recipe.finetune,
            sets["train"],
            sets["val"],
            run_dir / "stage2",
            data.class_names,
            **common,
        )
    if not primary:  # rank 0 evaluates on the whole test sets and writes the folder
        return FaceRun(run_dir, {}, secondary=True)
    model = model.cpu().eval()
    write_json(run_dir / "history.json", {"stages": histories})
    metrics = evaluate_run(recipe, model, data, histories, run_dir, seed)
    spec = model_info(recipe.model.name)
    # model.pt + meta.json last: a folder with meta.json is a finished run.
    save_face_classifier(
        run_dir,
        model,
        recipe.model.name,
        data.class_names,
        data.input_size,
        data.normalization,
        spec.in_channels,
        kwargs,
        head=recipe.head or recipe.task,
        mean=data.mean,
        extra={"recipe": recipe.name, "face_task": recipe.task},
    )
    return FaceRun(run_dir, metrics)


def _saved_metrics(run_dir: Path) -> dict[str, Any]:
    """``metrics.json`` of a finished run (one line if it cannot be read)."""
    path = run_dir / "metrics.json"
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        metrics = None
    if not isinstance(metrics, dict):
        raise InkfaceError(f"{path}: missing or unreadable; rerun with --force to retrain")
    return metrics
