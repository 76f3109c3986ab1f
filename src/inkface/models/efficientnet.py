"""EfficientNet-B0 (Tan & Le, ICML 2019, Table 1): a transfer-learning baseline of the smile
paper (section 5.4.3, 7.2.2, Table 7.3).

Module names follow torchvision's ``efficientnet_b0``: ``features.0`` the 3x3 stem,
``features.1..7`` the seven MBConv stages (each a Sequential of blocks whose ``block``
holds expand, depthwise, squeeze-excitation and project), ``features.8`` the 1x1 head
convolution to 1280, ``classifier.1`` the linear layer after dropout. Stochastic depth
grows linearly from 0 to 0.2 over the 16 blocks. 5,288,548 parameters at 1000 classes.
"""

from __future__ import annotations

from torch import Tensor, nn

from inkface.core.labels import SMILE_CLASSES
from inkface.models.blocks import ConvNormAct, SqueezeExcitation, StochasticDepth, imagenet_init
from inkface.models.mobilenetv3 import BASELINE_REFERENCE, IMAGENET_INPUT_SIZE
from inkface.models.registry import register_model
from inkface.models.transfer import TransferClassifier, imagenet_comparison

# Tan & Le Table 1 (B0), one row per stage:
# expansion, kernel, stride of the first block, input channels, output channels, blocks
B0_STAGES = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


class MBConv(nn.Module):
    """Mobile inverted bottleneck with SiLU and squeeze-excitation (squeeze to a quarter of
    the block's input width), residual with stochastic depth when the shape keeps."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        expansion: int,
        drop_prob: float,
    ) -> None:
        super().__init__()
        expanded = in_channels * expansion
        layers: list[nn.Module] = []
        if expanded != in_channels:
            layers.append(ConvNormAct(in_channels, expanded, 1, activation=nn.SiLU))
        layers.append(
            ConvNormAct(expanded, expanded, kernel, stride, groups=expanded, activation=nn.SiLU)
        )
        layers.append(SqueezeExcitation(expanded, max(1, in_channels // 4), nn.SiLU, nn.Sigmoid))
        layers.append(ConvNormAct(expanded, out_channels, 1, activation=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(drop_prob)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        return x + self.stochastic_depth(out) if self.use_residual else out


class EfficientNetB0(TransferClassifier):
    """EfficientNet-B0 with a ``num_classes`` head (dropout 0.2 by default)."""

    def __init__(
        self, num_classes: int = 1000, dropout: float = 0.2, stochastic_depth: float = 0.2
    ) -> None:
        super().__init__()
        total = sum(stage[-1] for stage in B0_STAGES)
        layers: list[nn.Module] = [ConvNormAct(3, STEM_CHANNELS, 3, 2, activation=nn.SiLU)]
        index = 0
        for expansion, kernel, stride, c_in, c_out, repeats in B0_STAGES:
            stage = []
            for j in range(repeats):
                prob = stochastic_depth * index / total
                first = j == 0
                stage.append(
                    MBConv(
                        c_in if first else c_out,
                        c_out,
                        kernel,
                        stride if first else 1,
                        expansion,
                        prob,
                    )
                )
                index += 1
            layers.append(nn.Sequential(*stage))
        layers.append(ConvNormAct(B0_STAGES[-1][4], HEAD_CHANNELS, 1, activation=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(HEAD_CHANNELS, num_classes))
        self.num_classes = num_classes
        imagenet_init(self)
        bound = 1.0 / num_classes**0.5
        nn.init.uniform_(self.classifier[1].weight, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register_model(
    "efficientnet_b0",
    input_size=IMAGENET_INPUT_SIZE,
    in_channels=3,
    description="EfficientNet-B0 smile baseline (ImageNet layout, torchvision names)",
    paper_reference=f"Tan & Le, ICML 2019; {BASELINE_REFERENCE}",
    kind="classifier",
    normalization="imagenet",
    num_classes=2,
    class_names=SMILE_CLASSES,
    paper_comparison=imagenet_comparison(5_288_548, "torchvision efficientnet_b0"),
    min_input_size=(1, 1),  # padded convolutions, then global average pooling
)
def efficientnet_b0(
    *, num_classes: int = 2, dropout: float = 0.2, stochastic_depth: float = 0.2
) -> EfficientNetB0:
    """EfficientNet-B0; 5,288,548 parameters at 1000 classes."""
    return EfficientNetB0(num_classes, dropout, stochastic_depth)
