"""One Lightning fit for every trainer: checkpoints, history, early stopping, resume.

The verifier, the face classifiers (one call per stage) and the identification models
all train the same way: keep the epoch with the best monitored validation metric, write
each epoch's metrics to ``<run>/history.json``, optionally stop early, optionally resume
an interrupted run from ``<run>/checkpoints/last.ckpt``, and end with the best epoch's
weights in the module. :func:`fit` is that one way, so the trainers only differ in the
settings they pass.

Run folder layout (unchanged from the trainers' own set-ups, so old run folders resume):

* ``<run>/checkpoints/best.ckpt``: the best epoch (Lightning checkpoint);
* ``<run>/checkpoints/last.ckpt``: the latest epoch, when ``save_last``;
* ``<run>/history.json``: ``{"epochs": [{"epoch": 0, "train_loss": ...}, ...]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader

from inkface.training.callbacks import EpochHistory, restore_best

CHECKPOINT_DIR = "checkpoints"
BEST_NAME = "best"
LAST_FILE = "last.ckpt"
HISTORY_FILE = "history.json"


@dataclass(frozen=True)
class FitResult:
    """What a trainer needs after fitting.

    ``history`` is the per-epoch series of every logged metric (a resumed run includes
    the epochs before the interruption); ``best_score`` is the monitored metric at the
    best epoch (None when no checkpoint was kept); ``epochs`` is Lightning's epoch
    counter at the end (epochs run, counting resumed ones); ``restored`` says whether the
    best epoch's weights were loaded back into the module.
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
    continues the run (optimizer, epoch counter, history); without it the run and its
    history start afresh. ``deterministic`` is passed to Lightning as is.
    """
    run_dir = Path(run_dir)
    history = EpochHistory(run_dir / HISTORY_FILE)
    if not resume:
        history.rows = []
    checkpoint = ModelCheckpoint(
        run_dir / CHECKPOINT_DIR, BEST_NAME, monitor=monitor, mode=mode, save_last=save_last
    )
    callbacks: list[L.Callback] = [checkpoint, history]
    if patience is not None:
        callbacks.append(
            EarlyStopping(stop_monitor or monitor, mode=stop_mode or mode, patience=patience)
        )
    trainer = L.Trainer(
        default_root_dir=run_dir,
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=devices,
        precision=precision,  # type: ignore[arg-type]
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        deterministic=deterministic,
        limit_train_batches=max_train_batches,
        num_sanity_val_steps=0,
    )
    last = run_dir / CHECKPOINT_DIR / LAST_FILE
    trainer.fit(
        module, train_loader, val_loader, ckpt_path=str(last) if resume and last.is_file() else None
    )
    restored = restore_best(module, checkpoint)
    best_path = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
    return FitResult(
        history=history.series(),
        best_score=_float_or_none(checkpoint.best_model_score),
        best_checkpoint=best_path,
        epochs=int(trainer.current_epoch),
        restored=restored,
    )


def _float_or_none(value: torch.Tensor | float | None) -> float | None:
    if value is None:
        return None
    return float(value.detach().cpu()) if isinstance(value, torch.Tensor) else float(value)
