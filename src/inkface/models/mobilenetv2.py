"""MobileNetV2 1.0 (Sandler et al., CVPR 2018) and the adapted signature tower of DeepSign.

The backbone (``MobileNetV2Features``) lives in :mod:`inkface.models.mobilenetv2_backbone`;
this module registers the two models built on it:

* ``mobilenetv2`` - the plain ImageNet-style classifier (3 x 224 x 224 -> ``num_classes``
  logits), reused by the face-mask head; its ``features`` is a ``MobileNetV2Features``
  returning the 1280 x 7 x 7 map for a 224 x 224 input.
* ``mobilenetv2_signature`` - DeepSign Table 2: two 1x1 ReLU convolutions turn the
  1-channel signature into 3 channels (10 then 3 filters), the MobileNetV2 features run
  *frozen* (no gradients, BatchNorm kept in eval mode so its statistics never move), then
  global average pooling, Dense 512 + ReLU (the paper names no activation; ReLU is the
  usual choice for a hidden Dense and is ours), Dropout 0.24, Dense 128, L2 normalisation.
  Both Dense kernels carry Keras ``l2(0.00047)`` (the paper's tuned value, section 5.1).

Parameter count, ours vs the paper (Table 4: 721,589 trainable; 12 MB): identical,
721,589 trainable = 20 + 33 (1x1 convs) + 655,872 (Dense 512) + 65,664 (Dense 128). The
frozen backbone adds 2,223,872 parameters (plus 34,112 BatchNorm running statistics, which
Keras counts as parameters: its backbone total is 2,257,984), 2,945,461 in all; as float32
that is about 11.9 MB, the paper's 12 MB. ``freeze_backbone=False`` trains everything (the
paper's future work).
"""

from __future__ import annotations

from torch import Tensor, nn

from inkface.models.layers import (
    Conv2dReLU,
    Dense,
    GlobalAvgPool,
    L2Normalize,
    PaperTower,
    keras_init,
)
from inkface.models.mobilenetv2_backbone import (
    HEAD_CHANNELS,
    MOBILENETV2_INPUT_SIZE,
    MobileNetV2Features,
    torchvision_init,
)
from inkface.models.pretrained import load_mobilenetv2_imagenet
from inkface.models.registry import register_model


class MobileNetV2(nn.Module):
    """The plain classifier: features, global average pooling, dropout, linear logits."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = MobileNetV2Features()
        self.pool = GlobalAvgPool()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)
        torchvision_init(self.classifier)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.dropout(self.pool(self.features(x))))


class MobileNetV2Signature(PaperTower):
    """DeepSign Table 2: 1-to-3-channel adapter, frozen MobileNetV2, 128-d unit embedding."""

    def __init__(
        self,
        embedding_dim: int = 128,
        l2: float = 0.00047,
        dropout: float = 0.24,
        freeze_backbone: bool = True,
    ) -> None:
        dense = f"kernel L2 = {l2:g}"
        rows = [
            # (name, Table 2 layer, Table 2 parameters, module)
            ("adapt1", "Conv2D", "k = 1, s = 1", Conv2dReLU(1, 10, 1)),
            ("adapt2", "Conv2D", "k = 1, s = 1", Conv2dReLU(10, 3, 1)),
            ("backbone", "MobileNetv2", "-", MobileNetV2Features()),
            ("pool", "GlobalAvgPool2D", "-", GlobalAvgPool()),
            ("fc1", "Dense", dense, Dense(HEAD_CHANNELS, 512, l2=l2, relu=True)),
            ("drop", "Dropout", f"p = {dropout:g}", nn.Dropout(dropout)),
            ("fc2", "Dense", dense, Dense(512, embedding_dim, l2=l2)),
            ("l2norm", "L2 Norm", "-", L2Normalize()),
        ]
        super().__init__(rows)
        for name in ("adapt1", "adapt2", "fc1", "fc2"):
            keras_init(getattr(self.layers, name))
        self.embedding_dim = embedding_dim
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    @property
    def backbone(self) -> MobileNetV2Features:
        """The MobileNetV2 feature extractor (load ImageNet weights into this one)."""
        return self.layers.backbone

    def train(self, mode: bool = True) -> MobileNetV2Signature:
        """Switch modes, but a frozen backbone always stays in eval mode (fixed BN stats)."""
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self


@register_model(
    "mobilenetv2",
    input_size=MOBILENETV2_INPUT_SIZE,
    in_channels=3,
    description="MobileNetV2 1.0 classifier (ImageNet layout); reusable backbone",
    paper_reference="Sandler et al., MobileNetV2, CVPR 2018",
    kind="classifier",
    num_classes=1000,
    min_input_size=(1, 1),  # padded convolutions, then global average pooling
)
def mobilenetv2(
    *, num_classes: int = 1000, dropout: float = 0.2, backbone_weights: str | None = None
) -> MobileNetV2:
    """Build the classifier; ``backbone_weights`` is a local torchvision/timm ``.pth`` file."""
    model = MobileNetV2(num_classes=num_classes, dropout=dropout)
    if backbone_weights is not None:
        load_mobilenetv2_imagenet(model.features, backbone_weights)
    return model


@register_model(
    "mobilenetv2_signature",
    input_size=MOBILENETV2_INPUT_SIZE,
    in_channels=1,
    description="MobileNetV2 signature tower, frozen backbone, 128-d L2 embedding (Table 2)",
    paper_reference="Ko & Wang, DeepSign, Table 2; Sandler et al., MobileNetV2, CVPR 2018",
    paper_params=721_589,
    paper_storage_mb=12.0,
    embedding_dim=128,
    min_input_size=(1, 1),  # 1x1 adapter, padded backbone, global average pooling
)
def mobilenetv2_signature(
    *,
    embedding_dim: int = 128,
    l2: float = 0.00047,
    dropout: float = 0.24,
    freeze_backbone: bool = True,
    backbone_weights: str | None = None,
) -> MobileNetV2Signature:
    """Build the Table 2 tower; ``backbone_weights`` loads ImageNet weights from a file."""
    model = MobileNetV2Signature(
        embedding_dim=embedding_dim, l2=l2, dropout=dropout, freeze_backbone=freeze_backbone
    )
    if backbone_weights is not None:
        load_mobilenetv2_imagenet(model.backbone, backbone_weights)
    return model
