"""Training of the identification paper's Siamese network (section III.B).

Random pairs of training signatures with 0/1 targets (same writer or not), binary
cross-entropy on the predicted similarity. The paper builds "about 6000 pairs"; we
draw them balanced (half same-writer) with a seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from inkface.models.siamese_pixels import PixelSiamese
from inkface.signatures.data.augment import AffineRanges, distort
from inkface.training.optim import build_optimizer


def random_pairs(labels: np.ndarray, n_pairs: int, seed: int) -> np.ndarray:
    """(n_pairs, 3) rows of (left, right, target): half same-writer, half different."""
    rng = np.random.default_rng(seed)
    by_writer = {w: np.flatnonzero(labels == w) for w in np.unique(labels)}
    writers = np.array(sorted(by_writer))
    rows = []
    for i in range(n_pairs):
        same = i % 2 == 0
        a = rng.choice(writers)
        if same:
            left, right = rng.choice(by_writer[a], size=2, replace=len(by_writer[a]) < 2)
        else:
            b = rng.choice(writers[writers != a])
            left, right = rng.choice(by_writer[a]), rng.choice(by_writer[b])
        rows.append((left, right, int(same)))
    return np.asarray(rows, dtype=np.int64)


class ImagePairs(Dataset):
    """Pairs of uint8 images (1, H, W) with a float 0/1 target.

    With ``ranges`` each image of a pair is distorted (Keras-style, fixed per pair
    index and side), so the network sees the augmented data the paper trained on.
    """

    def __init__(
        self,
        images: np.ndarray,
        pairs: np.ndarray,
        ranges: AffineRanges | None = None,
        seed: int = 0,
    ) -> None:
        self.images, self.pairs, self.ranges, self.seed = images, pairs, ranges, seed

    def __len__(self) -> int:
        return len(self.pairs)

    def _image(self, row: int, index: int, side: int) -> torch.Tensor:
        image = self.images[row]
        if self.ranges is not None:
            image = distort(image, self.ranges, np.random.default_rng((self.seed, index, side)))
        return torch.from_numpy(np.ascontiguousarray(image)).unsqueeze(0)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        left, right, target = self.pairs[index]
        return (
            self._image(left, index, 0),
            self._image(right, index, 1),
            torch.tensor(float(target)),
        )


class PairSimilarityModule(L.LightningModule):
    """The paper's SNN trained with binary cross-entropy on similarity."""

    def __init__(
        self,
        model_kwargs: Mapping[str, Any] | None = None,
        optimizer: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = PixelSiamese(**dict(model_kwargs or {}))
        self.optimizer_settings = dict(optimizer or {"name": "adam", "lr": 1e-3})

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return self.net(left.float() / 255.0, right.float() / 255.0)

    def _step(self, batch: Sequence[torch.Tensor], stage: str) -> torch.Tensor:
        left, right, target = batch
        similarity = self(left, right).clamp(1e-6, 1 - 1e-6)
        loss = F.binary_cross_entropy(similarity, target)
        accuracy = ((similarity >= 0.5).float() == target).float().mean()
        n = len(target)
        logged = {"on_epoch": True, "on_step": False, "prog_bar": True, "batch_size": n}
        # sync_dist: under DDP the epoch value is the mean over every process's samples
        self.log(f"{stage}_loss", loss, sync_dist=True, **logged)
        self.log(f"{stage}_accuracy", accuracy, sync_dist=True, **logged)
        return loss

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return build_optimizer(self.parameters(), self.optimizer_settings)
