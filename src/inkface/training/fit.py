"""One Lightning fit for every trainer: checkpoints, history, early stopping, resume.

The verifier, the face classifiers (one call per stage) and the identification models
all train the same way: keep the epoch with the best monitored validation metric, write
each epoch's metrics to ``<run>/history.json``, optionally stop early, optionally resume
an interrupted run from ``<run>/checkpoints/last.ckpt``, and end with the best epoch's
weights in the module. :func:`fit` is that one way, so the trainers only differ in the
settings they pass.

Run folder layout (unchanged from the trainers' own set-ups, so old run folders resume):

* ``<run>/checkpoints/best.ckpt``: the best epoch (Lightning checkpoint);
* ``<run>/checkpoints/last.ckpt``: the latest epoch, rewritten after every epoch;
* ``<run>/history.json``: ``{"epochs": [{"epoch": 0, "train_loss": ...}, ...]}``.

Every training epoch's first step seeds the global generators from the run's seed and
the epoch (:class:`~inkface.training.callbacks.EpochSeed`), so a run killed and resumed
in a new process draws the dropout masks the uninterrupted run drew.

Checkpoints are read with ``weights_only=True`` only (:mod:`inkface.training.checkpoints`).
A resume whose ``last.ckpt`` is already finished (its epoch budget reached, or stopped
early) trains nothing: the best epoch's weights are loaded back and the saved history
returned, so rerunning a finished run reproduces its results instead of training on.

Several devices or nodes (:class:`~inkface.training.distributed.Distribution`, Lightning
DDP): every process calls :func:`fit` with the same arguments. Each trains on its share
of the training and validation sets (Lightning's distributed sampler); the modules log
with ``sync_dist=True``, so the epoch metrics, the best epoch and early stopping are
those of the whole validation set on every rank (up to the few samples the sampler
repeats to give every rank as many). Global rank 0 alone writes: Lightning saves the
checkpoints there, :class:`~inkface.training.callbacks.EpochHistory` writes
``history.json`` there, and only rank 0 clears old checkpoints. Every rank resumes from
the same ``last.ckpt``; the run folder must be on a file system all nodes share.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping
from torch.utils.data import DataLoader

from inkface.training.callbacks import EpochHistory, EpochSeed, EpochSummary, restore_best
from inkface.training.checkpoints import (
    BEST_NAME,
    SUFFIX,
    SavedProgress,
    check_fits,
    checkpoint_callbacks,
    clear_checkpoints,
    load_weights,
    read_checkpoint,
    saved_progress,
)
from inkface.training.distributed import Distribution, is_global_zero
from inkface.training.output import progress_style, quiet_lightning
from inkface.training.run_folder import check_count

CHECKPOINT_DIR = "checkpoints"
LAST_FILE = "last.ckpt"
HISTORY_FILE = "history.json"


@dataclass(frozen=True)
class FitResult:
    """What a trainer needs after fitting.

    ``history`` is the per-epoch series of every logged metric (a resumed run includes
    the epochs before the interruption); ``best_score`` is the monitored metric at the
    best epoch (None when no checkpoint was kept); ``epochs`` is the number of epochs
    trained (counting resumed ones); ``restored`` says whether the best epoch's weights
    were loaded back into the module.
    """

    history: dict[str, list[float]]
    best_score: float | None
    best_checkpoint: Path | None
    epochs: int
    restored: bool


def fit(
    module: L.LightningModule,
    train_loader: DataLoader,
    val_loader: DataLoader,
    run_dir: str | Path,
    *,
    max_epochs: int,
    monitor: str = "val_accuracy",
    mode: Literal["min", "max"] = "max",
    patience: int | None = None,
    stop_monitor: str | None = None,
    stop_mode: Literal["min", "max"] | None = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    distribution: Distribution | None = None,
    precision: str = "32-true",
    max_train_batches: int | float | None = None,
    progress: bool = True,
    resume: bool = False,
    save_last: bool = True,
    deterministic: bool | Literal["warn"] | None = "warn",
) -> FitResult:
    """Train ``module`` into ``run_dir`` and leave the best epoch's weights in it.

    ``monitor`` / ``mode`` choose the best epoch. ``patience`` (None: never) stops after
    that many epochs without improvement of ``stop_monitor`` / ``stop_mode``, which
    default to ``monitor`` / ``mode`` (the face stages keep the best accuracy but stop on
    the validation loss). ``max_train_batches`` caps the batches per epoch (Lightning's
    ``limit_train_batches``; None: all). With ``resume`` an existing ``last.ckpt``
    continues the run (optimizer, epoch counter, history), or is returned as it is when
    finished; without it the run and its history start afresh. ``progress`` shows a bar
    on a terminal and one line per epoch otherwise. ``deterministic`` is passed to
    Lightning as is. ``distribution`` (devices, nodes, strategy) replaces ``devices``
    when given; see the module docstring for what each process does. Bad settings and
    bad checkpoints are one-line InkfaceErrors.
    """
    check_count("max_epochs", max_epochs)
    if patience is not None:
        check_count("patience", patience)
    run_dir = Path(run_dir)
    folder = run_dir / CHECKPOINT_DIR
    last = folder / LAST_FILE
    resume_from: Path | None = None
    if resume and last.is_file():
        checkpoint = read_checkpoint(last)
        check_fits(checkpoint, module, last)
        saved = saved_progress(checkpoint, monitor)
        if saved.finished(max_epochs):
            module.load_state_dict(checkpoint["state_dict"])
            return _already_fitted(module, run_dir, saved)
        resume_from = last
    elif is_global_zero():  # the other ranks must not delete what rank 0 may be writing
        clear_checkpoints(folder)
    history = EpochHistory(run_dir / HISTORY_FILE)
    if resume_from is None:
        history.rows = []
    best, latest = checkpoint_callbacks(folder, monitor, mode, save_last)
    callbacks: list[L.Callback] = [best, *([latest] if latest else []), history, EpochSeed()]
    if patience is not None:
        callbacks.append(
            EarlyStopping(stop_monitor or monitor, mode=stop_mode or mode, patience=patience)
        )
    style = progress_style(progress)  # Lightning's bar writes to stdout
    if style == "lines":
        callbacks.append(EpochSummary(sys.stderr))  # stdout may carry a command's JSON
    placement: dict[str, Any] = (
        distribution.trainer_kwargs()
        if distribution is not None
        else {"devices": devices, "num_nodes": 1, "strategy": "auto"}
    )
    with quiet_lightning():
        trainer = L.Trainer(
            default_root_dir=run_dir,
            max_epochs=max_epochs,
            accelerator=accelerator,
            **placement,
            use_distributed_sampler=True,  # each rank trains and validates on its share
            precision=precision,  # type: ignore[arg-type]
            callbacks=callbacks,
            logger=False,
            enable_progress_bar=style == "bar",
            enable_model_summary=False,
            deterministic=deterministic,
            limit_train_batches=max_train_batches,
            num_sanity_val_steps=0,
        )
        trainer.fit(
            module,
            train_loader,
            val_loader,
            ckpt_path=None if resume_from is None else str(resume_from),
            weights_only=True,
        )
    restored = restore_best(module, best)
    best_path = Path(best.best_model_path) if best.best_model_path else None
    return FitResult(
        history=history.series(),
        best_score=_float_or_none(best.best_model_score),
        best_checkpoint=best_path,
        epochs=int(trainer.current_epoch),
        restored=restored,
    )


def _already_fitted(module: L.LightningModule, run_dir: Path, saved: SavedProgress) -> FitResult:
    """The result of a finished fit, its best weights loaded into ``module``."""
    best_path = run_dir / CHECKPOINT_DIR / f"{BEST_NAME}{SUFFIX}"
    restored = best_path.is_file()
    if restored:
        load_weights(module, best_path)
    return FitResult(
        history=EpochHistory(run_dir / HISTORY_FILE).series(),
        best_score=saved.best_score,
        best_checkpoint=best_path if restored else None,
        epochs=saved.epochs,
        restored=restored,
    )


def _float_or_none(value: torch.Tensor | float | None) -> float | None:
    if value is None:
        return None
    return float(value.detach().cpu()) if isinstance(value, torch.Tensor) else float(value)
