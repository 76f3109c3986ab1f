"""Small pieces shared by the Siamese towers of DeepSign (Ko & Wang), Tables 1-3.

The paper was written in Keras, so a few Keras behaviours are reproduced here on purpose:
``Dense`` carries its own L2 kernel penalty (``coef * sum(w**2)``, added to the loss by the
trainer through ``regularization_loss``), layers start from Glorot-uniform weights and zero
biases, and ``PaperTower`` keeps the rows of the paper's table in order so that
``inkface info`` can print the same table with our measured shapes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn


class Conv2dReLU(nn.Module):
    """Keras ``Conv2D(activation='relu')``: one table row, convolution then ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | str = 0,
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        self.relu = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class Dense(nn.Module):
    """Keras ``Dense`` with an optional ReLU and an L2 kernel regulariser of ``l2``."""

    def __init__(self, in_features: int, out_features: int, l2: float = 0.0, relu: bool = False):
        super().__init__()
        if l2 < 0:
            raise ValueError(f"l2 coefficient must be >= 0, got {l2}")
        self.linear = nn.Linear(in_features, out_features)
        self.relu = nn.ReLU(inplace=True) if relu else nn.Identity()
        self.l2 = float(l2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.linear(x))

    def penalty(self) -> torch.Tensor:
        """Keras ``l2(coef)`` on the kernel only: ``coef * sum(w ** 2)`` (bias not penalised)."""
        return self.l2 * self.linear.weight.pow(2).sum()


class GlobalAvgPool(nn.Module):
    """Keras ``GlobalAveragePooling2D``: N x C x H x W -> N x C."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class L2Normalize(nn.Module):
    """The tables' "L2 Norm" row: scale each embedding to unit Euclidean length."""

    def __init__(self, eps: float = 1e-12) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, p=2.0, dim=1, eps=self.eps)


def keras_init(module: nn.Module) -> None:
    """Glorot-uniform kernels and zero biases (Keras defaults) for every conv and linear."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class PaperTower(nn.Module):
    """A tower built as the ordered rows of a paper table: (name, type, parameters, module).

    ``forward`` runs the rows in order; ``layer_rows`` gives (type, parameters, module) for
    the layer table; ``regularization_loss`` sums the L2 penalties of every ``Dense``.
    """

    def __init__(self, rows: Iterable[tuple[str, str, str, nn.Module]]) -> None:
        super().__init__()
        rows = list(rows)
        self.layers = nn.Sequential(OrderedDict((name, module) for name, _, _, module in rows))
        self._table = tuple((name, kind, params) for name, kind, params, _ in rows)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def layer_rows(self) -> list[tuple[str, str, nn.Module]]:
        """The paper-table rows in order: (layer type, parameters string, module)."""
        return [(kind, params, getattr(self.layers, name)) for name, kind, params in self._table]

    def regularization_loss(self) -> torch.Tensor:
        """Sum of the Keras L2 kernel penalties; a zero tensor when no layer carries one."""
        device = next(self.parameters()).device
        total = torch.zeros((), device=device)
        for m in self.modules():
            if isinstance(m, Dense) and m.l2 > 0:
                total = total + m.penalty()
        return total
