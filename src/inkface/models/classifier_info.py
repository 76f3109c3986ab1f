"""``inkface info NAME`` text for the face classifiers: ``describe_model``'s table plus the
classifier metadata (normalisation, classes) and the paper's figures beside ours
(smile paper Table 7.2, FER paper Table II with information density, standard ImageNet
counts for the baselines), which each registration supplies as ``paper_comparison``.
"""

from __future__ import annotations

from inkface.models.registry import get_model, model_info
from inkface.models.summary import format_summary, summarize


def describe_classifier(name: str) -> str:
    """Metadata, layer table, parameters, MACs, saved size and the paper comparison of
    ``name`` built with its default options; works for any registered model."""
    spec = model_info(name)
    model = get_model(name)
    summary = summarize(model, (spec.in_channels, *spec.input_size))
    parts = [f"{spec.name}: {spec.description}"]
    if spec.paper_reference:
        parts.append(f"reference: {spec.paper_reference}")
    h, w = spec.input_size
    parts.append(f"input: {spec.in_channels} x {h} x {w}, normalization: {spec.normalization}")
    if spec.class_names:
        parts.append(f"classes ({len(spec.class_names)}): {', '.join(spec.class_names)}")
    parts += ["", format_summary(summary)]
    if spec.paper_comparison is not None:
        parts += ["", spec.paper_comparison(model)]
    return "\n".join(parts)
