"""Evaluate a trained tower on a pair plan: section 5.2 plus biometric reporting.

Each image needed by the validation and test pairs is embedded once; pair distances
are then read from the embedding table. The paper's threshold is the one maximising
accuracy on the validation genuine + skilled pairs and is applied unchanged to every
test set. Per test set we report the paper's four metrics on genuine + skilled pairs
(comparable with Tables 6-7) and the full biometric record (FAR / FRR / EER with
skilled and random forgeries apart, bootstrap intervals over writers).

Beyond the paper, the validation writers also fix the run's decision policy
(:mod:`inkface.evaluation.policy_fit`): operating points (default ``eer``) for 1..5
references with a measured combination rule, ``p_genuine`` calibration and writer
thresholds. The policy goes to ``meta.json``; its test-writer results (FMR / FNMR per
operating point and k, global vs user thresholds, calibration) to ``metrics.json`` and
the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from inkface.core.atomic import atomic_path, write_json
from inkface.core.progress import show_bars
from inkface.evaluation.bootstrap import evaluate
from inkface.evaluation.multi_reference import EmbeddedImages
from inkface.evaluation.plots import (
    plot_accuracy_vs_threshold,
    plot_det,
    plot_distance_histograms,
    plot_pair_grid,
    plot_reliability,
    plot_roc,
    plot_training_curves,
    select_grid_pairs,
)
from inkface.evaluation.policy_fit import (
    PolicySettings,
    evaluate_policy,
    fit_policy_or_fallback,
)
from inkface.evaluation.policy_report import policy_tables
from inkface.evaluation.report import write_report
from inkface.evaluation.thresholds import accuracy_curve
from inkface.evaluation.verification import PairScores, auroc, verification_metrics
from inkface.signatures.data.bank import ImageBank
from inkface.signatures.data.pairs import GENUINE, RANDOM, SKILLED, PairSet
from inkface.signatures.verification.data import PreparedData

PAPER_METRICS = ("accuracy", "precision", "recall", "auroc")


@torch.no_grad()
def embed_rows(
    tower: torch.nn.Module,
    bank: ImageBank,
    rows: np.ndarray,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Embeddings (len(rows), D) of bank rows, in the order given."""
    tower.eval()
    device = next(tower.parameters()).device
    chunks = []
    for start in tqdm(
        range(0, len(rows), batch_size),
        desc="embedding",
        unit="batch",
        disable=not show_bars(progress),
    ):
        images = torch.from_numpy(bank.take(rows[start : start + batch_size])).unsqueeze(1)
        chunks.append(tower(images.to(device).float().div_(255.0)).cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)


def pair_scores(pairs: PairSet, rows: np.ndarray, embeddings: np.ndarray) -> PairScores:
    """Distances of ``pairs`` given embeddings of the sorted unique ``rows``."""
    left = embeddings[np.searchsorted(rows, pairs.left)]
    right = embeddings[np.searchsorted(rows, pairs.right)]
    distances = np.linalg.norm(left - right, axis=1)
    return PairScores(distances, pairs.labels, pairs.kinds, pairs.writers)


def split_images(
    pairs: PairSet, rows: np.ndarray, embeddings: np.ndarray, bank: ImageBank
) -> EmbeddedImages:
    """The embedded images behind one split's pairs: each writer's genuine signatures
    (every reference and genuine partner) and skilled forgeries, with their data set."""
    owner = np.full(len(bank), -1, dtype=np.int64)
    genuine_right = pairs.kinds == GENUINE
    skilled_right = pairs.kinds == SKILLED
    owner[pairs.left] = pairs.writers
    owner[pairs.right[genuine_right]] = pairs.writers[genuine_right]
    owner[pairs.right[skilled_right]] = pairs.writers[skilled_right]
    genuine = np.unique(np.concatenate([pairs.left, pairs.right[genuine_right]]))
    forged = np.unique(pairs.right[skilled_right])
    chosen = np.concatenate([genuine, forged])
    return EmbeddedImages(
        embeddings=embeddings[np.searchsorted(rows, chosen)],
        writers=owner[chosen],
        genuine=np.concatenate([np.ones(len(genuine), bool), np.zeros(len(forged), bool)]),
        groups=np.searchsorted(bank.offsets, chosen, side="right") - 1,
    )


