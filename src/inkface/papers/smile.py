"""The smile report's Table 7.3 (Kirakosyan and Ghandilyan, "Real-time Smile Recognition
using Convolutional Neural Networks", section 7.2).

The proposed CNN and the six transfer-learning baselines: accuracy on GENKI-4k (every
image) and on the CelebA test split, then each model's inference latency over N frames
in the layout of Table 7.4.
"""

from __future__ import annotations

from collections.abc import Mapping

from inkface.faces.classification.recipe import load_face_recipe
from inkface.papers.face_runs import FaceRuns, accuracy, check_names
from inkface.papers.scaffold import Reproduction, ReproductionRun, cell, markdown_table

TABLE_7_3 = {  # recipe: (label, GENKI-4k, CelebA)
    "smile-vgg16": ("VGG16", 0.906, 0.895),
    "smile-inception-v3": ("Inception V3", 0.921, 0.912),
    "smile-efficientnet-b0": ("EfficientNet B0", 0.926, 0.922),
    "smile-mnasnet": ("MNasNet", 0.919, 0.921),
    "smile-mobilenetv3-large": ("MobileNet V3", 0.930, 0.921),
    "smile-mobilenetv3-small": ("MobileNet Small V3", 0.921, 0.915),
    "smile-proposed": ("Proposed model", 0.945, 0.927),
}
SMILE_ROOTS = ("genki", "celeba", "affectnet")


def smile_table(
    run: ReproductionRun,
    *,
    max_epochs: int | None,
    accelerator: str | None,
    latency_frames: int | None,
    weights: Mapping[str, str],
    models: tuple[str, ...] | None,
) -> Reproduction:
    """Table 7.3 (accuracy) and Table 7.4 (latency); ``models`` keeps some recipes only."""
    # Local import (start-up time): latency timing loads torch.
    from inkface.faces.classification.latency import format_latency_table, latency_table

    check_names("--models", models or (), list(TABLE_7_3))
    names = [n for n in TABLE_7_3 if models is None or n in models]
    archs = [load_face_recipe(n).model.name for n in names]
    check_names("--weights", weights, archs)
    runs = FaceRuns(run, max_epochs, accelerator, weights)
    rows, body = [], []
    for name in names:
        label, genki, celeba = TABLE_7_3[name]
        metrics = runs.metrics(name)
        row = {
            "model": label,
            "recipe": name,
            "genki": accuracy(metrics, "genki"),
            "celeba": accuracy(metrics, "celeba"),
            "paper_genki": genki,
            "paper_celeba": celeba,
            "params": metrics["params"],
        }
        rows.append(row)
        body.append([label, cell(row["genki"], genki, 3), cell(row["celeba"], celeba, 3)])
    sizes = {
        arch: tuple(runs.recipe(name).model.input_size or ())
        for arch, name in zip(archs, names, strict=True)
    }
    frames = latency_frames or (20 if run.synthetic else 1000)
    latency = latency_table(archs, frames, input_sizes={k: v for k, v in sizes.items() if v})
    for row, lat in zip(rows, latency, strict=True):
        row["latency"] = lat
    text = "\n".join(
        [
            "Table 7.3: accuracy (paper in parentheses)",
            "",
            *markdown_table(["Model", "GENKI-4k accuracy", "CelebA accuracy"], body),
            "",
            format_latency_table(latency, "cpu"),
        ]
    )
    return run.finish(rows, text)
