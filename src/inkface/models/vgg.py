"""VGG16 (Simonyan & Zisserman 2015, configuration D): a transfer-learning baseline of the
smile paper (section 5.4.1, 7.2.2, Table 7.3; "around 138 million parameters").

Module names and indices follow torchvision's ``vgg16``: ``features`` the 13 3x3
convolutions with ReLU and five max-poolings (indices 0..30), ``avgpool`` an adaptive 7x7
average pool (so inputs smaller than 224 still work, e.g. 32 x 32 in tests),
``classifier.0`` / ``.3`` / ``.6`` the three linear layers. 138,357,544 parameters at
1000 classes; about 15.5 G multiply-accumulates per 224 x 224 image.
"""

from __future__ import annotations

from torch import Tensor, nn

from inkface.core.labels import SMILE_CLASSES
from inkface.models.mobilenetv3 import BASELINE_REFERENCE, IMAGENET_INPUT_SIZE
from inkface.models.registry import register_model
from inkface.models.transfer import TransferClassifier, imagenet_comparison

# configuration D: output channels of each 3x3 convolution, "M" for a 2x2 max pooling
VGG16_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip


class VGG(TransferClassifier):
    """VGG with a configurable head: two hidden layers of ``hidden`` units with dropout."""

    def __init__(
        self,
        layout: tuple[int | str, ...] = VGG16_LAYOUT,
        num_classes: int = 1000,
        dropout: float = 0.5,
        hidden: int = 4096,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in layout:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=True)]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(channels * 7 * 7, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        self.num_classes = num_classes
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register_model(
    "vgg16",
    input_size=IMAGENET_INPUT_SIZE,
    in_channels=3,
    description="VGG16 smile baseline (ImageNet layout, torchvision names)",
    paper_reference=f"Simonyan & Zisserman, ICLR 2015; {BASELINE_REFERENCE}",
    kind="classifier",
    normalization="imagenet",
    num_classes=2,
    class_names=SMILE_CLASSES,
    paper_comparison=imagenet_comparison(138_357_544, "torchvision vgg16; paper: ~138 M"),
    min_input_size=(32, 32),  # five 2x2 max pools leave 1x1, which the 7x7 adaptive pool takes
)
def vgg16(*, num_classes: int = 2, dropout: float = 0.5) -> VGG:
    """VGG16 (configuration D); 138,357,544 parameters at 1000 classes."""
    return VGG(VGG16_LAYOUT, num_classes=num_classes, dropout=dropout)