def evaluate_verifier(
    tower: torch.nn.Module,
    data: PreparedData,
    run_dir: str | Path,
    title: str,
    history: Mapping[str, Sequence[float]] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    progress: bool = True,
    settings: PolicySettings | None = None,
    baseline: torch.nn.Module | None = None,
) -> dict[str, Any]:
    """Write ``metrics.json``, figures and ``report.html`` into ``run_dir``; return metrics.

    ``metrics["decision_policy"]`` is the policy fixed on validation (for ``meta.json``);
    ``settings`` chooses its operating points (bootstrap settings are those given here).
    ``baseline`` (the tower a fine-tuning run started from) adds its test AUROC as
    ``metrics["init_from"]``, to show what fine-tuning changed.
    """
    run_dir = Path(run_dir)
    figures_dir = run_dir / "figures"
    plan = data.plan
    eval_sets = {k: v for k, v in plan.pairs.items() if k != "train"}
    rows = np.unique(
        np.concatenate([np.concatenate([p.left, p.right]) for p in eval_sets.values()])
    )
    embeddings = embed_rows(tower, data.bank, rows, progress=progress)
    scores = {k: pair_scores(p, rows, embeddings) for k, p in eval_sets.items()}
    val_paper = _without_random(scores["val"])

    test_keys = [k for k in scores if k.startswith("test/")]
    results: dict[str, Any] = {}
    for key in test_keys:
        full = evaluate(val_paper, scores[key], n_boot=n_boot, seed=seed, level=level)
        paper = verification_metrics(_without_random(scores[key]), full["threshold"])
        full["paper"] = {m: paper[m] for m in PAPER_METRICS}
        results[key] = full
    primary = test_keys[-1] if "test/combined" in test_keys else test_keys[0]

    settings = replace(settings or PolicySettings(), n_boot=n_boot, level=level, seed=seed)
    images = {k: split_images(p, rows, embeddings, data.bank) for k, p in eval_sets.items()}
    paper_threshold = float(results[primary]["threshold"])
    policy = fit_policy_or_fallback(scores["val"], images["val"], paper_threshold, settings)
    for key in test_keys:
        results[key]["decision"] = evaluate_policy(policy, scores[key], images[key], settings)
    default = policy["default_operating_point"]
    threshold = float(policy["operating_points"][default]["thresholds"]["1"])
    metrics = {
        "title": title,
        "threshold": threshold,
        "default_operating_point": default,
        "accuracy_threshold": results[primary]["threshold"],
        "primary_test_set": primary,
        "validation_accuracy": results[primary]["validation"]["accuracy"],
        "test_sets": results,
        "decision_policy": policy,
        "pairs": plan.counts(),
    }
    if baseline is not None:
        metrics["init_from"] = _baseline_auroc(baseline, data, eval_sets, results, progress)
    for counts in metrics["pairs"].values():
        counts.pop("writer_ids", None)
    write_json(run_dir / "metrics.json", metrics)
    save_scores(run_dir / "scores.npz", scores)

    accuracy_threshold = float(results[primary]["threshold"])
    figures = _figures(
        figures_dir, scores, val_paper, (accuracy_threshold, threshold), primary, history
    )
    curves = {
        f"{k} reference{'s' if k != '1' else ''}": c
        for k, c in results[primary]["decision"]["calibration"].items()
    }
    if curves:
        figures.append(plot_reliability(curves, figures_dir / "reliability.png"))
    grid_path = figures_dir / "pair_grid.png"
    figures.append(pair_grid(scores[primary], eval_sets[primary], data.bank, grid_path))
    summary = dict(results[primary])
    summary["model"] = title
    summary["test_set"] = primary
    summary["default_operating_point"] = f"{default} (threshold {threshold:.4f})"
    for block in ("validation", "decision"):
        summary.pop(block, None)
    tables = {
        "Paper metrics per test set (genuine + skilled pairs, as Tables 6-7)": [
            {"test set": k.removeprefix("test/"), **r["paper"]} for k, r in results.items()
        ],
        **policy_tables(policy, results[primary]["decision"], primary),
    }
    if "init_from" in metrics:
        tables["Fine-tuning: test AUROC before and after"] = [
            {"test set": k, "before": metrics["init_from"]["test_auroc_before"][k], "after": v}
            for k, v in metrics["init_from"]["test_auroc_after"].items()
        ]
    write_report(run_dir, title, summary, figures, tables)
    return metrics


