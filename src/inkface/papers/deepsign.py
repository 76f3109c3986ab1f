"""The DeepSign paper's Tables 6 and 7 (Wang, "DeepSign: Efficient Siamese Convolutional
Neural Networks for Signature Verification").

Each table trains the three towers (SigNet, MobileNetv2, DeepSign) with their recipes,
evaluates them on every test set, and writes the table in the paper's layout next to the
paper's numbers, the three models' ROC curves on one plot (Figure 2) and a report.
Without roots it generates small CEDAR- and BHSig260-layout sets and trains briefly.

Beside the paper's columns (not in the paper): the skilled-forgery EER with one global
threshold against the EER with user thresholds (each writer's own, sigver's a-posteriori
measure) for single pairs, and with three references the global threshold against the
writer thresholds derived from the references at enrolment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inkface.core.errors import InkfaceError
from inkface.papers.scaffold import Reproduction, ReproductionRun, cell, markdown_table

METRICS = ("accuracy", "precision", "recall", "auroc")
# Global vs user thresholds (skilled-forgery EER): column key, header, (block, k).
EER_COLUMNS = (
    ("eer_global", "EER global, 1 ref", ("eer_global", "1")),
    ("eer_user", "EER user thresholds, 1 ref", ("eer_user", "1")),
    ("eer_global_3refs", "EER global, 3 refs", ("eer_global", "3")),
    ("eer_writer_3refs", "EER writer thresholds, 3 refs", ("eer_writer_rule", "3")),
)
MODEL_LABELS = {"signet": "SigNet", "mobilenetv2": "MobileNetv2", "deepsign": "DeepSign"}


@dataclass(frozen=True)
class VerificationTable:
    """One of the paper's result tables: the recipes that fill it and its numbers."""

    recipes: tuple[str, ...]
    datasets: tuple[str, ...]
    # (test-set key prefix, the paper's row label)
    test_sets: tuple[tuple[str, str], ...]
    # paper[(row label, model label)] = (accuracy, precision, recall, AUROC)
    paper: Mapping[tuple[str, str], tuple[float, float, float, float]]
    title: str


