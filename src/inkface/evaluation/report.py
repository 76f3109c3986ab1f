"""One self-contained ``report.html`` per run: run summary, metrics with bootstrap
intervals, the biometric FAR/FRR/EER table (overall, skilled, random forgeries) and every
figure embedded as a base64 data URI. No scripts, no external links, all text escaped,
so the file can be mailed or archived on its own (DESIGN.md, "A run folder")."""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from inkface.core.atomic import atomic_open
from inkface.core.errors import InkfaceError

FigureSpec = str | os.PathLike[str] | tuple[str | os.PathLike[str], str]

_BIOMETRIC_KEYS = {
    "far",
    "frr",
    "far_skilled",
    "far_random",
    "eer",
    "eer_threshold",
    "eer_skilled",
    "eer_skilled_threshold",
    "eer_random",
    "eer_random_threshold",
    "auroc_skilled",
    "auroc_random",
}
_NESTED_BLOCKS = {"test", "ci", "val_metrics"}
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_CAPTIONS = {
    "accuracy_vs_threshold": "Validation accuracy against the distance threshold; the "
    "threshold with the highest validation accuracy is applied to the test pairs.",
    "roc": "ROC: true accept rate against false accept rate over all thresholds.",
    "det": "DET: false reject rate against false accept rate on normal-deviate axes; dots "
    "mark the equal error rate.",
    "distance_histograms": "Distance distributions of genuine, skilled-forgery and "
    "random-forgery pairs, with the decision threshold.",
    "pair_grid": "Pairs with high, medium and low embedding distance.",
    "training_curves": "Loss and metrics per epoch.",
}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:980px;
color:#222;padding:0 1em}
h1{margin-bottom:.2em}.meta{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.3em .7em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}
td.ci{color:#555;font-size:.9em}
figure{margin:1.5em 0;text-align:center}figure img{max-width:100%;border:1px solid #ddd}
figcaption{color:#444;font-size:.92em;margin-top:.4em}
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        small_or_huge = value != 0 and not 1e-3 <= abs(value) < 1e6
        return f"{value:.3g}" if small_or_huge else f"{value:.4f}"
    return str(value)


def _fmt_ci(ci: Any) -> str:
    if not ci:
        return ""
    return f"[{_fmt(float(ci[0]))}, {_fmt(float(ci[1]))}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], ci_cols: set[int]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = ' class="ci"' if i in ci_cols else ""
            cells.append(f"<td{cls}>{html.escape(str(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar entries of nested mappings as ('a.b', value); lists are left out."""
    out: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(_flatten(value, name + "."))
        elif value is None or isinstance(value, str | int | float | bool):
            out.append((name, value))
    return out


def _split(metrics: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], Mapping[str, Any]]:
    """(run summary entries, block of metric values) for either an ``evaluate`` result
    (metrics under 'test') or a flat metrics dict."""
    if isinstance(metrics.get("test"), Mapping):
        block = metrics["test"]
        summary = {k: v for k, v in metrics.items() if k not in _NESTED_BLOCKS and k not in block}
        return _flatten(summary), block
    summary = [(k, v) for k, v in _flatten(metrics) if isinstance(v, str)]
    block = {k: v for k, v in metrics.items() if not isinstance(v, str)}
    return summary, block


def _metrics_section(block: Mapping[str, Any], ci: Mapping[str, Any], level: Any) -> str:
    rows = [
        (name, _fmt(value), _fmt_ci(ci.get(name)))
        for name, value in block.items()
        if name not in _BIOMETRIC_KEYS
        and (value is None or isinstance(value, int | float))
        and not isinstance(value, bool)
    ]
    if not rows:
        return ""
    ci_head = f"{round(100 * float(level))}% CI" if level is not None else "CI"
    return "<h2>Metrics</h2>" + _table(("metric", "value", ci_head), rows, {2})


def _biometric_section(block: Mapping[str, Any], ci: Mapping[str, Any]) -> str:
    if "far" not in block:
        return ""
    rows = []
    for label, suffix in (("all forgeries", ""), ("skilled", "_skilled"), ("random", "_random")):
        if suffix:
            pairs = block.get(f"n{suffix}")
        else:
            pairs = (block.get("n_skilled") or 0) + (block.get("n_random") or 0)
        auroc_key = f"auroc{suffix}"
        rows.append(
            (
                label,
                _fmt(pairs),
                _fmt(block.get(f"far{suffix}")),
                _fmt_ci(ci.get(f"far{suffix}")),
                _fmt(block.get("frr")),
                _fmt(block.get(f"eer{suffix}")),
                _fmt_ci(ci.get(f"eer{suffix}")),
                _fmt(block.get(f"eer{suffix}_threshold")),
                _fmt(block.get(auroc_key)),
                _fmt_ci(ci.get(auroc_key)),
            )
        )
    header = ("forgeries", "pairs", "FAR", "CI", "FRR", "EER", "CI", "EER threshold")
    note = (
        f"<p>FAR and FRR at the threshold fixed on validation "
        f"({html.escape(_fmt(block.get('threshold')))}); FRR counts genuine pairs only, "
        f"so it is the same on every row ({html.escape(_fmt(block.get('n_genuine')))} "
        f"genuine pairs).</p>"
    )
    table = _table((*header, "AUROC", "CI"), rows, {3, 6, 9})
    return "<h2>Biometric error rates</h2>" + note + table


def _figure(spec: FigureSpec) -> str:
    path, caption = spec if isinstance(spec, tuple) else (spec, None)
    path = Path(path)
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise InkfaceError(f"report figure {path} must be a .png or .jpg file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InkfaceError(f"cannot read report figure {path}: {exc.strerror}") from exc
    if caption is None:
        caption = next((c for k, c in _CAPTIONS.items() if path.stem.startswith(k)), path.stem)
    encoded = base64.b64encode(data).decode("ascii")
    alt = html.escape(path.stem)
    return (
        f'<figure><img alt="{alt}" src="data:{mime};base64,{encoded}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _extra(title: str, rows: Sequence[Mapping[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    body = [[_fmt(row.get(c)) for c in columns] for row in rows]
    return f"<h2>{html.escape(title)}</h2>" + _table(columns, body, set())


def write_report(
    run_dir: str | os.PathLike[str],
    title: str,
    metrics: Mapping[str, Any],
    figures: Sequence[FigureSpec] = (),
    extra_tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Path:
    """Write ``run_dir/report.html`` atomically and return its path.

    ``metrics`` is an :func:`~inkface.evaluation.bootstrap.evaluate` result (or a flat
    dict of metric values, plus optional 'model' / 'recipe' entries for the header);
    ``figures`` are image paths or (path, caption) pairs, embedded in the file;
    ``extra_tables`` maps a heading to rows (dicts) such as a comparison with the paper.
    """
    summary, block = _split(metrics)
    ci = metrics.get("ci") or {}
    level = metrics.get("ci_level", 0.95 if ci else None)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">Generated {html.escape(stamp)} by inkface</p>',
    ]
    if summary:
        rows = [(k, _fmt(v)) for k, v in summary]
        parts.append("<h2>Run</h2>" + _table(("item", "value"), rows, set()))
    parts.append(_metrics_section(block, ci, level))
    parts.append(_biometric_section(block, ci))
    for heading, rows in (extra_tables or {}).items():
        parts.append(_extra(heading, rows))
    if figures:
        parts.append("<h2>Figures</h2>")
        parts.extend(_figure(spec) for spec in figures)
    parts.append("</body></html>\n")
    target = Path(run_dir) / "report.html"
    with atomic_open(target, "w", encoding="utf-8") as handle:
        handle.write("\n".join(p for p in parts if p))
    return target
