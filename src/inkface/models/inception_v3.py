"""Inception V3 (Szegedy et al., CVPR 2016): a transfer-learning baseline of the smile paper
(section 5.4.2, 7.2.2, Table 7.3).

Block names follow torchvision's ``inception_v3`` (``Conv2d_1a_3x3`` ... ``Mixed_7c``,
each ``BasicConv2d`` holding ``conv`` + ``bn``), gathered under ``features``; the head is
``classifier`` = dropout + ``fc``. ``load_imagenet_weights`` adds / strips the
``features.`` prefix and maps ``fc`` to ``classifier.fc``. The auxiliary classifier
(``AuxLogits``, on the 17x17 ``Mixed_6e`` map) is off by default; with ``aux_logits=True``
a training-mode forward returns ``(logits, aux_logits)`` and needs 299 x 299 input.
``transform_input`` re-scales ImageNet-normalised input to the (x - 0.5) / 0.5 range
Google's weights were trained on, as torchvision does for its pretrained weights. Inputs
must be at least 75 x 75 (299 x 299 native). Parameters at 1000 classes: 23,834,568
without the auxiliary head, 27,161,264 with.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inkface.core.errors import InkfaceError
from inkface.core.labels import SMILE_CLASSES
from inkface.models.blocks import imagenet_init
from inkface.models.mobilenetv3 import BASELINE_REFERENCE
from inkface.models.registry import register_model
from inkface.models.transfer import TransferClassifier, imagenet_comparison

INCEPTION_INPUT_SIZE = (299, 299)
MIN_INPUT = 75
Size = int | tuple[int, int]


class BasicConv2d(nn.Module):
    """Convolution (no bias), BatchNorm (eps 0.001), ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: Size, stride: int = 1, padding: Size = 0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _pool3(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, 3, 1, 1)


class InceptionA(nn.Module):
    """35x35 module: 1x1, 5x5, double 3x3 and pooled 1x1 branches."""

    def __init__(self, c_in: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 64, 1)
        self.branch5x5_1 = BasicConv2d(c_in, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(c_in, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_pool3(x))], 1)


class InceptionB(nn.Module):
    """35 -> 17 grid reduction: strided 3x3, strided double 3x3, max pool."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, 2)], 1)


class InceptionC(nn.Module):
    """17x17 module with factorised 1x7 / 7x1 convolutions of width ``c7``."""

    def __init__(self, c_in: int, c7: int) -> None:
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.branch1x1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, row[0], padding=row[1])
        self.branch7x7_3 = BasicConv2d(c7, 192, col[0], padding=col[1])
        self.branch7x7dbl_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, row[0], padding=row[1])
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, row[0], padding=row[1])
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            d = layer(d)
        d = self.branch7x7dbl_5(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_pool3(x))], 1)


class InceptionD(nn.Module):
    """17 -> 8 grid reduction: 1x1 + strided 3x3, 1x1 + 1x7 + 7x1 + strided 3x3, max pool."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    """8x8 module with expanded 1x3 / 3x1 filter banks."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 320, 1)
        self.branch3x3_1 = BasicConv2d(c_in, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(c_in, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(_pool3(x))], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on the 17x17x768 map (training-time regulariser)."""

    def __init__(self, c_in: int, num_classes: int) -> None:
        super().__init__()
        self.conv0 = BasicConv2d(c_in, 128, 1)
        self.conv1 = BasicConv2d(128, 768, 5)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(self.conv0(F.avg_pool2d(x, 5, 3)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class InceptionV3(TransferClassifier):
    """Inception V3 with a ``num_classes`` head; see the module docstring for the options."""

    def __init__(
        self,
        num_classes: int = 1000,
        dropout: float = 0.5,
        aux_logits: bool = False,
        transform_input: bool = False,
    ) -> None:
        super().__init__()
        blocks: list[tuple[str, nn.Module]] = [
            ("Conv2d_1a_3x3", BasicConv2d(3, 32, 3, stride=2)),
            ("Conv2d_2a_3x3", BasicConv2d(32, 32, 3)),
            ("Conv2d_2b_3x3", BasicConv2d(32, 64, 3, padding=1)),
            ("maxpool1", nn.MaxPool2d(3, 2)),
            ("Conv2d_3b_1x1", BasicConv2d(64, 80, 1)),
            ("Conv2d_4a_3x3", BasicConv2d(80, 192, 3)),
            ("maxpool2", nn.MaxPool2d(3, 2)),
            ("Mixed_5b", InceptionA(192, 32)),
            ("Mixed_5c", InceptionA(256, 64)),
            ("Mixed_5d", InceptionA(288, 64)),
            ("Mixed_6a", InceptionB(288)),
            ("Mixed_6b", InceptionC(768, 128)),
            ("Mixed_6c", InceptionC(768, 160)),
            ("Mixed_6d", InceptionC(768, 160)),
            ("Mixed_6e", InceptionC(768, 192)),
            ("Mixed_7a", InceptionD(768)),
            ("Mixed_7b", InceptionE(1280)),
            ("Mixed_7c", InceptionE(2048)),
        ]
        self.features = nn.Sequential(OrderedDict(blocks))
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            OrderedDict(dropout=nn.Dropout(dropout), fc=nn.Linear(2048, num_classes))
        )
        self.transform_input = transform_input
        self.num_classes = num_classes
        # He-normal convolutions (torchvision's truncated normal, std 0.1, is several
        # seconds slower to draw on CPU; pretrained weights replace either)
        imagenet_init(self)

    def _transform(self, x: Tensor) -> Tensor:
        mean = x.new_tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = x.new_tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return x * (std / 0.5) + (mean - 0.5) / 0.5

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        if min(x.shape[-2:]) < MIN_INPUT:
            raise InkfaceError(
                f"Inception V3 needs inputs of at least {MIN_INPUT}x{MIN_INPUT}, "
                f"got {tuple(x.shape[-2:])}"
            )
        if self.transform_input:
            x = self._transform(x)
        aux = None
        for name, block in self.features.named_children():
            x = block(x)
            if name == "Mixed_6e" and self.AuxLogits is not None and self.training:
                if min(x.shape[-2:]) < 17:
                    raise InkfaceError(
                        "Inception V3 with aux_logits needs 299x299 inputs in training "
                        f"(a 17x17 Mixed_6e map), got {tuple(x.shape[-2:])} at Mixed_6e"
                    )
                aux = self.AuxLogits(x)
        logits = self.classifier(self.avgpool(x).flatten(1))
        return (logits, aux) if aux is not None else logits


@register_model(
    "inception_v3",
    input_size=INCEPTION_INPUT_SIZE,
    in_channels=3,
    description="Inception V3 smile baseline (torchvision names, no aux head by default)",
    paper_reference=f"Szegedy et al., CVPR 2016; {BASELINE_REFERENCE}",
    kind="classifier",
    normalization="imagenet",
    num_classes=2,
    class_names=SMILE_CLASSES,
    paper_comparison=imagenet_comparison(
        23_834_568, "torchvision inception_v3 without AuxLogits; 27,161,264 with"
    ),
    min_input_size=(MIN_INPUT, MIN_INPUT),
)
def inception_v3(
    *,
    num_classes: int = 2,
    dropout: float = 0.5,
    aux_logits: bool = False,
    transform_input: bool = False,
) -> InceptionV3:
    """Inception V3; 23,834,568 parameters at 1000 classes (27,161,264 with ``aux_logits``)."""
    return InceptionV3(num_classes, dropout, aux_logits, transform_input)
