"""Evaluate a trained face classifier on its test sets and write the run's report.

Writes ``metrics.json`` (per test set: accuracy, average class accuracy, classification
report, confusion matrix; parameters, MACs, information density), one confusion-matrix
figure and ``classification_report_<set>.txt`` per test set, the training curves (every
stage after the source pre-training, in order: the mask report's loss / accuracy plot and
the smile report's Figure 7.4), the learning rate per epoch (Figure 7.3) and
``report.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from inkface.core.atomic import atomic_open, write_json
from inkface.evaluation.plots import _new_figure, _save, plot_training_curves
from inkface.evaluation.report import write_report
from inkface.faces.classification.datasets import FaceData
from inkface.faces.classification.evaluate import (
    classification_metrics,
    format_classification_report,
    plot_confusion_matrix,
    predict_proba,
)
from inkface.faces.classification.recipe import FaceRecipe
from inkface.models import model_info
from inkface.models.resnet_cifar import information_density
from inkface.models.summary import summarize


def concat_histories(histories: dict[str, dict[str, list[float]]]) -> dict[str, list[float]]:
    """Face-data stages (``training`` then ``finetune``) joined epoch after epoch."""
    stages = [histories[k] for k in ("training", "finetune") if histories.get(k)]
    keys = sorted({k for s in stages for k in s})
    out: dict[str, list[float]] = {k: [] for k in keys}
    for stage in stages:
        n = max((len(v) for v in stage.values()), default=0)
        for k in keys:
            out[k].extend(stage.get(k, [float("nan")] * n))
    return out


def plot_learning_rate(lrs: list[float], path: Path) -> Path:

    fig = _new_figure(4.5, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.semilogy(np.arange(1, len(lrs) + 1), lrs, marker="o", ms=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    ax.set_title("Learning rate")
    return _save(fig, path)


def model_costs(model: torch.nn.Module, recipe: FaceRecipe, data: FaceData) -> dict[str, Any]:

    channels = model_info(recipe.model.name).in_channels
    summary = summarize(model, (channels, *data.input_size))
    return {"params": summary.total_params, "macs": summary.macs, "_density": information_density}


def evaluate_run(
    recipe: FaceRecipe,
    model: torch.nn.Module,
    data: FaceData,
    histories: dict[str, dict[str, list[float]]],
    run_dir: Path,
    seed: int,
) -> dict[str, Any]:
    """Test-set metrics, figures, metrics.json and report.html of one run."""

    costs = model_costs(model, recipe, data)
    density = costs.pop("_density")
    tests: dict[str, Any] = {}
    figures: list[tuple[Path, str]] = []
    rows = []
    for name, crops in data.tests.items():
        if len(crops) == 0:
            continue
        probs = predict_proba(
            model,
            crops.images(),
            data.normalization,
            data.mean,
            data.input_size,
            ten_crop=recipe.evaluation.ten_crop,
        )
        np.save(run_dir / f"test_probs_{name}.npy", probs)
        np.save(run_dir / f"test_labels_{name}.npy", crops.labels)
        result = classification_metrics(crops.labels, probs, data.class_names)
        result["information_density"] = density(100 * result["accuracy"], costs["params"])
        tests[name] = result
        text = format_classification_report(result)
        with atomic_open(run_dir / f"classification_report_{name}.txt", "w") as handle:
            handle.write(text + "\n")
        figures.append(
            (
                plot_confusion_matrix(
                    result["confusion_matrix"],
                    data.class_names,
                    run_dir / f"confusion_{name}.png",
                    f"{name} test set",
                ),
                f"Confusion matrix on {name}",
            )
        )
        rows.append(
            {
                "test set": name,
                "images": result["support"],
                "accuracy": result["accuracy"],
                "average class accuracy": result["average_class_accuracy"],
                "macro F1": result["macro_avg"]["f1"],
            }
        )
    curves = concat_histories(histories)
    lrs = curves.pop("lr", [])
    if any(curves.values()):
        figures.insert(
            0,
            (
                plot_training_curves(curves, run_dir / "training_curves.png"),
                "Training loss and accuracy",
            ),
        )
    if lrs:
        figures.insert(
            1, (plot_learning_rate(lrs, run_dir / "learning_rate.png"), "Learning rate per epoch")
        )
    metrics = {
        "recipe": recipe.name,
        "model": recipe.model.name,
        "task": recipe.task,
        "seed": seed,
        "class_names": list(data.class_names),
        "input_size": list(data.input_size),
        "ten_crop": recipe.evaluation.ten_crop,
        **costs,
        "data": data.summary,
        "tests": tests,
        "epochs": {k: len(next(iter(v.values()), [])) for k, v in histories.items()},
    }
    write_json(run_dir / "metrics.json", metrics)
    per_class = [
        {"test set": name, "class": cls, **row}
        for name, result in tests.items()
        for cls, row in result["per_class"].items()
    ]
    summary = {
        "recipe": recipe.name,
        "model": recipe.model.name,
        "parameters": costs["params"],
        "MACs": costs["macs"],
        **{f"accuracy ({k})": v["accuracy"] for k, v in tests.items()},
    }
    write_report(
        run_dir,
        f"{recipe.task} classifier: {recipe.name}",
        summary,
        figures,
        {"Test sets": rows, "Classification report": per_class},
    )
    return metrics
