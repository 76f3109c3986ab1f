"""Small Lightning callbacks: per-epoch history written into the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from inkface.core.atomic import write_json


class EpochHistory(L.Callback):
    """Appends each epoch's logged metrics to ``history.json`` (atomically).

    A resumed run continues the same file, so the training curves cover every epoch.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []
        if self.path.is_file():
            self.rows = json.loads(self.path.read_text(encoding="utf-8")).get("epochs", [])

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # Runs after the epoch's validation, once every metric of the epoch is logged.
        row = {"epoch": float(trainer.current_epoch)}
        for key, value in trainer.callback_metrics.items():
            if not key.endswith("_step"):
                row[key.removesuffix("_epoch")] = float(value)
        self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]
        write_json(self.path, {"epochs": self.rows})

    def series(self) -> dict[str, list[float]]:
        keys = sorted({k for row in self.rows for k in row if k != "epoch"})
        return {k: [row.get(k, float("nan")) for row in self.rows] for k in keys}


def restore_best(module: L.LightningModule, checkpoint: ModelCheckpoint) -> bool:
    """Load the best checkpoint's weights into ``module``; False when none was saved.

    The file is a Lightning checkpoint this run just wrote, so it is trusted to unpickle
    (inference never reads it: run folders keep a plain state dict in ``model.pt``).
    """
    path = checkpoint.best_model_path
    if not path or not Path(path).is_file():
        return False
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    module.load_state_dict(state)
    return True
