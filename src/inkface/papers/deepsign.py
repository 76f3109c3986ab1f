"""The DeepSign paper's experiments as one call each: Tables 6 and 7.

``reproduce("deepsign-table6", roots={"cedar": ..., "bhsig260": ...})`` trains the
three towers with their recipes, evaluates them on every test set, and writes the
table in the paper's layout next to the paper's numbers, the three models' ROC curves
on one plot (Figure 2) and a report. Without roots it generates small synthetic CEDAR-
and BHSig260-layout sets and trains briefly: the numbers then only show that the whole
protocol runs, and the output says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from inkface.core.atomic import atomic_open, write_json
from inkface.core.errors import InkfaceError
from inkface.evaluation.plots import plot_roc
from inkface.evaluation.report import write_report

METRICS = ("accuracy", "precision", "recall", "auroc")
MODEL_LABELS = {"signet": "SigNet", "mobilenetv2": "MobileNetv2", "deepsign": "DeepSign"}


@dataclass(frozen=True)
class Experiment:
    recipes: tuple[str, ...]
    datasets: tuple[str, ...]
    # (test-set key prefix, the paper's row label)
    test_sets: tuple[tuple[str, str], ...]
    # paper[(row label, model label)] = (accuracy, precision, recall, AUROC)
    paper: Mapping[tuple[str, str], tuple[float, float, float, float]]
    title: str


TABLE6 = Experiment(
    recipes=("signet-combined", "mobilenetv2-combined", "deepsign-combined"),
    datasets=("cedar", "bhsig260"),
    test_sets=(
        ("test/cedar", "CEDAR Signature Database"),
        ("test/bhsig260", "BHSig260 Signature Database"),
        ("test/combined", "Combined Database"),
    ),
    paper={
        ("CEDAR Signature Database", "SigNet"): (0.73, 0.59, 0.65, 0.79),
        ("CEDAR Signature Database", "MobileNetv2"): (0.72, 0.65, 0.28, 0.72),
        ("CEDAR Signature Database", "DeepSign"): (0.74, 0.51, 0.57, 0.72),
        ("BHSig260 Signature Database", "SigNet"): (0.81, 0.69, 0.75, 0.85),
        ("BHSig260 Signature Database", "MobileNetv2"): (0.75, 0.63, 0.65, 0.78),
        ("BHSig260 Signature Database", "DeepSign"): (0.92, 0.83, 0.85, 0.95),
        ("Combined Database", "SigNet"): (0.79, 0.66, 0.75, 0.84),
        ("Combined Database", "MobileNetv2"): (0.76, 0.65, 0.70, 0.82),
        ("Combined Database", "DeepSign"): (0.85, 0.76, 0.84, 0.93),
    },
    title="Table 6: trained on CEDAR + BHSig260",
)

TABLE7 = Experiment(
    recipes=(
        "signet-cedar-to-bhsig260",
        "mobilenetv2-cedar-to-bhsig260",
        "deepsign-cedar-to-bhsig260",
    ),
    datasets=("cedar", "bhsig260"),
    test_sets=(("test/cedar", "CEDAR/CEDAR"), ("test/bhsig260", "CEDAR/BHSig260")),
    paper={
        ("CEDAR/CEDAR", "SigNet"): (0.65, 0.70, 0.15, 0.78),
        ("CEDAR/CEDAR", "MobileNetv2"): (0.68, 0.67, 0.22, 0.72),
        ("CEDAR/CEDAR", "DeepSign"): (0.76, 0.65, 0.59, 0.80),
        ("CEDAR/BHSig260", "SigNet"): (0.65, 0.53, 0.26, 0.64),
        ("CEDAR/BHSig260", "MobileNetv2"): (0.63, 0.52, 0.12, 0.59),
        ("CEDAR/BHSig260", "DeepSign"): (0.74, 0.82, 0.50, 0.86),
    },
    title="Table 7: trained on CEDAR, tested on CEDAR and BHSig260",
)

EXPERIMENTS = {"deepsign-table6": TABLE6, "deepsign-table7": TABLE7}


@dataclass(frozen=True)
class ReproductionResult:
    name: str
    rows: list[dict[str, object]]
    table: str
    out_dir: Path
    synthetic: bool


def synthetic_roots(folder: Path, writers: int, genuine: int, forgeries: int, seed: int) -> dict:
    """Generate (or reuse) small CEDAR- and BHSig260-layout sets for a dry run."""
    from inkface.signatures.synth.generator import generate_signatures

    roots = {"cedar": folder / "cedar", "bhsig260": folder / "bhsig260"}
    for layout, root in roots.items():
        if not root.is_dir():
            generate_signatures(root, writers, genuine, forgeries, layout=layout, seed=seed)
    return roots


def reproduce(
    name: str,
    out_dir: str | Path,
    roots: Mapping[str, str | Path] | None = None,
    max_epochs: int | None = None,
    cache_dir: str | Path | None = None,
    synthetic_writers: int = 10,
    progress: bool = True,
) -> ReproductionResult:
    """Run one of :data:`EXPERIMENTS`; returns the rows and the printable table."""
    from inkface.signatures.verification.evaluate import load_scores
    from inkface.signatures.verification.recipe import load_recipe
    from inkface.signatures.verification.train import train_verifier

    if name not in EXPERIMENTS:
        raise InkfaceError(f"unknown experiment {name!r} (choose from {', '.join(EXPERIMENTS)})")
    experiment = EXPERIMENTS[name]
    out = Path(out_dir)
    synthetic = not roots
    if synthetic:
        roots = synthetic_roots(out / "data", synthetic_writers, 8, 8, seed=0)
        max_epochs = max_epochs or 2
    missing = [d for d in experiment.datasets if d not in roots]  # type: ignore[operator]
    if missing:
        raise InkfaceError(f"{name} needs --root for {', '.join(missing)}")

    rows: list[dict[str, object]] = []
    curves = {}
    for recipe_name in experiment.recipes:
        recipe = load_recipe(recipe_name).with_roots(dict(roots))  # type: ignore[arg-type]
        updates: dict[str, object] = {}
        if max_epochs:
            updates["max_epochs"] = max_epochs
        if synthetic:
            updates["batch_pairs"] = 128
        if updates:
            recipe = recipe.model_copy(
                update={"training": recipe.training.model_copy(update=updates)}
            )
        run_dir = train_verifier(recipe, out / recipe_name, cache_dir=cache_dir, progress=progress)
        label = MODEL_LABELS[recipe.model.name.split("_")[0]]
        metrics = _read_metrics(run_dir)
        scores = load_scores(run_dir / "scores.npz")
        for prefix, row_label in experiment.test_sets:
            key = _find_key(metrics["test_sets"], prefix)
            ours = metrics["test_sets"][key]["paper"]
            paper = experiment.paper[(row_label, label)]
            rows.append(
                {
                    "test": row_label,
                    "model": label,
                    **{m: ours[m] for m in METRICS},
                    **{f"paper_{m}": p for m, p in zip(METRICS, paper, strict=True)},
                }
            )
        primary = _find_key(metrics["test_sets"], experiment.test_sets[-1][0])
        curves[label] = scores[primary]

    table = format_table(experiment, rows, synthetic)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "table.md", "w", encoding="utf-8") as handle:
        handle.write(table + "\n")
    write_json(out / "metrics.json", {"experiment": name, "synthetic": synthetic, "rows": rows})
    roc = plot_roc(curves, out / "roc_models.png")
    summary = {"experiment": experiment.title, "data": "synthetic" if synthetic else "real"}
    write_report(out, f"inkface reproduce {name}", summary, [roc], {"Results": rows})
    return ReproductionResult(name, rows, table, out, synthetic)


def _read_metrics(run_dir: Path) -> dict:
    import json

    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))


def _find_key(test_sets: Mapping[str, object], prefix: str) -> str:
    for key in test_sets:
        if key == prefix or key.startswith(prefix + "-"):
            return key
    raise InkfaceError(f"test set {prefix} missing from the run's metrics")


def format_table(experiment: Experiment, rows: list[dict[str, object]], synthetic: bool) -> str:
    """The paper's layout, each cell ``ours (paper)``."""
    head = "| Test database | Model | Accuracy | Precision | Recall | AUROC |"
    lines = [experiment.title, "", head, "|---|---|---|---|---|---|"]
    previous = None
    for row in rows_in_paper_order(experiment, rows):
        test = row["test"] if row["test"] != previous else ""
        previous = row["test"]
        cells = [
            f"{_fmt(row[m])} ({row[f'paper_{m}']:.2f})"  # type: ignore[str-format]
            for m in METRICS
        ]
        lines.append(f"| {test} | {row['model']} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "Cells: ours (paper). Genuine and skilled-forgery pairs, threshold from validation."
    )
    if synthetic:
        lines.append(
            "NOTE: no dataset roots were given, so this ran on small SYNTHETIC data with "
            "very short training; the numbers only show the protocol runs end to end."
        )
    return "\n".join(lines)


def rows_in_paper_order(experiment: Experiment, rows: list[dict[str, object]]) -> list:
    order = {label: i for i, (_, label) in enumerate(experiment.test_sets)}
    models = list(MODEL_LABELS.values())
    return sorted(rows, key=lambda r: (order[r["test"]], models.index(r["model"])))  # type: ignore[index,arg-type]


def _fmt(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"  # type: ignore[arg-type]
