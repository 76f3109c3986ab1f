"""The identification paper's Siamese network (section III.B, Figure 10).

The paper omits the convolutional feature extractor of its Figure 5 and compares
pixels directly: each 128 x 128 input is flattened into a 128-unit ReLU embedding,
the Euclidean distance between the two embeddings is "normalised using the sigmoid
function" into a similarity in [0, 1], trained on about 6,000 random same/different
pairs with 0/1 targets (binary cross-entropy).

The squashing is not specified. ``similarity = sigmoid(a - b * d)`` with learnable
``a`` and ``b > 0`` (initialised to 2 and 4) maps distance 0 to a similarity near 1
and grows monotonically closer to 0 with distance; it is the usual Keras
``Dense(1, activation="sigmoid")`` on the distance, with the sign of ``b`` fixed so a
larger distance can never mean more similar. ``conv_features=True`` restores Figure 5's
optional feature extractor (two Conv 3x3 + MaxPool blocks) in front of the embedding.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from inkface.models.layers import PaperTower
from inkface.models.registry import register_model

INPUT_SIZE = (128, 128)


class PixelSiameseTower(PaperTower):
    """One branch: (optional conv features) -> Flatten -> Dense 128 ReLU."""

    def __init__(self, embedding_dim: int = 128, conv_features: bool = False) -> None:
        rows = []
        flat = INPUT_SIZE[0] * INPUT_SIZE[1]
        if conv_features:
            rows += [
                (
                    "conv1",
                    "Conv2D",
                    "k = 3, 16",
                    nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2)),
                ),
                (
                    "conv2",
                    "Conv2D",
                    "k = 3, 32",
                    nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2)),
                ),
            ]
            flat = 32 * (INPUT_SIZE[0] // 4) * (INPUT_SIZE[1] // 4)
        rows += [
            ("flatten", "Flatten", "-", nn.Flatten()),
            (
                "embedding",
                "Dense",
                f"{embedding_dim}, ReLU",
                nn.Sequential(nn.Linear(flat, embedding_dim), nn.ReLU(True)),
            ),
        ]
        super().__init__(rows)
        self.embedding_dim = embedding_dim


class DistanceToSimilarity(nn.Module):
    """``sigmoid(a - softplus(b) * d)``: a similarity in [0, 1], decreasing in ``d``."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = nn.Parameter(torch.tensor(2.0))
        self.raw_scale = nn.Parameter(torch.tensor(4.0))

    def forward(self, distances: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.offset - F.softplus(self.raw_scale) * distances)


class PixelSiamese(nn.Module):
    """Two shared branches and the similarity head (the paper's complete SNN)."""

    def __init__(self, embedding_dim: int = 128, conv_features: bool = False) -> None:
        super().__init__()
        self.tower = PixelSiameseTower(embedding_dim, conv_features)
        self.head = DistanceToSimilarity()

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        a, b = self.tower(left), self.tower(right)
        return self.head(torch.sqrt(((a - b) ** 2).sum(dim=1) + 1e-12))


@register_model(
    "siamese_pixels",
    input_size=INPUT_SIZE,
    in_channels=1,
    description="identification SNN branch: pixels -> Dense 128 ReLU (Fig. 10)",
    paper_reference="Signature identification, CNN vs Siamese, section III.B, Fig. 10",
    embedding_dim=128,
)
def siamese_pixels(*, embedding_dim: int = 128, conv_features: bool = False) -> PixelSiameseTower:
    """The embedding branch used for galleries; pair training wraps it in PixelSiamese."""
    return PixelSiameseTower(embedding_dim=embedding_dim, conv_features=conv_features)
