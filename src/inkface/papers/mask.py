"""The face-mask report's results (Abd Elhameed and Saad, "Face-mask-detection Project"):
the MobileNetV2 head's classification report on the held-out 20 %, next to the report's
(767 test images, 0.99 precision, recall and F1 for both classes), and its training
curves.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from inkface.papers.face_runs import FaceRuns, check_names
from inkface.papers.scaffold import Reproduction, ReproductionRun

MASK_RECIPE = "mask-mobilenetv2"
MASK_ARCHITECTURE = "mask_mobilenetv2"
MASK_PAPER = {  # class: (precision, recall, F1, support)
    "with_mask": (0.99, 0.99, 0.99, 383),
    "without_mask": (0.99, 0.99, 0.99, 384),
}
MASK_ROOTS = ("mask",)


def mask_report(
    run: ReproductionRun,
    *,
    max_epochs: int | None,
    accelerator: str | None,
    weights: Mapping[str, str],
) -> Reproduction:
    """The classification report of the mask model, ours above the report's."""
    # Local import (start-up time): the evaluation module loads torch.
    from inkface.faces.classification.evaluate import format_classification_report

    check_names("--weights", weights, [MASK_ARCHITECTURE])
    metrics = FaceRuns(run, max_epochs, accelerator, weights).metrics(MASK_RECIPE)
    test = next(iter(metrics["tests"].values()))
    rows = [{"class": c, **r, "paper": MASK_PAPER.get(c)} for c, r in test["per_class"].items()]
    paper = "\n".join(
        f"{c:>14}  {p:9.2f} {r:9.2f} {f:9.2f} {s:9d}" for c, (p, r, f, s) in MASK_PAPER.items()
    )
    text = (
        "Classification report (ours)\n\n"
        + format_classification_report(test)
        + "\n\nThe report's (767 test images)\n\n"
        + paper
        + f"\n\ntraining curves: {Path(metrics['run_dir']) / 'training_curves.png'}"
    )
    return run.finish(rows, text)
