"""SigNet tower (Dey et al. 2017, arXiv:1707.02131) exactly as DeepSign Table 1 prints it.

Input 1 x 155 x 220 (ink = 1, background = 0), output a 128-d embedding (Table 1 has no L2
Norm row for SigNet, so none is added). Every convolution is followed by ReLU as in SigNet;
the first Dense is followed by ReLU, the last Dense is linear (the published SigNet Keras
code also puts a ReLU on it; an embedding clipped at zero wastes half of its space, and
Table 1 does not say, so we leave it linear). BatchNorm uses Keras
``epsilon=1e-6, momentum(rho)=0.9``, i.e. PyTorch ``eps=1e-6, momentum=0.1``. Both Dense
kernels carry Keras ``l2(0.0005)``.

Parameter count, ours vs the paper (Table 4: 6,460,974; 25 MB):
  ours: 6,461,568 parameters, all trainable (Keras' "total" would also count the 704
  BatchNorm running means and variances, which are buffers in PyTorch: 6,462,272).
  The paper's figure is reproduced *exactly* if its two BatchNorm layers normalised the
  height axis instead of the channel axis: SigNet's published Keras code uses
  ``BatchNormalization(axis=1)`` next to ``dim_ordering='tf'`` (channels-last); run on
  channels-last input, as the shapes of Table 1 are, axis 1 is the height (37 and 18), giving
  2 x (37 + 18) = 110 trainable BatchNorm numbers instead of our 2 x (96 + 256) = 704:
  6,461,568 - 704 + 110 = 6,460,974. We normalise channels, which is what BatchNorm is meant
  to do and what the SigNet paper describes. Storage: 6.46 M float32 = 25.9 MB (the 25 MB).
"""

from __future__ import annotations

from torch import nn

from inkface.models.layers import Conv2dReLU, Dense, PaperTower, keras_init
from inkface.models.registry import register_model

SIGNET_INPUT_SIZE = (155, 220)
SIGNET_L2 = 0.0005


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    # Keras rho = 0.9 keeps 90 % of the old statistic; PyTorch's momentum is the new share.
    return nn.BatchNorm2d(channels, eps=1e-6, momentum=0.1)


class SigNet(PaperTower):
    """The SigNet tower of Table 1; ``l2`` is the Dense kernel penalty coefficient."""

    def __init__(self, embedding_dim: int = 128, l2: float = SIGNET_L2) -> None:
        bn = "eps = 1e-6, rho = 0.9"
        pool = "k = 3, s = 2"
        rows = [
            # (name, Table 1 layer, Table 1 parameters, module)
            ("conv1", "Conv2D", "k = 11, s = 4", Conv2dReLU(1, 96, 11, stride=4)),
            ("bn1", "BatchNorm2D", bn, _batch_norm(96)),
            ("pool1", "MaxPool2D", pool, nn.MaxPool2d(3, 2)),
            ("pad2", "ZeroPadding2D", "pad = 2", nn.ZeroPad2d(2)),
            ("conv2", "Conv2D", "k = 5, s = 1", Conv2dReLU(96, 256, 5)),
            ("bn2", "BatchNorm2D", bn, _batch_norm(256)),
            ("pool2", "MaxPool2D", pool, nn.MaxPool2d(3, 2)),
            ("drop2", "Dropout", "p = 0.3", nn.Dropout(0.3)),
            ("pad3", "ZeroPadding2D", "pad = 1", nn.ZeroPad2d(1)),
            ("conv3", "Conv2D", "k = 3, s = 1", Conv2dReLU(256, 384, 3)),
            ("pad4", "ZeroPadding2D", "pad = 1", nn.ZeroPad2d(1)),
            ("conv4", "Conv2D", "k = 3, s = 1", Conv2dReLU(384, 256, 3)),
            ("pool4", "MaxPool2D", pool, nn.MaxPool2d(3, 2)),
            ("drop4", "Dropout", "p = 0.3", nn.Dropout(0.3)),
            ("flatten", "Flatten", "-", nn.Flatten()),
            ("fc1", "Dense", f"kernel L2 = {l2:g}", Dense(3840, 1024, l2=l2, relu=True)),
            ("drop5", "Dropout", "p = 0.5", nn.Dropout(0.5)),
            ("fc2", "Dense", f"kernel L2 = {l2:g}", Dense(1024, embedding_dim, l2=l2)),
        ]
        super().__init__(rows)
        keras_init(self)
        self.embedding_dim = embedding_dim


@register_model(
    "signet",
    input_size=SIGNET_INPUT_SIZE,
    in_channels=1,
    description="SigNet Siamese tower, 128-d embedding (DeepSign Table 1)",
    paper_reference="Dey et al. 2017, SigNet (arXiv:1707.02131); Ko & Wang, DeepSign, Table 1",
    paper_params=6_460_974,
    paper_storage_mb=25.0,
    embedding_dim=128,
)
def signet(*, embedding_dim: int = 128, l2: float = SIGNET_L2) -> SigNet:
    """Build the SigNet tower (``l2``: Dense kernel penalty, paper 0.0005)."""
    return SigNet(embedding_dim=embedding_dim, l2=l2)