TABLE6 = VerificationTable(
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

TABLE7 = VerificationTable(
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


def deepsign_table6(
    run: ReproductionRun, *, max_epochs: int | None, accelerator: str | None, synthetic_writers: int
) -> Reproduction:
    """Table 6: the three towers trained on CEDAR + BHSig260, tested on each and both."""
    return reproduce_table(TABLE6, run, max_epochs, accelerator, synthetic_writers)


def deepsign_table7(
    run: ReproductionRun, *, max_epochs: int | None, accelerator: str | None, synthetic_writers: int
) -> Reproduction:
    """Table 7: the three towers trained on CEDAR, tested on CEDAR and BHSig260."""
    return reproduce_table(TABLE7, run, max_epochs, accelerator, synthetic_writers)


def synthetic_roots(folder: Path, writers: int, genuine: int, forgeries: int, seed: int) -> dict:
    """Generate (or reuse) small CEDAR- and BHSig260-layout sets for a dry run."""
    from inkface.signatures.synth.generator import generate_signatures

    roots = {"cedar": folder / "cedar", "bhsig260": folder / "bhsig260"}
    for layout, root in roots.items():
        if not root.is_dir():
            generate_signatures(root, writers, genuine, forgeries, layout=layout, seed=seed)
    return roots


def reproduce_table(
    table: VerificationTable,
    run: ReproductionRun,
    max_epochs: int | None = None,
    accelerator: str | None = None,
    synthetic_writers: int = 10,
) -> Reproduction:
    """Train the table's recipes and write it next to the paper's numbers."""
    # Local imports (start-up time): the trainers and matplotlib load torch and
    # matplotlib, which ``inkface reproduce --help`` does not need.
    from inkface.evaluation.plots import plot_roc
    from inkface.signatures.verification.evaluate import load_scores
    from inkface.signatures.verification.recipe import load_recipe
    from inkface.signatures.verification.train import train_verifier

    roots: Mapping[str, Any] = run.roots
    if run.synthetic:
        roots = synthetic_roots(run.data_dir, synthetic_writers, 8, 8, seed=0)
        max_epochs = max_epochs or 2
    missing = [d for d in table.datasets if d not in roots]
    if missing:
        raise InkfaceError(f"{run.name} needs --root for {', '.join(missing)}")

    rows: list[dict[str, Any]] = []
    curves = {}
    for recipe_name in table.recipes:
        recipe = load_recipe(recipe_name).with_roots(dict(roots))
        updates: dict[str, Any] = {}
        if max_epochs:
            updates["max_epochs"] = max_epochs
        if accelerator:
            updates["accelerator"] = accelerator
        if run.synthetic:
            updates["batch_pairs"] = 128
        if updates:
            recipe = recipe.model_copy(
                update={"training": recipe.training.model_copy(update=updates)}
            )
        run_dir = train_verifier(  # a finished run is reused, other settings retrained
            recipe,
            run.out / recipe_name,
            cache_dir=run.cache_dir,
            progress=run.progress,
            resume="refresh",
        )
        label = MODEL_LABELS[recipe.model.name.split("_")[0]]
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        scores = load_scores(run_dir / "scores.npz")
        for prefix, row_label in table.test_sets:
            block = metrics["test_sets"][_find_key(metrics["test_sets"], prefix)]
            ours = block["paper"]
            paper = table.paper[(row_label, label)]
            rows.append(
                {
                    "test": row_label,
                    "model": label,
                    **{m: ours[m] for m in METRICS},
                    **{f"paper_{m}": p for m, p in zip(METRICS, paper, strict=True)},
                    **eer_columns(block),
                }
            )
        curves[label] = scores[_find_key(metrics["test_sets"], table.test_sets[-1][0])]
    roc = plot_roc(curves, run.out / "roc_models.png")
    return run.finish(rows, format_table(table, rows), figures=[roc])


def eer_columns(block: Mapping[str, Any]) -> dict[str, float | None]:
    """Global- vs user-threshold EERs of one test set (``metrics.json``'s decision block;
    absent in runs evaluated before operating points)."""
    users = (block.get("decision") or {}).get("user_thresholds") or {}
    return {key: (users.get(name) or {}).get(k) for key, _, (name, k) in EER_COLUMNS}


def _find_key(test_sets: Mapping[str, object], prefix: str) -> str:
    for key in test_sets:
        if key == prefix or key.startswith(prefix + "-"):
            return key
    raise InkfaceError(f"test set {prefix} missing from the run's metrics")


def format_table(table: VerificationTable, rows: list[dict[str, Any]]) -> str:
    """The paper's layout, each cell ``ours (paper)``, models in the paper's order."""
    body = []
    previous = None
    for row in rows_in_paper_order(table, rows):
        test = row["test"] if row["test"] != previous else ""
        previous = row["test"]
        body.append([test, row["model"], *(cell(row[m], row[f"paper_{m}"]) for m in METRICS)])
    head = ["Test database", "Model", "Accuracy", "Precision", "Recall", "AUROC"]
    lines = [table.title, "", *markdown_table(head, body), ""]
    lines.append(
        "Cells: ours (paper). Genuine and skilled-forgery pairs, threshold from validation."
    )
    if any("eer_global" in row for row in rows):
        lines += ["", *eer_table(table, rows)]
    return "\n".join(lines)


def eer_table(table: VerificationTable, rows: list[dict[str, Any]]) -> list[str]:
    """Global vs user thresholds, side by side (skilled-forgery EER on the test writers)."""
    body = []
    previous = None
    for row in rows_in_paper_order(table, rows):
        test = row["test"] if row["test"] != previous else ""
        previous = row["test"]
        body.append([test, row["model"], *(cell(row.get(key)) for key, _, _ in EER_COLUMNS)])
    head = ["Test database", "Model", *(header for _, header, _ in EER_COLUMNS)]
    note = (
        "Global vs user thresholds (not in the paper): skilled-forgery EER with one threshold "
        "for all writers, with each writer's own (a-posteriori, as sigver reports), and with "
        "3 references the global threshold vs writer thresholds set from the references."
    )
    return [*markdown_table(head, body), "", note]


def rows_in_paper_order(table: VerificationTable, rows: list[dict[str, Any]]) -> list:
    order = {label: i for i, (_, label) in enumerate(table.test_sets)}
    models = list(MODEL_LABELS.values())
    return sorted(rows, key=lambda r: (order[r["test"]], models.index(r["model"])))
