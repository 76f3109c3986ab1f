"""Face-mask classifier of the face-mask detection report: MobileNetV2 base + small head.

The report's Keras code: ``MobileNetV2(weights="imagenet", include_top=False)`` on a
224 x 224 x 3 face (the 1280 x 7 x 7 map of ``MobileNetV2Features``), then
AveragePooling2D(7 x 7), Flatten, Dense 128 + ReLU, Dropout 0.5, Dense 2 + softmax (we
return logits; softmax happens outside). Every base layer is frozen (``trainable =
False``), so, as in Keras 2 and in our signature tower, the frozen BatchNorm layers stay
in inference mode. ``num_classes=3`` adds "mask_weared_incorrect" (the three-class mask
datasets).

Normalisation: the report feeds Keras ``mobilenet_v2.preprocess_input`` pixels, i.e. [0, 255]
scaled to [-1, 1], and the spec records ``minus_one_to_one``. ImageNet weights loaded from a
torchvision or timm file (``backbone_weights``) were trained on mean/std-normalised pixels
instead; the frozen features still transfer, the head learns on whichever scaling is used.

Parameters: 2,223,872 frozen backbone + 164,226 trainable head (Dense 128: 163,968;
Dense 2: 258) = 2,388,098 (Keras reports 2,257,984 for the base because it also counts the
34,112 BatchNorm running statistics). The report prints no counts.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from inkface.core.errors import InkfaceError
from inkface.core.labels import MASK_CLASSES as MASK_CLASSES_3
from inkface.core.labels import MASK_CLASSES_2 as MASK_CLASSES
from inkface.models.mobilenetv2_backbone import (
    HEAD_CHANNELS,
    MOBILENETV2_INPUT_SIZE,
    MobileNetV2Features,
)
from inkface.models.pretrained import load_mobilenetv2_imagenet
from inkface.models.registry import register_model
from inkface.models.transfer import TransferClassifier, freeze_backbone


class MaskMobileNetV2(TransferClassifier):
    """MobileNetV2 features (frozen by default) + the report's AveragePooling/Dense head."""

    def __init__(
        self,
        num_classes: int = 2,
        dense_units: int = 128,
        dropout: float = 0.5,
        freeze: bool = True,
    ) -> None:
        super().__init__()
        if num_classes not in (2, 3):
            raise InkfaceError(f"num_classes must be 2 or 3 for the mask model, got {num_classes}")
        self.features = MobileNetV2Features()
        self.classifier = nn.Sequential(
            OrderedDict(
                pool=nn.AvgPool2d(7),
                flatten=nn.Flatten(),
                fc1=nn.Linear(HEAD_CHANNELS, dense_units),
                relu=nn.ReLU(inplace=True),
                dropout=nn.Dropout(dropout),
                fc2=nn.Linear(dense_units, num_classes),
            )
        )
        for m in (self.classifier.fc1, self.classifier.fc2):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        self.num_classes = num_classes
        self.class_names = MASK_CLASSES if num_classes == 2 else MASK_CLASSES_3
        if freeze:
            freeze_backbone(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))

    def layer_rows(self) -> list[tuple[str, str, nn.Module]]:
        """The report's model as table rows: base, then each head layer."""
        head = self.classifier
        frozen = not any(p.requires_grad for p in self.features.parameters())
        return [
            ("MobileNetV2", "ImageNet, frozen" if frozen else "ImageNet", self.features),
            ("AveragePooling2D", "7x7", head.pool),
            ("Flatten", "-", head.flatten),
            ("Dense", f"{head.fc1.out_features}, ReLU", head.fc1),
            ("Dropout", f"p = {head.dropout.p:g}", head.dropout),
            ("Dense", f"{head.fc2.out_features} (softmax outside)", head.fc2),
        ]


def _no_paper_counts(model: nn.Module) -> str:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return (
        "face-mask report: no parameter counts printed; ours "
        f"{trainable:,} trainable (head) of {sum(p.numel() for p in model.parameters()):,}"
    )


@register_model(
    "mask_mobilenetv2",
    input_size=MOBILENETV2_INPUT_SIZE,
    in_channels=3,
    description="face-mask classifier: frozen MobileNetV2 + AvgPool 7x7, Dense 128, Dropout 0.5",
    paper_reference="Face mask detection report (Keras MobileNetV2 head); Sandler et al. 2018",
    kind="classifier",
    normalization="minus_one_to_one",
    num_classes=2,
    class_names=MASK_CLASSES,
    paper_comparison=_no_paper_counts,
)
def mask_mobilenetv2(
    *,
    num_classes: int = 2,
    dropout: float = 0.5,
    freeze_backbone: bool = True,
    backbone_weights: str | None = None,
) -> MaskMobileNetV2:
    """2 classes (with / without mask) or 3 (adds mask worn incorrectly); ``backbone_weights``
    is a local torchvision/timm MobileNetV2 state-dict file."""
    model = MaskMobileNetV2(num_classes=num_classes, dropout=dropout, freeze=freeze_backbone)
    if backbone_weights is not None:
        load_mobilenetv2_imagenet(model.features, backbone_weights)
    return model
