"""The FER paper's Tables II and III (Wikaningrum, Rachmadi and Ogata, "Improving
Lightweight Convolutional Neural Network for Facial Expression Recognition via Transfer
Learning").

* Table II: ResNet-20/32 from scratch and fine-tuned from five source domains, several
  trials each, ten-crop testing on FER+, mean and spread, information density;
* Table III: the paper's 13 ensembles, class probabilities averaged trial by trial over
  the member runs of Table II.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inkface.papers.face_runs import FaceRuns, check_names, saved_probs
from inkface.papers.scaffold import Reproduction, ReproductionRun, cell, markdown_table

_SOURCES = ("", "-cifar10", "-cifar100", "-imagenet32", "-cinic10", "-casia")
TABLE_II_ROWS = {  # the paper's row number: our recipe
    i + 1: f"fer-{net}{src}"
    for i, (net, src) in enumerate((n, s) for n in ("resnet20", "resnet32") for s in _SOURCES)
}
TABLE_II = dict(  # recipe: the paper's average accuracy (%) over five trials
    zip(
        TABLE_II_ROWS.values(),
        (78.64, 82.00, 82.05, 79.56, 82.46, 81.25, 79.96, 83.92, 83.09, 78.85, 83.42, 82.02),
        strict=True,
    )
)
TABLE_III = (  # member rows of Table II ..., the paper's average accuracy (%)
    (2, 3, 82.87),
    (3, 5, 83.23),
    (2, 5, 83.304),
    (2, 3, 5, 83.39),
    (8, 9, 84.29),
    (8, 11, 84.30),
    (9, 11, 83.99),
    (2, 3, 8, 84.05),
    (3, 5, 8, 83.99),
    (2, 5, 8, 84.10),
    (2, 3, 9, 83.77),
    (3, 5, 9, 83.77),
    (2, 5, 9, 83.66),
)
TABLE_III_MEMBERS = sorted({m for *members, _ in TABLE_III for m in members})
TABLE_II_ROOTS = ("ferplus", "cifar10", "cifar100", "imagenet32", "cinic10", "casia-webface")
TABLE_III_ROOTS = ("ferplus", "cifar10", "cifar100", "cinic10")
SYNTHETIC_FER = "generated faces and a generated CIFAR-10 stand-in"
TEST_SET = "ferplus"


def fer_table2(
    run: ReproductionRun,
    *,
    max_epochs: int | None,
    accelerator: str | None,
    trials: int | None,
    models: tuple[str, ...] | None,
) -> Reproduction:
    """Table II; ``models`` keeps some of its recipes only (quick checks)."""
    # Local import (start-up time): the model module loads torch.
    from inkface.faces.classification.evaluate import trial_summary
    from inkface.models.resnet_cifar import information_density

    check_names("--models", models or (), list(TABLE_II_ROWS.values()))
    n_trials = trials or _default_trials(run)
    wanted = [r for r, n in TABLE_II_ROWS.items() if models is None or n in models]
    runs = _trials(FaceRuns(run, max_epochs, accelerator), wanted, n_trials)
    rows, body = [], []
    for r in wanted:
        accs = [100 * m["tests"][TEST_SET]["accuracy"] for m in runs[r]]
        summary = trial_summary(accs)
        params = runs[r][0]["params"]
        name = TABLE_II_ROWS[r]
        row = {
            "no": r,
            "recipe": name,
            "params": params,
            **summary,
            "paper": TABLE_II[name],
            "density": information_density(summary["mean"], params),
        }
        rows.append(row)
        body.append(
            [
                r,
                name,
                f"{params / 1e3:.0f}K",
                *(f"{a:.2f}" for a in accs),
                cell(summary["mean"], TABLE_II[name]),
                f"{summary['std']:.2f}",
                f"{row['density']:.1f}",
            ]
        )
    head = [
        "No",
        "Method",
        "Params",
        *(f"Trial {t + 1}" for t in range(n_trials)),
        "Average (paper)",
        "Std",
        "Density (acc %/M)",
    ]
    text = "Table II: FER+ accuracy %, ten-crop testing\n\n" + "\n".join(markdown_table(head, body))
    return run.finish(rows, text)


def fer_table3(
    run: ReproductionRun, *, max_epochs: int | None, accelerator: str | None, trials: int | None
) -> Reproduction:
    """Table III: the ensembles, over the trials of their Table II members."""
    # Local import (start-up time): these modules load torch.
    from inkface.faces.classification.evaluate import (
        classification_metrics,
        ensemble_proba,
        trial_summary,
    )
    from inkface.models.resnet_cifar import information_density

    n_trials = trials or _default_trials(run)
    runs = _trials(FaceRuns(run, max_epochs, accelerator), TABLE_III_MEMBERS, n_trials)
    rows, body = [], []
    for i, (*members, paper) in enumerate(TABLE_III, start=1):
        accs, class_accs = [], []
        for t in range(n_trials):
            probs = [saved_probs(runs[m][t], TEST_SET) for m in members]
            result = classification_metrics(
                probs[0][1],
                ensemble_proba([p for p, _ in probs]),
                runs[members[0]][t]["class_names"],
            )
            accs.append(100 * result["accuracy"])
            class_accs.append(100 * result["average_class_accuracy"])
        params = sum(runs[m][0]["params"] for m in members)
        summary = trial_summary(accs)
        label = "Ensemble " + " + ".join(f"({m})" for m in members)
        row = {
            "no": i,
            "ensemble": label,
            "params": params,
            **summary,
            "paper": paper,
            "average_class_accuracy": float(np.mean(class_accs)),
            "density": information_density(summary["mean"], params),
        }
        rows.append(row)
        body.append(
            [
                i,
                label,
                f"{params / 1e3:.0f}K",
                cell(summary["mean"], paper),
                f"{summary['std']:.2f}",
                f"{row['average_class_accuracy']:.2f}",
                f"{row['density']:.1f}",
            ]
        )
    head = ["No", "Ensemble", "Params", "Average (paper)", "Std", "Avg class acc", "Density"]
    text = "Table III: ensembles on FER+ accuracy %\n\n" + "\n".join(markdown_table(head, body))
    return run.finish(rows, text)


def _default_trials(run: ReproductionRun) -> int:
    return 2 if run.synthetic else 5  # the paper reports five trials per row


def _trials(runs: FaceRuns, rows: list[int], trials: int) -> dict[int, list[dict[str, Any]]]:
    """The runs of Table II rows ``rows``, ``trials`` seeds each."""
    return {r: [runs.metrics(TABLE_II_ROWS[r], t) for t in range(trials)] for r in rows}
