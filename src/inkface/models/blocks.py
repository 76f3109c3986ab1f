"""Building blocks shared by the ImageNet baselines of the smile paper (section 7.2.2).

The modules are laid out so that their state-dict keys are the torchvision ones: a
``ConvNormAct`` is a Sequential (``0`` convolution, ``1`` BatchNorm, ``2`` activation) like
torchvision's ``Conv2dNormActivation``, and ``SqueezeExcitation`` names its two 1x1
convolutions ``fc1`` / ``fc2``. That keeps ``load_imagenet_weights`` a plain key copy.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

Activation = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor``, never more than 10 % below it
    (the channel rounding of the MobileNet and EfficientNet reference code)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvNormAct(nn.Sequential):
    """Convolution (no bias, "same" padding), BatchNorm, then ``activation`` if given."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int = 1,
        groups: int = 1,
        activation: Activation | None = nn.ReLU,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
    ) -> None:
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        padding = ((ks[0] - 1) // 2, (ks[1] - 1) // 2)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, ks, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum),
        ]
        if activation is not None:
            layers.append(activation())
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Hu et al. 2018: global pool, 1x1 reduce + activation, 1x1 expand + gate, rescale."""

    def __init__(
        self,
        channels: int,
        squeeze_channels: int,
        activation: Activation = nn.ReLU,
        gate: Activation = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.activation = activation()
        self.scale_activation = gate()

    def forward(self, x: Tensor) -> Tensor:
        scale = x.mean(dim=(2, 3), keepdim=True)
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(scale))))
        return x * scale


class StochasticDepth(nn.Module):
    """Drop a residual branch per sample with probability ``p`` while training
    (Huang et al. 2016, "row" mode), rescaling the survivors by 1 / (1 - p)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"stochastic depth probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype)
        return x * mask.bernoulli_(keep).div_(keep)


def imagenet_init(module: nn.Module) -> None:
    """He-normal (fan-out) convolutions, unit BatchNorm, N(0, 0.01) linear weights, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
