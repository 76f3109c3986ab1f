"""``inkface.batch.predict``: score a folder or manifest with trained runs into one
Parquet or CSV file plus a summary JSON, on this machine or on Ray
(``inkface batch`` is this call)."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tqdm import tqdm

from inkface.batch.engines import ENGINES, Engine, run_local, run_ray
from inkface.batch.inputs import BatchInput, list_inputs
from inkface.batch.output import PartWriter, check_output, done_keys, finish
from inkface.batch.scoring import BatchPredictor
from inkface.batch.summary import BatchSummary, SummaryCounter
from inkface.core.atomic import check_output_path, write_json
from inkface.core.errors import InkfaceError
from inkface.core.progress import show_bars
from inkface.training.run_folder import check_count

DEFAULT_BATCH_SIZE = 32


def summary_path(out: str | Path) -> Path:
    """``results.parquet`` -> ``results.summary.json`` (beside it)."""
    out = Path(out)
    return out.with_name(f"{out.stem}.summary.json")


def pending_inputs(
    source: str | Path | list[BatchInput], predictor: BatchPredictor, out: str | Path
) -> tuple[list[BatchInput], int]:
    """The inputs still to score (those of ``source`` not yet in ``out``) and how many
    were skipped as already written."""
    inputs = source if isinstance(source, list) else list_inputs(source, predictor.mode)
    done = done_keys(out)
    todo = [item for item in inputs if item.key not in done]
    return todo, len(inputs) - len(todo)


def predict(
    source: str | Path | list[BatchInput],
    runs: Mapping[str, str | Path],
    out: str | Path,
    *,
    engine: Engine = "local",
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    ray_address: str | None = None,
    gpus_per_worker: float = 0.0,
    summary: str | Path | None = None,
    progress: bool = False,
    **predictor_options: Any,
) -> BatchSummary:
    """Score every input of ``source`` (folder, manifest, or a list of
    :class:`BatchInput`) with ``runs`` (name -> run folder) and write the rows to ``out``
    (``.parquet`` or ``.csv``) and a summary JSON (default ``<out stem>.summary.json``).

    ``engine``: ``local`` (``workers`` processes) or ``ray`` (``workers`` Ray actors,
    ``ray_address`` for a cluster, ``gpus_per_worker`` GPUs each). Rerunning with the
    same ``out`` skips inputs already written. ``predictor_options`` go to
    :class:`BatchPredictor` (``detector``, ``every_n_frames``, ``backend``, ``threads``,
    ``margin``, ``operating_point``...). Settings, runs and outputs are checked before
    any input is read; bad inputs become ``failed`` rows.
    """
    if engine not in ENGINES:
        raise InkfaceError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    check_count("workers", workers)
    check_count("batch_size", batch_size)
    if gpus_per_worker < 0 or gpus_per_worker != gpus_per_worker:
        raise InkfaceError(f"gpus_per_worker: must be >= 0, got {gpus_per_worker}")
    target = check_output(out)
    report = check_output_path(summary or summary_path(target), "--summary")
    if workers > 1 or engine == "ray":
        predictor_options.setdefault("threads", 1)  # one core per worker
    predictor = BatchPredictor(runs, **predictor_options)
    todo, skipped = pending_inputs(source, predictor, target)
    result = BatchSummary(str(target), predictor.mode, engine, workers)
    result.inputs, result.skipped = len(todo) + skipped, skipped
    start = time.perf_counter()
    if todo:
        if engine == "ray":
            tables = run_ray(predictor, todo, batch_size, workers, ray_address, gpus_per_worker)
        else:
            tables = run_local(predictor, todo, batch_size, workers)
        writer: PartWriter | None = None  # the parts folder appears with the first rows
        with tqdm(total=len(todo), unit="input", disable=not show_bars(progress)) as bar:
            for table in tables:
                writer = writer or PartWriter(target, predictor.schema)
                writer.write(table)
                bar.update(_inputs_in(table))
        if writer is not None:
            writer.flush()
    result.scored = len(todo)
    result.seconds = round(time.perf_counter() - start, 3)
    result.inputs_per_second = round(len(todo) / result.seconds, 2) if result.seconds else 0.0
    label_columns = [n for n in predictor.schema.names if n.endswith("_label") or n == "decision"]
    counter = SummaryCounter(result, label_columns)
    finish(target, predictor.schema, counter)
    result.labels = counter.labels()
    result.peak_rss_mb = _peak_rss_mb()
    write_json(report, result.to_dict())
    return result


def _inputs_in(table: Any) -> int:
    """Distinct inputs of a chunk's rows (a bar step per input, not per face)."""
    column = table.column("input").to_pylist()
    return len(dict.fromkeys(column))


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this process and its finished children, in MB."""
    if sys.platform == "win32":
        return None
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)
