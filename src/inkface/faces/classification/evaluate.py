"""Evaluation of the face classifiers as the three papers report it.

* classification report (mask report: per-class precision / recall / F1 / support,
  macro and weighted averages) and the confusion matrix with the *average class accuracy*
  (FER paper §IV-B: 68.75 % beside a global 84.30 % for the unbalanced FER+ test set);
* ten-crop testing (FER paper §III-D): resize to 36x36, the four corners and the centre
  32x32 crops plus their mirror images, mean subtraction, scores averaged;
* ensembles (FER paper Table III): class probabilities of several models averaged;
* repeated trials (Tables II / III: five trials, mean) with the spread;
* information density (FER paper eq. 1) is :func:`inkface.models.resnet_cifar.information_density`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from inkface.core.errors import InkfaceError
from inkface.evaluation.plots import _new_figure, _save
from inkface.faces.classification.classifier import normalize
from inkface.faces.classification.datasets import center_crop, fit_size


def classification_metrics(
    labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, average class accuracy, per-class report and confusion matrix."""
    labels = np.asarray(labels, np.int64)
    probs = np.asarray(probs)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise InkfaceError(f"scores {probs.shape} do not match {len(labels)} labels")
    if len(labels) == 0:
        raise InkfaceError("no test samples to evaluate")
    k = len(class_names)
    predicted = probs.argmax(axis=1)
    cm = confusion_matrix(labels, predicted, labels=list(range(k)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=list(range(k)), zero_division=0
    )
    present = support > 0
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    weights = support / max(1, support.sum())
    return {
        "accuracy": float((predicted == labels).mean()),
        "average_class_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "macro_avg": {
            "precision": float(precision[present].mean()),
            "recall": float(recall[present].mean()),
            "f1": float(f1[present].mean()),
        },
        "weighted_avg": {
            "precision": float((precision * weights).sum()),
            "recall": float((recall * weights).sum()),
            "f1": float((f1 * weights).sum()),
        },
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "support": len(labels),
    }


def format_classification_report(metrics: dict[str, Any]) -> str:
    """The mask report's printout (scikit-learn's ``classification_report`` layout)."""
    names = list(metrics["per_class"])
    width = max(12, *(len(n) for n in names))
    lines = [f"{'':>{width}}  precision    recall  f1-score   support", ""]
    for name, row in metrics["per_class"].items():
        lines.append(
            f"{name:>{width}}  {row['precision']:9.2f} {row['recall']:9.2f} "
            f"{row['f1']:9.2f} {row['support']:9d}"
        )
    n = metrics["support"]
    lines += ["", f"{'accuracy':>{width}}  {'':9} {'':9} {metrics['accuracy']:9.2f} {n:9d}"]
    for key, label in (("macro_avg", "macro avg"), ("weighted_avg", "weighted avg")):
        row = metrics[key]
        lines.append(
            f"{label:>{width}}  {row['precision']:9.2f} {row['recall']:9.2f} "
            f"{row['f1']:9.2f} {n:9d}"
        )
    lines.append(f"average class accuracy: {metrics['average_class_accuracy']:.4f}")
    return "\n".join(lines)


def ten_crops(images: np.ndarray, crop: tuple[int, int]) -> np.ndarray:
    """(N, H, W, C) -> (N, 10, h, w, C): 4 corners, centre, and their horizontal mirrors."""
    images = np.asarray(images)
    h, w = crop
    height, width = images.shape[1:3]
    if height < h or width < w:
        raise InkfaceError(f"ten-crop: images {height}x{width} are smaller than the crop {h}x{w}")
    top, left = (height - h) // 2, (width - w) // 2
    corners = [(0, 0), (0, width - w), (height - h, 0), (height - h, width - w), (top, left)]
    crops = [images[:, y : y + h, x : x + w] for y, x in corners]
    crops += [c[:, :, ::-1] for c in crops]
    return np.stack(crops, axis=1)


@torch.no_grad()
def predict_proba(
    model: torch.nn.Module,
    images: np.ndarray,
    normalization: str,
    mean: Sequence[float] | None = None,
    input_size: tuple[int, int] | None = None,
    ten_crop: bool = False,
    batch_size: int = 256,
) -> np.ndarray:
    """Softmax probabilities of uint8 (N, H, W, C) crops; with ``ten_crop`` the average
    over the ten crops of size ``input_size`` (otherwise images are centre-cropped to
    ``input_size`` when larger)."""

    model.eval()
    device = next(model.parameters()).device
    size = input_size or tuple(images.shape[1:3])
    out = []
    for start in range(0, len(images), batch_size):
        chunk = np.asarray(images[start : start + batch_size])
        if ten_crop:
            crops = ten_crops(chunk, size)
            flat = crops.reshape(-1, *crops.shape[2:])
        else:
            flat = np.stack(
                [fit_size(center_crop(im, size) if _larger(im, size) else im, size) for im in chunk]
            )
        x = torch.from_numpy(normalize(flat, normalization, mean)).to(device)
        p = torch.softmax(model(x).float(), dim=1).cpu().numpy()
        out.append(p.reshape(len(chunk), 10, -1).mean(axis=1) if ten_crop else p)
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _larger(image: np.ndarray, size: tuple[int, int]) -> bool:
    return image.shape[0] > size[0] and image.shape[1] > size[1]


def ensemble_proba(members: Sequence[np.ndarray]) -> np.ndarray:
    """Average the class probabilities of several classifiers (FER paper Table III)."""
    if not members:
        raise InkfaceError("an ensemble needs at least one member")
    shapes = {np.shape(m) for m in members}
    if len(shapes) != 1:
        raise InkfaceError(f"ensemble members disagree on shape: {sorted(shapes)}")
    return np.mean(np.stack(members), axis=0)


def trial_summary(values: Sequence[float]) -> dict[str, Any]:
    """Mean and sample standard deviation of repeated trials (Tables II / III)."""
    arr = np.asarray(values, float)
    if arr.size == 0:
        raise InkfaceError("no trials to summarise")
    return {
        "trials": arr.tolist(),
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        "min": float(arr.min()),
        "max": float(arr.max()),
    }


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]],
    class_names: Sequence[str],
    path: str | Path,
    title: str = "Confusion matrix",
) -> Path:
    """Row-normalised confusion matrix with counts (FER paper Fig. 2)."""

    cm = np.asarray(matrix, float)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    k = len(class_names)
    fig = _new_figure(1.6 + 0.7 * k, 1.2 + 0.6 * k)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            colour = "white" if norm[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{norm[i, j]:.2f}\n({int(cm[i, j])})",
                ha="center",
                va="center",
                fontsize=7,
                color=colour,
            )
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)
