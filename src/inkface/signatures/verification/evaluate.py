"""Evaluate a trained tower on a pair plan: section 5.2 plus biometric reporting.

Each image needed by the validation and test pairs is embedded once; pair distances
are then read from the embedding table. The threshold is the one maximising accuracy
on the validation genuine + skilled pairs (as the paper) and is applied unchanged to
every test set. Per test set we report the paper's four metrics on genuine + skilled
pairs (comparable with Tables 6-7) and the full biometric record (FAR / FRR / EER with
skilled and random forgeries apart, bootstrap intervals over writers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from inkface.core.atomic import atomic_path, write_json
from inkface.evaluation.bootstrap import evaluate
from inkface.evaluation.plots import (
    plot_accuracy_vs_threshold,
    plot_det,
    plot_distance_histograms,
    plot_pair_grid,
    plot_roc,
    plot_training_curves,
    select_grid_pairs,
)
from inkface.evaluation.report import write_report
from inkface.evaluation.thresholds import accuracy_curve
from inkface.evaluation.verification import PairScores, verification_metrics
from inkface.signatures.data.bank import ImageBank
from inkface.signatures.data.pairs import RANDOM, PairSet
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
        range(0, len(rows), batch_size), desc="embedding", unit="batch", disable=not progress
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
) -> dict[str, Any]:
    """Write ``metrics.json``, figures and ``report.html`` into ``run_dir``; return metrics."""
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
    threshold = results[primary]["threshold"]
    metrics = {
        "title": title,
        "threshold": threshold,
        "primary_test_set": primary,
        "validation_accuracy": results[primary]["validation"]["accuracy"],
        "test_sets": results,
        "pairs": plan.counts(),
    }
    for counts in metrics["pairs"].values():
        counts.pop("writer_ids", None)
    write_json(run_dir / "metrics.json", metrics)
    save_scores(run_dir / "scores.npz", scores)

    figures = _figures(figures_dir, scores, val_paper, threshold, primary, history)
    grid_path = figures_dir / "pair_grid.png"
    figures.append(pair_grid(scores[primary], eval_sets[primary], data.bank, grid_path))
    summary = dict(results[primary])
    summary["model"] = title
    summary["test_set"] = primary
    summary.pop("validation", None)
    tables = {
        "Paper metrics per test set (genuine + skilled pairs, as Tables 6-7)": [
            {"test set": k.removeprefix("test/"), **r["paper"]} for k, r in results.items()
        ]
    }
    write_report(run_dir, title, summary, figures, tables)
    return metrics


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
    threshold: float,
    primary: str,
    history: Mapping[str, Sequence[float]] | None,
) -> list[Path]:
    tests = {k.removeprefix("test/"): v for k, v in scores.items() if k.startswith("test/")}
    t, acc = accuracy_curve(val_paper.distances, val_paper.labels)
    paths = [
        plot_accuracy_vs_threshold(t, acc, threshold, folder / "accuracy_vs_threshold.png"),
        plot_roc(tests, folder / "roc.png"),
        plot_det(tests, folder / "det.png"),
        plot_distance_histograms(scores[primary], threshold, folder / "distance_histograms.png"),
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