def _baseline_auroc(
    baseline: torch.nn.Module,
    data: PreparedData,
    eval_sets: Mapping[str, PairSet],
    results: Mapping[str, Any],
    progress: bool,
) -> dict[str, Any]:
    """Test AUROC (genuine vs skilled pairs) of the tower fine-tuning started from."""
    tests = {k: v for k, v in eval_sets.items() if k.startswith("test/")}
    rows = np.unique(np.concatenate([np.concatenate([p.left, p.right]) for p in tests.values()]))
    embeddings = embed_rows(baseline, data.bank, rows, progress=progress)
    before = {}
    for key, pairs in tests.items():
        paper = _without_random(pair_scores(pairs, rows, embeddings))
        before[key] = auroc(paper.distances, paper.labels) if len(set(paper.labels)) > 1 else None
    return {
        "test_auroc_before": before,
        "test_auroc_after": {k: results[k]["paper"]["auroc"] for k in tests},
    }


def save_scores(path: Path, scores: Mapping[str, PairScores]) -> None:
    """Every evaluation set's pair distances and truth, for later plots and analysis."""
    arrays = {}
    for key, sc in scores.items():
        for field in ("distances", "labels", "kinds", "writers"):
            arrays[f"{key}:{field}"] = getattr(sc, field)
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def load_scores(path: str | Path) -> dict[str, PairScores]:
    """Read what :func:`save_scores` wrote (plain arrays; no pickles allowed)."""
    with np.load(path, allow_pickle=False) as data:
        keys = sorted({name.rsplit(":", 1)[0] for name in data.files})
        return {
            k: PairScores(*(data[f"{k}:{f}"] for f in ("distances", "labels", "kinds", "writers")))
            for k in keys
        }


def _without_random(scores: PairScores) -> PairScores:
    keep = scores.kinds != RANDOM
    return PairScores(
        scores.distances[keep], scores.labels[keep], scores.kinds[keep], scores.writers[keep]
    )


def _figures(
    folder: Path,
    scores: Mapping[str, PairScores],
    val_paper: PairScores,
    thresholds: tuple[float, float],
    primary: str,
    history: Mapping[str, Sequence[float]] | None,
) -> list[Path]:
    """The paper's accuracy curve at its threshold, ROC, DET, and the distance
    histograms at the default operating point's threshold (``thresholds``: both)."""
    accuracy_threshold, default_threshold = thresholds
    tests = {k.removeprefix("test/"): v for k, v in scores.items() if k.startswith("test/")}
    t, acc = accuracy_curve(val_paper.distances, val_paper.labels)
    hist_path = folder / "distance_histograms.png"
    paths = [
        plot_accuracy_vs_threshold(
            t, acc, accuracy_threshold, folder / "accuracy_vs_threshold.png"
        ),
        plot_roc(tests, folder / "roc.png"),
        plot_det(tests, folder / "det.png"),
        plot_distance_histograms(scores[primary], default_threshold, hist_path),
    ]
    if history and any(len(v) for v in history.values()):
        paths.append(plot_training_curves(history, folder / "training_curves.png"))
    return paths


def pair_grid(scores: PairScores, pairs: PairSet, bank: ImageBank, path: Path) -> Path:
    """The paper's Figure 3: 3 high, 3 medium and 3 low-distance pairs, ink dark on white."""
    chosen = select_grid_pairs(scores.distances)
    items = [
        (
            255 - bank.take(pairs.left[[i]])[0],
            255 - bank.take(pairs.right[[i]])[0],
            float(scores.distances[i]),
            int(scores.labels[i]),
        )
        for i in chosen
    ]
    return plot_pair_grid(items, path)
