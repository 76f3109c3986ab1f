"""Optimizers and learning-rate schedules from a recipe's ``optimizer`` / ``schedule`` blocks.

Shared by every Lightning module (Siamese verifier, pixel Siamese, image classifiers) so
that one recipe vocabulary (:class:`inkface.core.recipe.OptimizerConfig` and
``ScheduleConfig``) means the same thing everywhere. Schedules:

* ``plateau``: divide by 10 when the validation loss stalls, down to ``min_lr`` (the
  smile paper's 1e-4 -> 1e-7 steps);
* ``multistep``: divide by 10 at given epochs (the FER paper's epochs 4 and 6);
* ``inverse_time``: Keras ``Adam(decay=...)``, lr / (1 + decay * step) per batch, as the
  face-mask report's ``decay=INIT_LR / EPOCHS``;
* ``none`` (or an empty block): a constant learning rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

PLATEAU_MONITOR = "val_loss"


def build_optimizer(
    params: Iterable[torch.nn.Parameter], settings: Mapping[str, Any]
) -> torch.optim.Optimizer:
    """Adam, RMSprop or SGD from a recipe's ``optimizer`` block (``name`` and ``lr`` required)."""
    name = settings["name"]
    lr, weight_decay = settings["lr"], settings.get("weight_decay", 0.0)
    if name == "adam":
        return torch.optim.Adam(
            params,
            lr=lr,
            betas=tuple(settings.get("betas", (0.9, 0.999))),
            eps=settings.get("eps", 1e-8),
            weight_decay=weight_decay,
        )
    if name == "rmsprop":
        return torch.optim.RMSprop(
            params,
            lr=lr,
            alpha=settings.get("alpha", 0.99),
            eps=settings.get("eps", 1e-8),
            momentum=settings.get("momentum", 0.0),
            weight_decay=weight_decay,
        )
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=settings.get("momentum", 0.0),
            nesterov=settings.get("nesterov", False),
            weight_decay=weight_decay,
        )
    raise ValueError(f"unknown optimizer {name!r}")


def build_scheduler(
    optimizer: torch.optim.Optimizer, schedule: Mapping[str, Any] | None
) -> torch.optim.Optimizer | dict[str, Any]:
    """What ``LightningModule.configure_optimizers`` returns for ``optimizer`` + ``schedule``.

    The bare optimizer when there is no schedule (``None``, ``{}`` or ``name: none``),
    otherwise Lightning's ``{"optimizer", "lr_scheduler"}`` dictionary with the
    scheduler's monitor (plateau) or interval (per-batch inverse-time decay).
    """
    schedule = schedule or {}
    kind = schedule.get("name", "none")
    if kind == "none":
        return optimizer
    if kind == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            factor=schedule.get("factor", 0.1),
            patience=schedule.get("patience", 2),
            min_lr=schedule.get("min_lr", 1e-7),
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": PLATEAU_MONITOR},
        }
    if kind == "multistep":
        scheduler = torch.optim.lr_scheduler.MultiStepLR(
            optimizer,
            milestones=list(schedule.get("milestones", (4, 6))),
            gamma=schedule.get("gamma", 0.1),
        )
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
    if kind == "inverse_time":
        decay = float(schedule.get("decay", 0.0))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 1.0 / (1.0 + decay * step)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
    raise ValueError(f"unknown learning-rate schedule {kind!r}")
