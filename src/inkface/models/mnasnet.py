"""MNASNet-A1 style ``mnasnet1_0`` (Tan et al., CVPR 2019) as laid out by torchvision: a
transfer-learning baseline of the smile paper (section 5.4.4, 7.2.2, Table 7.3).

torchvision's MNASNet 1.0 (no squeeze-excitation, the B1 search result): a 3x3 stride-2
stem, a separable 3x3 convolution to 16 channels, six stacks of inverted residuals, a 1x1
convolution to 1280, global average pooling, dropout 0.2 and a linear layer. torchvision
names the backbone ``layers`` and flat-indexes it; ours is ``features`` with the same
indices (``load_imagenet_weights`` renames ``layers.`` to ``features.``). BatchNorm
momentum 0.0003 (TensorFlow's 0.9997 decay). 4,383,312 parameters at 1000 classes.
"""

from __future__ import annotations

from torch import Tensor, nn

from inkface.core.labels import SMILE_CLASSES
from inkface.models.blocks import imagenet_init
from inkface.models.mobilenetv3 import BASELINE_REFERENCE, IMAGENET_INPUT_SIZE
from inkface.models.registry import register_model
from inkface.models.transfer import TransferClassifier, imagenet_comparison

BN_MOMENTUM = 1 - 0.9997
# one row per stack: input channels, output channels, kernel, stride, expansion, repeats
STACKS = (
    (16, 24, 3, 2, 3, 3),
    (24, 40, 5, 2, 3, 3),
    (40, 80, 5, 2, 6, 3),
    (80, 96, 3, 1, 6, 2),
    (96, 192, 5, 2, 6, 4),
    (192, 320, 3, 1, 6, 1),
)
HEAD_CHANNELS = 1280


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)


class MnasInvertedResidual(nn.Module):
    """1x1 expand + BN + ReLU, depthwise k x k + BN + ReLU, 1x1 project + BN; residual
    when stride is 1 and widths match (torchvision's flat ``layers`` Sequential)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int, expansion: int
    ) -> None:
        super().__init__()
        mid = in_channels * expansion
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, mid, 1, bias=False),
            _bn(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False),
            _bn(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 1, bias=False),
            _bn(out_channels),
        )
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.layers(x)
        return x + out if self.use_residual else out


def _stack(c_in: int, c_out: int, kernel: int, stride: int, expansion: int, repeats: int):
    blocks = [MnasInvertedResidual(c_in, c_out, kernel, stride, expansion)]
    blocks += [MnasInvertedResidual(c_out, c_out, kernel, 1, expansion) for _ in range(repeats - 1)]
    return nn.Sequential(*blocks)


class MNASNet(TransferClassifier):
    """MNASNet 1.0 with a ``num_classes`` head."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, 32, 3, 2, 1, bias=False),
            _bn(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3, 1, 1, groups=32, bias=False),
            _bn(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 16, 1, bias=False),
            _bn(16),
        ]
        layers += [_stack(*row) for row in STACKS]
        layers += [
            nn.Conv2d(STACKS[-1][1], HEAD_CHANNELS, 1, bias=False),
            _bn(HEAD_CHANNELS),
            nn.ReLU(inplace=True),
        ]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(HEAD_CHANNELS, num_classes))
        self.num_classes = num_classes
        imagenet_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


@register_model(
    "mnasnet1_0",
    input_size=IMAGENET_INPUT_SIZE,
    in_channels=3,
    description="MNASNet 1.0 smile baseline (ImageNet layout, torchvision names)",
    paper_reference=f"Tan et al., CVPR 2019; {BASELINE_REFERENCE}",
    kind="classifier",
    normalization="imagenet",
    num_classes=2,
    class_names=SMILE_CLASSES,
    paper_comparison=imagenet_comparison(4_383_312, "torchvision mnasnet1_0"),
    min_input_size=(1, 1),  # padded convolutions, then global average pooling
)
def mnasnet1_0(*, num_classes: int = 2, dropout: float = 0.2) -> MNASNet:
    """MNASNet 1.0; 4,383,312 parameters at 1000 classes."""
    return MNASNet(num_classes, dropout)
