"""The MobileNetV2 1.0 feature extractor (Sandler et al., CVPR 2018, Table 2).

Shared by the registered models that reuse it (``mobilenetv2``, ``mobilenetv2_signature``,
``mask_mobilenetv2``) and by the ImageNet weight loader (:mod:`inkface.models.pretrained`),
which maps torchvision / timm names onto these modules. Keeping it apart from the builders
lets the loader import the backbone while the builders import the loader, with no loop.
"""

from __future__ import annotations

from torch import Tensor, nn

# MobileNetV2 paper, Table 2 (width 1.0), after the 32-filter stride-2 stem.
# t: expansion factor, c: output channels, n: repeats, s: stride of the first repeat
MOBILENETV2_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
MOBILENETV2_INPUT_SIZE = (224, 224)


class ConvBNAct(nn.Module):
    """Convolution (no bias), BatchNorm, then ReLU6 or nothing (a linear bottleneck)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        act: bool = True,
    ) -> None:
        super().__init__()
        padding = (kernel_size - 1) // 2
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class InvertedResidual(nn.Module):
    """Expand 1x1 (absent when t = 1), depthwise 3x3, linear 1x1 projection, residual add
    when the block keeps both resolution and width."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int):
        super().__init__()
        hidden = in_channels * expansion
        self.expand = ConvBNAct(in_channels, hidden, 1) if expansion != 1 else None
        self.depthwise = ConvBNAct(hidden, hidden, 3, stride=stride, groups=hidden)
        self.project = ConvBNAct(hidden, out_channels, 1, act=False)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.depthwise(out))
        return x + out if self.use_residual else out


class MobileNetV2Features(nn.Module):
    """MobileNetV2 1.0 without its classifier: N x 3 x 224 x 224 -> N x 1280 x 7 x 7."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = ConvBNAct(3, STEM_CHANNELS, 3, stride=2)
        blocks: list[nn.Module] = []
        in_channels = STEM_CHANNELS
        for t, c, n, s in MOBILENETV2_STAGES:
            for i in range(n):
                blocks.append(InvertedResidual(in_channels, c, s if i == 0 else 1, t))
                in_channels = c
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBNAct(in_channels, HEAD_CHANNELS, 1)
        # Blocks per stage, used to map timm's ``blocks.<stage>.<index>`` weight names.
        self.stage_sizes = tuple(n for _, _, n, _ in MOBILENETV2_STAGES)
        self.out_channels = HEAD_CHANNELS
        torchvision_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))


def torchvision_init(module: nn.Module) -> None:
    """He-normal (fan-out) convolutions, unit BatchNorm, small-normal linear layers."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
