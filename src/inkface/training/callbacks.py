"""Small Lightning callbacks: per-epoch history written into the run folder, and one
summary line per epoch where a progress bar would only fill a log with noise."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import TextIO

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from inkface.core.atomic import write_json
from inkface.training.checkpoints import load_weights


class EpochSeed(L.Callback):
    """Seeds Python, NumPy and PyTorch from ``(seed, rank, epoch)`` before each training
    epoch's first step.

    A run resumed from ``last.ckpt`` in a new process then draws the same dropout masks
    (and any other randomness of the training steps) from its resumed epoch on as the
    uninterrupted run did: the global generators are not in the checkpoint. The first
    step, not ``on_train_epoch_start``, because Lightning skips that hook for the epoch
    it resumes into. ``seed`` defaults to the one ``lightning.seed_everything`` recorded
    (``PL_GLOBAL_SEED``), else torch's initial seed when the callback is made.
    """

    def __init__(self, seed: int | None = None) -> None:
        if seed is None:
            recorded = os.environ.get("PL_GLOBAL_SEED", "")
            seed = int(recorded) if recorded.lstrip("-").isdigit() else torch.initial_seed()
        self.seed = int(seed)

    def on_train_batch_start(
        self, trainer: L.Trainer, module: L.LightningModule, batch: object, batch_idx: int
    ) -> None:
        if batch_idx != 0:
            return
        value = (self.seed + 1_000_003 * trainer.global_rank + trainer.current_epoch) % 2**32
        random.seed(value)
        np.random.seed(value)
        torch.manual_seed(value)


class EpochHistory(L.Callback):
    """Appends each epoch's logged metrics to ``history.json`` (atomically).

    A resumed run continues the same file, so the training curves cover every epoch.
    Under DDP every rank keeps the rows (the metrics are synced over ranks) and global
    rank 0 alone writes the file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []
        if self.path.is_file():
            try:
                saved = json.loads(self.path.read_text(encoding="utf-8"))
            except (ValueError, RecursionError):
                saved = {}
            rows = saved.get("epochs", []) if isinstance(saved, dict) else []
            self.rows = [r for r in rows if isinstance(r, dict) and "epoch" in r]

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # Runs after the epoch's validation, once every metric of the epoch is logged.
        row = {"epoch": float(trainer.current_epoch)}
        for key, value in trainer.callback_metrics.items():
            if not key.endswith("_step"):
                row[key.removesuffix("_epoch")] = float(value)
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        if trainer.is_global_zero:
            write_json(self.path, {"epochs": self.rows})

    def series(self) -> dict[str, list[float]]:
        keys = sorted({k for row in self.rows for k in row if k != "epoch"})
        return {k: [row.get(k, float("nan")) for row in self.rows] for k in keys}


class EpochSummary(L.Callback):
    """Prints ``epoch 3/20: train_loss 0.412, val_accuracy 0.875`` once per epoch (the
    progress bar's information, for logs that are not a terminal); global rank 0 only."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        found: dict[str, float] = {}
        for key, value in sorted(trainer.callback_metrics.items()):
            if not key.endswith("_step") and value.numel() == 1:
                # ``x`` and ``x_epoch`` are one metric: show it once, the epoch mean winning.
                name = key.removesuffix("_epoch")
                if key.endswith("_epoch") or name not in found:
                    found[name] = float(value)
        values = [f"{name} {value:.4g}" for name, value in found.items()]
        total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else "?"
        line = f"epoch {trainer.current_epoch + 1}/{total}: {', '.join(values)}"
        print(line if values else line.rstrip(": "), file=self.stream, flush=True)


def restore_best(module: L.LightningModule, checkpoint: ModelCheckpoint) -> bool:
    """Load the best checkpoint's weights into ``module``; False when none was saved.

    The file is read with ``weights_only=True`` and checked against ``module``
    (:func:`inkface.training.checkpoints.load_weights`): a checkpoint planted in the run
    folder is refused, never unpickled. The path comes from the callback's state, which
    a resumed ``last.ckpt`` restores, so only a file inside the callback's own folder
    is read.
    """
    path = checkpoint.best_model_path
    if not path or not Path(path).is_file() or checkpoint.dirpath is None:
        return False
    if Path(checkpoint.dirpath).resolve() not in Path(path).resolve().parents:
        return False
    load_weights(module, path)
    return True
