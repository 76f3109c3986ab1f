"""The identification paper's writer CNN (section III.A, Figures 7-8).

Input 128 x 128 grey; ``conv_layers`` (2 to 5) blocks of Conv2D 3x3 + ReLU and
MaxPool 2x2; Flatten; Dense 256 + ReLU; a softmax output over the writers (logits
here; softmax is applied by the loss / at inference).

The paper gives neither filter counts nor padding. We use Keras defaults (``valid``
padding) and the common doubling 32, 64, 128, then 128 for deeper blocks. The paper's
best variant has 3 blocks (83 % validation, 78 % on its harder test set).
"""

from __future__ import annotations

import torch
from torch import nn

from inkface.core.errors import InkfaceError
from inkface.models.layers import PaperTower
from inkface.models.registry import register_model

# Filters of block 1..5 (the paper does not list them; see the module docstring).
FILTERS = (32, 64, 128, 128, 128)
INPUT_SIZE = (128, 128)


def _flat_features(conv_layers: int, size: int = INPUT_SIZE[0]) -> int:
    for _ in range(conv_layers):
        size = (size - 2) // 2
    return size * size * FILTERS[conv_layers - 1]


class WriterCNN(PaperTower):
    """Closed-set writer classifier: adding a writer means retraining (the paper's point)."""

    def __init__(self, num_classes: int = 8, conv_layers: int = 3, dense: int = 256) -> None:
        if not 2 <= conv_layers <= 5:
            raise InkfaceError(f"conv_layers must be between 2 and 5, got {conv_layers}")
        if num_classes < 2:
            raise InkfaceError(f"num_classes must be >= 2, got {num_classes}")
        rows = []
        in_channels = 1
        for i in range(conv_layers):
            block = nn.Sequential(nn.Conv2d(in_channels, FILTERS[i], 3), nn.ReLU(inplace=True))
            rows.append((f"conv{i + 1}", "Conv2D", f"k = 3, {FILTERS[i]} filters", block))
            rows.append((f"pool{i + 1}", "MaxPool2D", "k = 2, s = 2", nn.MaxPool2d(2)))
            in_channels = FILTERS[i]
        rows += [
            ("flatten", "Flatten", "-", nn.Flatten()),
            (
                "dense",
                "Dense",
                f"{dense}, ReLU",
                nn.Sequential(nn.Linear(_flat_features(conv_layers), dense), nn.ReLU(True)),
            ),
            ("output", "Dense", "softmax over writers", nn.Linear(dense, num_classes)),
        ]
        super().__init__(rows)
        self.num_classes = num_classes
        self.conv_layers = conv_layers

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The Dense-256 activations (used to show why a CNN cannot enrol new writers)."""
        return self.layers[:-1](x)


@register_model(
    "writer_cnn",
    input_size=INPUT_SIZE,
    in_channels=1,
    description="identification CNN: 2-5 x (Conv 3x3 + MaxPool), Dense 256, softmax",
    paper_reference="Signature identification, CNN vs Siamese, section III.A, Fig. 8",
    kind="classifier",
    num_classes=8,
)
def writer_cnn(*, num_classes: int = 8, conv_layers: int = 3, dense: int = 256) -> WriterCNN:
    """The writer CNN with ``conv_layers`` blocks (the paper compares 2, 3, 4 and 5)."""
    return WriterCNN(num_classes=num_classes, conv_layers=conv_layers, dense=dense)
