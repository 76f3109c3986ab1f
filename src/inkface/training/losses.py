"""Contrastive loss of DeepSign equation (1) (Hadsell, Chopra and LeCun, 2006).

Equation (1) as printed is ``(1 - y) D^2 + y max(0, m - D)^2`` with ``y = 1`` for an
original-original pair. Taken literally it would push genuine pairs apart and pull
forgeries together, the opposite of what the text (and Figure 1) describe: "forged-
original pairings lead to a higher loss while original-original pairings lead to lower
loss". We implement the intended loss: with ``y = 1`` for a genuine pair,
``y D^2 + (1 - y) max(0, m - D)^2``, margin ``m = 1``, averaged over the pairs (the
paper does not give the 1/2 factor of Hadsell et al., so none is used).
"""

from __future__ import annotations

import torch

DISTANCE_EPS = 1e-12


def pair_distances(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per row; the epsilon keeps the gradient finite at D = 0."""
    return torch.sqrt(((left - right) ** 2).sum(dim=1) + DISTANCE_EPS)


def contrastive_loss(
    distances: torch.Tensor, labels: torch.Tensor, margin: float = 1.0
) -> torch.Tensor:
    """Mean contrastive loss; ``labels`` is 1 for genuine pairs and 0 for forgeries."""
    labels = labels.to(distances.dtype)
    pull = labels * distances.pow(2)
    push = (1.0 - labels) * torch.clamp(margin - distances, min=0.0).pow(2)
    return (pull + push).mean()
