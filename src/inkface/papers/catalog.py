"""Every paper experiment ``inkface reproduce`` knows, listed here and nowhere else.

The registry (:mod:`inkface.papers.registry`) is built from :data:`CATALOG`; adding an
experiment means writing its function in a paper module and adding its record here.
"""

from __future__ import annotations

from types import MappingProxyType

from inkface.papers.deepsign import deepsign_table6, deepsign_table7
from inkface.papers.experiment import Experiment, Option
from inkface.papers.face_runs import SYNTHETIC_FACES
from inkface.papers.fer import (
    SYNTHETIC_FER,
    TABLE_II_ROOTS,
    TABLE_III_ROOTS,
    fer_table2,
    fer_table3,
)
from inkface.papers.mask import MASK_ROOTS, mask_report
from inkface.papers.signature_identification import sig_id_comparison, writer_cnn_depth
from inkface.papers.smile import SMILE_ROOTS, smile_table

DEEPSIGN = "DeepSign (Wang): Efficient Siamese CNNs for Signature Verification"
SIGNATURE_ID = "Deep Signature ID (Ibrahim et al.): CNN and SNN in Signature Identification"
SMILE = "Real-time Smile Recognition using CNNs (Kirakosyan and Ghandilyan)"
FER = "Improving Lightweight CNN for FER via Transfer Learning (Wikaningrum et al.)"
MASK = "Face-mask-detection Project (Abd Elhameed and Saad)"

# The options, worded once; each experiment below lists those it takes.
MAX_EPOCHS = Option(
    "max_epochs",
    int,
    None,
    "epochs per model (default: the paper's; a few on synthetic data)",
    "N",
    minimum=1,
)
ACCELERATOR = Option(
    "accelerator",
    str,
    None,
    "cpu, gpu or auto (default: the recipe's; cpu for synthetic face runs)",
    "DEVICE",
)
TRIALS = Option(
    "trials", int, None, "trials per row (default: 5; 2 on synthetic data)", "N", minimum=1
)
WEIGHTS = Option(
    "weights",
    dict,
    MappingProxyType({}),  # read-only: a default shared by every run
    "ImageNet state dict per model, e.g. vgg16=vgg16.pth (pretrained baselines)",
    "MODEL=FILE",
)
MODELS = Option(
    "models", tuple, None, "only these recipes, e.g. smile-proposed (quick checks)", "RECIPE"
)
SYNTHETIC_WRITERS = Option(
    "synthetic_writers",
    int,
    10,
    "writers per generated set when no roots are given",
    "N",
    minimum=3,
)
SEED = Option("seed", int, 0, "seed of the split, the augmentation and the training", "N")
LATENCY_FRAMES = Option(
    "latency_frames",
    int,
    None,
    "frames timed per model (default: 1000; 20 on synthetic data)",
    "N",
    minimum=1,
)
VERIFICATION_ROOTS = ("cedar", "bhsig260")
SYNTHETIC_SIGNATURES = "generated CEDAR- and BHSig260-layout signatures"
SYNTHETIC_ID = "generated signatures, 8 writers x 88, folder per writer"

CATALOG: tuple[Experiment, ...] = (
    Experiment(
        "deepsign-table6",
        DEEPSIGN,
        "Table 6: three towers trained on CEDAR + BHSig260",
        deepsign_table6,
        (MAX_EPOCHS, ACCELERATOR, SYNTHETIC_WRITERS),
        VERIFICATION_ROOTS,
        SYNTHETIC_SIGNATURES,
    ),
    Experiment(
        "deepsign-table7",
        DEEPSIGN,
        "Table 7: three towers trained on CEDAR, tested on both",
        deepsign_table7,
        (MAX_EPOCHS, ACCELERATOR, SYNTHETIC_WRITERS),
        VERIFICATION_ROOTS,
        SYNTHETIC_SIGNATURES,
    ),
    Experiment(
        "writer-cnn-depth",
        SIGNATURE_ID,
        "Figure 7: writer CNN with 2 to 5 conv blocks vs epochs",
        writer_cnn_depth,
        (MAX_EPOCHS, ACCELERATOR, SEED),
        ("folder",),
        SYNTHETIC_ID,
    ),
    Experiment(
        "sig-id-comparison",
        SIGNATURE_ID,
        "Section IV: 3-block CNN vs Siamese network, CMC, open set",
        sig_id_comparison,
        (MAX_EPOCHS, ACCELERATOR, SEED),
        ("folder",),
        SYNTHETIC_ID,
    ),
    Experiment(
        "smile-table7.3",
        SMILE,
        "Tables 7.3, 7.4: proposed CNN vs six baselines, latency",
        smile_table,
        (MAX_EPOCHS, ACCELERATOR, LATENCY_FRAMES, WEIGHTS, MODELS),
        SMILE_ROOTS,
        SYNTHETIC_FACES,
    ),
    Experiment(
        "fer-table2",
        FER,
        "Table II: ResNet-20/32, from scratch or 5 source domains",
        fer_table2,
        (MAX_EPOCHS, ACCELERATOR, TRIALS, MODELS),
        TABLE_II_ROOTS,
        SYNTHETIC_FER,
    ),
    Experiment(
        "fer-table3",
        FER,
        "Table III: the paper's 13 ensembles of Table II models",
        fer_table3,
        (MAX_EPOCHS, ACCELERATOR, TRIALS),
        TABLE_III_ROOTS,
        SYNTHETIC_FER,
    ),
    Experiment(
        "mask-report",
        MASK,
        "the MobileNetV2 head's classification report and curves",
        mask_report,
        (MAX_EPOCHS, ACCELERATOR, WEIGHTS),
        MASK_ROOTS,
        SYNTHETIC_FACES,
    ),
)
