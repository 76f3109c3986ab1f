"""Lightning module for Siamese training with the contrastive loss (DeepSign 3.1).

Validation accuracy is the paper's own criterion: the accuracy at the threshold that
maximises it on the validation pairs (section 5.2), computed on genuine and skilled
pairs (random forgeries are reported, not used to pick thresholds). Early stopping and
checkpoint selection monitor it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from inkface.evaluation.verification import PairScores, best_threshold
from inkface.models import get_model
from inkface.signatures.data.pairs import RANDOM
from inkface.training.losses import contrastive_loss, pair_distances
from inkface.training.optim import build_optimizer


class SiameseModule(L.LightningModule):
    """One shared tower; a batch embeds its distinct images once (see pair_batches)."""

    def __init__(
        self,
        model_name: str,
        model_kwargs: Mapping[str, Any] | None = None,
        optimizer: Mapping[str, Any] | None = None,
        margin: float = 1.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.tower = get_model(model_name, **dict(model_kwargs or {}))
        self.optimizer_settings = dict(optimizer or {"name": "adam", "lr": 1e-3})
        self.margin = margin
        self._val_outputs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 1, H, W) with ink = 255, or float in [0, 1] -> (N, 128) embeddings."""
        if images.dtype == torch.uint8:
            images = images.float().div_(255.0)
        return self.tower(images)

    def batch_distances(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        embeddings = self.embed(batch["images"])
        return pair_distances(embeddings[batch["left"]], embeddings[batch["right"]])

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        distances = self.batch_distances(batch)
        loss = contrastive_loss(distances, batch["labels"], self.margin)
        total = loss + self.tower.regularization_loss()
        n = len(batch["labels"])
        self.log(
            "train_loss",
            loss,
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=n,
            sync_dist=True,
        )
        return total

    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        distances = self.batch_distances(batch)
        loss = contrastive_loss(distances, batch["labels"], self.margin)
        self.log(
            "val_loss",
            loss,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(distances),
            sync_dist=True,
        )
        self._val_outputs.append(
            (
                distances.detach().cpu().numpy(),
                batch["labels"].cpu().numpy().astype(np.int64),
                batch["kinds"].cpu().numpy(),
            )
        )

    def on_validation_epoch_end(self) -> None:
        outputs, self._val_outputs = self._val_outputs, []
        world = self.trainer.world_size
        if world > 1:  # every rank must reach this collective, before any early return
            gathered: list[list | None] = [None] * world
            torch.distributed.all_gather_object(gathered, outputs)
            outputs = [o for part in gathered for o in part or []]
        if not outputs:
            return
        distances, labels, kinds = (np.concatenate(x) for x in zip(*outputs, strict=True))
        keep = kinds != RANDOM
        distances, labels, kinds = distances[keep], labels[keep], kinds[keep]
        if len(np.unique(labels)) < 2:
            return
        scores = PairScores(distances, labels, kinds, np.zeros_like(labels))
        choice = best_threshold(scores)
        # computed from every rank's pairs, so the same on each (sync_dist only averages)
        self.log("val_accuracy", choice.accuracy, prog_bar=True, sync_dist=True)
        self.log("val_threshold", choice.threshold, sync_dist=True)
        auroc = float(roc_auc_score(labels, -distances))
        self.log("val_auroc", auroc, prog_bar=True, sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        trainable = [p for p in self.tower.parameters() if p.requires_grad]
        return build_optimizer(trainable, self.optimizer_settings)
