"""The face papers' tables as one call each, our figures beside the papers'.

* ``smile-table7.3``: the proposed CNN and the six transfer-learning baselines, accuracy on
  GENKI-4k (every image) and the CelebA test split (smile report Table 7.3), then their
  inference latency over N frames in the layout of Table 7.4;
* ``fer-table2``: ResNet-20/32 from scratch and fine-tuned from five source domains, five
  trials each, ten-crop testing, mean and spread, information density (FER Table II);
* ``fer-table3``: the paper's 13 ensembles, probabilities averaged trial by trial over
  the member runs of Table II (Table III);
* ``mask-report``: the mask model's classification report and training curves.

Without roots the experiments run small on generated faces (see
:mod:`inkface.faces.classification.quick`)
and every table says SYNTHETIC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inkface.core.atomic import atomic_open, write_json
from inkface.core.errors import InkfaceError
from inkface.evaluation.report import write_report
from inkface.faces.classification.evaluate import (
    classification_metrics,
    ensemble_proba,
    trial_summary,
)
from inkface.faces.classification.recipe import FaceRecipe, load_face_recipe

FACE_EXPERIMENTS = ("smile-table7.3", "fer-table2", "fer-table3", "mask-report")
TABLE_7_3 = {  # recipe: (label, GENKI-4k, CelebA)
    "smile-vgg16": ("VGG16", 0.906, 0.895),
    "smile-inception-v3": ("Inception V3", 0.921, 0.912),
    "smile-efficientnet-b0": ("EfficientNet B0", 0.926, 0.922),
    "smile-mnasnet": ("MNasNet", 0.919, 0.921),
    "smile-mobilenetv3-large": ("MobileNet V3", 0.930, 0.921),
    "smile-mobilenetv3-small": ("MobileNet Small V3", 0.921, 0.915),
    "smile-proposed": ("Proposed model", 0.945, 0.927),
}
_SOURCES = ("", "-cifar10", "-cifar100", "-imagenet32", "-cinic10", "-casia")
TABLE_II_ROWS = {
    i + 1: f"fer-{net}{src}"
    for i, (net, src) in enumerate((n, s) for n in ("resnet20", "resnet32") for s in _SOURCES)
}
TABLE_II = dict(
    zip(
        TABLE_II_ROWS.values(),
        (78.64, 82.00, 82.05, 79.56, 82.46, 81.25, 79.96, 83.92, 83.09, 78.85, 83.42, 82.02),
        strict=True,
    )
)
TABLE_III = (
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
MASK_PAPER = {"with_mask": (0.99, 0.99, 0.99, 383), "without_mask": (0.99, 0.99, 0.99, 384)}


@dataclass(frozen=True)
class FaceReproduction:
    experiment: str
    out_dir: Path
    rows: list[dict[str, Any]]
    table: str
    synthetic: bool


@dataclass
class _Context:
    out: Path
    roots: dict[str, str]
    synthetic: bool
    max_epochs: int | None
    cache_dir: Any
    progress: bool
    weights: dict[str, str]

    def recipe(self, name: str) -> FaceRecipe:
        from inkface.faces.classification.quick import (
            quick_recipe,
            synthetic_faces,
            write_synthetic_cifar10,
        )

        recipe = load_face_recipe(name)
        if self.synthetic:
            data = synthetic_faces(self.out / "synthetic-data", recipe.task)
            source = write_synthetic_cifar10(self.out / "synthetic-data" / "cifar10")
            return quick_recipe(recipe, data, self.max_epochs or 1, source)
        recipe = recipe.with_roots(
            {k: v for k, v in self.roots.items() if k in recipe.dataset_names()}
        )
        if recipe.model.name in self.weights:
            recipe = recipe.updated("model", imagenet_weights=self.weights[recipe.model.name])
        if self.max_epochs is not None:
            for section in ("pretrain", "training", "finetune"):
                recipe = recipe.updated(section, max_epochs=self.max_epochs)
        return recipe

    def run(self, name: str, trial: int = 0) -> dict[str, Any]:
        """Train (or reuse a finished run of) recipe ``name`` with seed ``trial``."""
        from inkface.faces.classification.train import train_face_classifier

        run_dir = self.out / "runs" / name / f"trial{trial}"
        if not (run_dir / "metrics.json").is_file():
            recipe = self.recipe(name)
            train_face_classifier(
                recipe,
                run_dir,
                cache_dir=self.cache_dir,
                progress=self.progress,
                seed=recipe.data.seed + trial,
            )
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        metrics["run_dir"] = str(run_dir)
        return metrics


def _probs(metrics: Mapping[str, Any], test: str) -> tuple[np.ndarray, np.ndarray]:
    run = Path(metrics["run_dir"])
    return np.load(run / f"test_probs_{test}.npy"), np.load(run / f"test_labels_{test}.npy")


def _acc(metrics: Mapping[str, Any], test: str) -> float | None:
    block = metrics["tests"].get(test)
    return None if block is None else block["accuracy"]


def _fmt(value: float | None, paper: float | None, digits: int = 3) -> str:
    ours = "n/a" if value is None else f"{value:.{digits}f}"
    return ours if paper is None else f"{ours} ({paper:.{digits}f})"


def _smile(ctx: _Context, models: list[str] | None, latency_frames: int) -> tuple[list, str]:
    from inkface.faces.classification.latency import format_latency_table, latency_table

    names = [n for n in TABLE_7_3 if models is None or n in models]
    rows, lines = [], ["| Model | GENKI-4k accuracy | CelebA accuracy |", "|---|---|---|"]
    for name in names:
        label, genki, celeba = TABLE_7_3[name]
        metrics = ctx.run(name)
        row = {
            "model": label,
            "recipe": name,
            "genki": _acc(metrics, "genki"),
            "celeba": _acc(metrics, "celeba"),
            "paper_genki": genki,
            "paper_celeba": celeba,
            "params": metrics["params"],
        }
        rows.append(row)
        lines.append(f"| {label} | {_fmt(row['genki'], genki)} | {_fmt(row['celeba'], celeba)} |")
    archs = [load_face_recipe(n).model.name for n in names]
    sizes = {
        a: tuple(ctx.recipe(n).model.input_size or ()) for a, n in zip(archs, names, strict=True)
    }
    sizes = {k: v for k, v in sizes.items() if v}
    latency = latency_table(archs, latency_frames, input_sizes=sizes)
    for row, lat in zip(rows, latency, strict=True):
        row["latency"] = lat
    text = (
        "Table 7.3: accuracy (paper in parentheses)\n\n"
        + "\n".join(lines)
        + "\n\n"
        + format_latency_table(latency, "cpu")
    )
    return rows, text


def _fer_trials(ctx: _Context, rows_wanted: list[int], trials: int) -> dict[int, list[dict]]:
    return {r: [ctx.run(TABLE_II_ROWS[r], t) for t in range(trials)] for r in rows_wanted}


def _fer_table2(ctx: _Context, trials: int, models: list[str] | None) -> tuple[list, str]:
    from inkface.models.resnet_cifar import information_density

    wanted = [r for r, n in TABLE_II_ROWS.items() if models is None or n in models]
    runs = _fer_trials(ctx, wanted, trials)
    rows = []
    lines = [
        "| No | Method | Params | "
        + " | ".join(f"Trial {t + 1}" for t in range(trials))
        + " | Average (paper) | Std | Density (acc %/M) |",
        "|---|---|---|" + "---|" * trials + "---|---|---|",
    ]
    for r in wanted:
        accs = [100 * _acc(m, "ferplus") for m in runs[r]]
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
        cells = " | ".join(f"{a:.2f}" for a in accs)
        lines.append(
            f"| {r} | {name} | {params / 1e3:.0f}K | {cells} | "
            f"{_fmt(summary['mean'], TABLE_II[name], 2)} | {summary['std']:.2f} | "
            f"{row['density']:.1f} |"
        )
    return rows, "Table II: FER+ accuracy %, ten-crop testing\n\n" + "\n".join(lines)


def _fer_table3(ctx: _Context, trials: int) -> tuple[list, str]:
    from inkface.models.resnet_cifar import information_density

    members = sorted({m for *ms, _ in TABLE_III for m in ms})
    runs = _fer_trials(ctx, members, trials)
    rows, lines = (
        [],
        [
            "| No | Ensemble | Params | Average (paper) | Std | Avg class acc | Density |",
            "|---|---|---|---|---|---|---|",
        ],
    )
    for i, (*ms, paper) in enumerate(TABLE_III, start=1):
        accs, class_accs = [], []
        for t in range(trials):
            probs = [_probs(runs[m][t], "ferplus") for m in ms]
            labels = probs[0][1]
            result = classification_metrics(
                labels, ensemble_proba([p for p, _ in probs]), runs[ms[0]][t]["class_names"]
            )
            accs.append(100 * result["accuracy"])
            class_accs.append(100 * result["average_class_accuracy"])
        params = sum(runs[m][0]["params"] for m in ms)
        summary = trial_summary(accs)
        label = "Ensemble " + " + ".join(f"({m})" for m in ms)
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
        lines.append(
            f"| {i} | {label} | {params / 1e3:.0f}K | {_fmt(summary['mean'], paper, 2)}"
            f" | {summary['std']:.2f} | {row['average_class_accuracy']:.2f} | "
            f"{row['density']:.1f} |"
        )
    return rows, "Table III: ensembles on FER+ accuracy %\n\n" + "\n".join(lines)


def _mask(ctx: _Context) -> tuple[list, str]:
    from inkface.faces.classification.evaluate import format_classification_report

    metrics = ctx.run("mask-mobilenetv2")
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
    return rows, text


def reproduce_faces(
    experiment: str,
    out_dir: str | Path,
    roots: Mapping[str, str] | None = None,
    max_epochs: int | None = None,
    trials: int | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    models: list[str] | None = None,
    latency_frames: int | None = None,
    weights: Mapping[str, str] | None = None,
) -> FaceReproduction:
    """Run one face experiment; ``models`` restricts it to some recipes (quick checks)."""
    if experiment not in FACE_EXPERIMENTS:
        raise InkfaceError(f"unknown experiment {experiment!r} ({', '.join(FACE_EXPERIMENTS)})")
    out = Path(out_dir)
    synthetic = not roots
    ctx = _Context(
        out, dict(roots or {}), synthetic, max_epochs, cache_dir, progress, dict(weights or {})
    )
    n_trials = trials or (2 if synthetic else 5)
    if experiment == "smile-table7.3":
        rows, text = _smile(ctx, models, latency_frames or (20 if synthetic else 1000))
    elif experiment == "fer-table2":
        rows, text = _fer_table2(ctx, n_trials, models)
    elif experiment == "fer-table3":
        rows, text = _fer_table3(ctx, n_trials)
    else:
        rows, text = _mask(ctx)
    if synthetic:
        text = (
            "SYNTHETIC dry run (no dataset roots given): small generated data, few epochs; "
            "the numbers only show that the protocol runs.\n\n" + text
        )
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "table.md", "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    write_json(
        out / "metrics.json", {"experiment": experiment, "synthetic": synthetic, "rows": rows}
    )
    flat = [{k: v for k, v in r.items() if not isinstance(v, dict | list)} for r in rows]
    write_report(
        out,
        f"{experiment}{' (synthetic)' if synthetic else ''}",
        {"experiment": experiment, "synthetic": synthetic},
        (),
        {"Results": flat},
    )
    return FaceReproduction(experiment, out, rows, text, synthetic)
