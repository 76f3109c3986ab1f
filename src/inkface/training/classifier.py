"""Lightning module for image classifiers (writer CNN now; face classifiers reuse it).

Cross-entropy on logits; accuracy logged per epoch for train and validation; the
learning-rate schedule comes from the recipe: ``plateau`` (divide by 10 when the
validation loss stalls, down to ``min_lr``: the smile paper's 1e-4 -> 1e-7 steps),
``multistep`` (divide by 10 at given epochs: the FER paper's epochs 4 and 6),
``inverse_time`` (Keras ``Adam(decay=...)``: lr / (1 + decay * step), per batch, as the
face-mask report's ``decay=INIT_LR / EPOCHS``) or none.

A prebuilt ``model`` may be passed instead of a registry name (the face trainers build,
load ImageNet / source-domain weights and freeze layers before training).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
from torch.nn import functional as F

from inkface.models import get_model
from inkface.signatures.verification.module import build_optimizer


class ClassifierModule(L.LightningModule):
    """A registered classifier trained with cross-entropy."""

    def __init__(
        self,
        model_name: str,
        model_kwargs: Mapping[str, Any] | None = None,
        optimizer: Mapping[str, Any] | None = None,
        schedule: Mapping[str, Any] | None = None,
        class_names: Sequence[str] = (),
        model: torch.nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = (
            model if model is not None else get_model(model_name, **dict(model_kwargs or {}))
        )
        self.optimizer_settings = dict(optimizer or {"name": "adam", "lr": 1e-3})
        self.schedule = dict(schedule or {})
        self.class_names = list(class_names)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            images = images.float().div_(255.0)
        return self.model(images)

    def _step(self, batch: Sequence[torch.Tensor], stage: str) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        n = len(labels)
        self.log(f"{stage}_loss", loss, on_epoch=True, on_step=False, prog_bar=True, batch_size=n)
        self.log(
            f"{stage}_accuracy", accuracy, on_epoch=True, on_step=False, prog_bar=True, batch_size=n
        )
        return loss

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, "train")
        penalty = getattr(self.model, "regularization_loss", None)
        return loss + penalty() if callable(penalty) else loss

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self) -> Any:
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = build_optimizer(trainable, self.optimizer_settings)
        kind = self.schedule.get("name")
        if kind == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                factor=self.schedule.get("factor", 0.1),
                patience=self.schedule.get("patience", 2),
                min_lr=self.schedule.get("min_lr", 1e-7),
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"},
            }
        if kind == "multistep":
            scheduler = torch.optim.lr_scheduler.MultiStepLR(
                optimizer,
                milestones=list(self.schedule.get("milestones", (4, 6))),
                gamma=self.schedule.get("gamma", 0.1),
            )
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
        if kind == "inverse_time":
            decay = float(self.schedule.get("decay", 0.0))
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: 1.0 / (1.0 + decay * step)
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
            }
        return optimizer
