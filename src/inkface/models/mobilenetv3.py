"""MobileNetV3 Large and Small (Howard et al., ICCV 2019, Tables 1-2): transfer-learning
baselines of the smile paper (section 7.2.2, Table 7.3).

Module names follow torchvision's ``mobilenet_v3_large`` / ``_small`` so that ImageNet
weights from a local torchvision file load key for key (``load_imagenet_weights``):
``features.0`` stem, ``features.1..n`` inverted residual blocks (``block.<i>``: expand,
depthwise, squeeze-excitation, project), ``features.<n+1>`` last 1x1 convolution,
``classifier.0`` / ``classifier.3`` the two linear layers. BatchNorm eps 0.001 and
momentum 0.01 as in the TensorFlow reference. Parameters at 1000 classes: Large 5,483,032,
Small 2,542,856 (torchvision's figures).
"""

from __future__ import annotations

from functools import partial

from torch import Tensor, nn

from inkface.core.labels import SMILE_CLASSES
from inkface.models.blocks import ConvNormAct, SqueezeExcitation, imagenet_init, make_divisible
from inkface.models.registry import register_model
from inkface.models.transfer import TransferClassifier, imagenet_comparison

IMAGENET_INPUT_SIZE = (224, 224)
BASELINE_REFERENCE = "Real-time smile recognition, 7.2.2 / Table 7.3 (transfer-learning baselines)"

# Howard et al. Table 1 (Large) and Table 2 (Small), one row per block:
# kernel, expanded channels, output channels, squeeze-excite, activation (RE/HS), stride
LARGE_BLOCKS = (
    (3, 16, 16, False, "RE", 1),
    (3, 64, 24, False, "RE", 2),
    (3, 72, 24, False, "RE", 1),
    (5, 72, 40, True, "RE", 2),
    (5, 120, 40, True, "RE", 1),
    (5, 120, 40, True, "RE", 1),
    (3, 240, 80, False, "HS", 2),
    (3, 200, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 480, 112, True, "HS", 1),
    (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2),
    (5, 960, 160, True, "HS", 1),
    (5, 960, 160, True, "HS", 1),
)
SMALL_BLOCKS = (
    (3, 16, 16, True, "RE", 2),
    (3, 72, 24, False, "RE", 2),
    (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2),
    (5, 240, 40, True, "HS", 1),
    (5, 240, 40, True, "HS", 1),
    (5, 120, 48, True, "HS", 1),
    (5, 144, 48, True, "HS", 1),
    (5, 288, 96, True, "HS", 2),
    (5, 576, 96, True, "HS", 1),
    (5, 576, 96, True, "HS", 1),
)
# variant: (blocks, last 1x1 conv channels, hidden units of the classifier)
VARIANTS = {"large": (LARGE_BLOCKS, 960, 1280), "small": (SMALL_BLOCKS, 576, 1024)}

_ACTIVATIONS = {"RE": nn.ReLU, "HS": nn.Hardswish}


class InvertedResidualV3(nn.Module):
    """Expand 1x1 (skipped when expanded == input), depthwise k x k, optional
    squeeze-excitation (hard-sigmoid gate), linear 1x1 projection, residual when shapes keep."""

    def __init__(
        self,
        in_channels: int,
        kernel: int,
        expanded: int,
        out_channels: int,
        use_se: bool,
        activation: str,
        stride: int,
    ) -> None:
        super().__init__()
        act = _ACTIVATIONS[activation]
        conv = partial(ConvNormAct, bn_eps=0.001, bn_momentum=0.01)
        layers: list[nn.Module] = []
        if expanded != in_channels:
            layers.append(conv(in_channels, expanded, 1, activation=act))
        layers.append(conv(expanded, expanded, kernel, stride, groups=expanded, activation=act))
        if use_se:
            squeeze = make_divisible(expanded // 4, 8)
            layers.append(SqueezeExcitation(expanded, squeeze, nn.ReLU, nn.Hardsigmoid))
        layers.append(conv(expanded, out_channels, 1, activation=None))
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out


class MobileNetV3(TransferClassifier):
    """MobileNetV3 ``variant`` ("large" / "small") with a ``num_classes`` head."""

    def __init__(self, variant: str = "large", num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        blocks, last_conv, hidden = VARIANTS[variant]
        layers: list[nn.Module] = [
            ConvNormAct(3, 16, 3, 2, activation=nn.Hardswish, bn_eps=0.001, bn_momentum=0.01)
        ]
        channels = 16
        for kernel, expanded, out, use_se, act, stride in blocks:
            layers.append(InvertedResidualV3(channels, kernel, expanded, out, use_se, act, stride))
            channels = out
        layers.append(
            ConvNormAct(
                channels, last_conv, 1, activation=nn.Hardswish, bn_eps=0.001, bn_momentum=0.01
            )
        )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_conv, hidden),
            nn.Hardswish(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        self.variant = variant
        self.num_classes = num_classes
        imagenet_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


_SPEC = dict(
    input_size=IMAGENET_INPUT_SIZE,
    in_channels=3,
    kind="classifier",
    normalization="imagenet",
    num_classes=2,
    class_names=SMILE_CLASSES,
    min_input_size=(1, 1),  # padded convolutions, then global average pooling
)


@register_model(
    "mobilenetv3_large",
    description="MobileNetV3-Large smile baseline (ImageNet layout, torchvision names)",
    paper_reference=f"Howard et al., ICCV 2019; {BASELINE_REFERENCE}",
    paper_comparison=imagenet_comparison(5_483_032, "torchvision mobilenet_v3_large"),
    **_SPEC,
)
def mobilenetv3_large(*, num_classes: int = 2, dropout: float = 0.2) -> MobileNetV3:
    """MobileNetV3-Large; 5,483,032 parameters at 1000 classes."""
    return MobileNetV3("large", num_classes=num_classes, dropout=dropout)


@register_model(
    "mobilenetv3_small",
    description="MobileNetV3-Small smile baseline (ImageNet layout, torchvision names)",
    paper_reference=f"Howard et al., ICCV 2019; {BASELINE_REFERENCE}",
    paper_comparison=imagenet_comparison(2_542_856, "torchvision mobilenet_v3_small"),
    **_SPEC,
)
def mobilenetv3_small(*, num_classes: int = 2, dropout: float = 0.2) -> MobileNetV3:
    """MobileNetV3-Small; 2,542,856 parameters at 1000 classes."""
    return MobileNetV3("small", num_classes=num_classes, dropout=dropout)
