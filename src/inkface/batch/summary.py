"""The summary JSON written beside a batch job's rows: what was scored, what failed and
why, label counts per head, and throughput."""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from inkface.batch.rows import FAILED, NO_FACE, OK

MAX_LISTED_FAILURES = 1000  # the rows hold every failure; the summary lists the first


@dataclass
class BatchSummary:
    """Counts over every row of ``out`` (earlier runs' rows included), plus this run's
    own work: ``scored`` inputs in ``seconds`` (``inputs_per_second``); ``skipped``
    inputs were already in ``out`` (resume). ``peak_rss_mb``: the largest resident set
    of this process and of its local worker processes (Ray's actors and daemons, which
    are not its children, are not counted)."""

    out: str
    mode: str
    engine: str
    workers: int
    inputs: int = 0
    skipped: int = 0
    scored: int = 0
    seconds: float = 0.0
    inputs_per_second: float = 0.0
    rows: int = 0
    faces: int = 0
    no_face: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    peak_rss_mb: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SummaryCounter:
    """Adds up rows piece by piece (:func:`inkface.batch.output.finish` streams them)."""

    def __init__(self, summary: BatchSummary, heads: list[str]) -> None:
        self.summary = summary
        self.heads = heads
        self._labels: dict[str, collections.Counter] = {h: collections.Counter() for h in heads}

    def __call__(self, table: pa.Table) -> None:
        s = self.summary
        status = table.column("status")
        s.rows += table.num_rows
        s.faces += int(pc.sum(pc.equal(status, OK)).as_py() or 0) if s.mode == "faces" else 0
        s.no_face += int(pc.sum(pc.equal(status, NO_FACE)).as_py() or 0)
        failed = table.filter(pc.equal(status, FAILED))
        s.failed += failed.num_rows
        room = MAX_LISTED_FAILURES - len(s.failures)
        if room > 0 and failed.num_rows:
            columns = ["input", "error"] + (["frame"] if "frame" in table.column_names else [])
            for row in failed.select(columns).slice(0, room).to_pylist():
                s.failures.append({k: v for k, v in row.items() if v is not None})
        for head in self.heads:
            values = table.column(head).drop_null().to_pylist()
            self._labels[head].update(values)

    def labels(self) -> dict[str, dict[str, int]]:
        return {h: dict(sorted(c.items())) for h, c in self._labels.items()}
