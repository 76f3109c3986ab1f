"""Evaluation: decision thresholds, verification metrics, writer-bootstrap intervals,
figures and the self-contained HTML report."""

from __future__ import annotations

from inkface.evaluation.bootstrap import DEFAULT_CI_METRICS, bootstrap_ci, evaluate
from inkface.evaluation.report import write_report
from inkface.evaluation.thresholds import (
    ThresholdChoice,
    accuracy_curve,
    accuracy_threshold,
    threshold_at_far,
)
from inkface.evaluation.verification import (
    PairScores,
    auroc,
    best_threshold,
    equal_error_rate,
    roc_curve,
    verification_metrics,
)

__all__ = [
    "DEFAULT_CI_METRICS",
    "PairScores",
    "ThresholdChoice",
    "accuracy_curve",
    "accuracy_threshold",
    "auroc",
    "best_threshold",
    "bootstrap_ci",
    "equal_error_rate",
    "evaluate",
    "roc_curve",
    "threshold_at_far",
    "verification_metrics",
    "write_report",
]
