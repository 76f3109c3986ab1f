"""Lightning module for image classifiers (writer CNN now; face classifiers reuse it).

Cross-entropy on logits; accuracy logged per epoch for train and validation (synced
over DDP ranks: the epoch value is the mean over every rank's samples); the
optimizer and learning-rate schedule come from the recipe (:mod:`inkface.training.optim`:
plateau, multistep, inverse-time decay or none).

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
from inkface.training.optim import build_optimizer, build_scheduler


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
        for name, value in (("loss", loss), ("accuracy", accuracy)):
            # sync_dist: reduced once per epoch, the sample-weighted mean over all ranks.
            self.log(
                f"{stage}_{name}",
                value,
                on_epoch=True,
                on_step=False,
                prog_bar=True,
                batch_size=len(labels),
                sync_dist=True,
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
        return build_scheduler(build_optimizer(trainable, self.optimizer_settings), self.schedule)
