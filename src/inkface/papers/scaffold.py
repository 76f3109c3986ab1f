"""What every paper reproduction shares: its run settings, the "ours (paper)" table cells,
the synthetic-data notices and the output folder (table.md, metrics.json, report.html).

An experiment function receives a :class:`ReproductionRun`, trains and evaluates, builds
its table with :func:`cell` and :func:`markdown_table`, and ends with
:meth:`ReproductionRun.finish`, which writes the results atomically and returns a
:class:`Reproduction`. Without dataset roots a run trains small on generated data; the
printed notice and the table's note both say so, worded the same for every experiment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inkface.core.atomic import atomic_open, write_json
from inkface.evaluation.report import FigureSpec, write_report


@dataclass(frozen=True)
class Reproduction:
    """One finished reproduction: its rows, the printable table and where it was written."""

    name: str
    rows: list[dict[str, Any]]
    table: str
    out_dir: Path
    synthetic: bool


@dataclass(frozen=True)
class ReproductionRun:
    """Settings shared by every experiment: where to write, which data, how to report.

    ``roots`` maps dataset names to folders; empty means a small synthetic dry run on
    generated data (described by ``synthetic_data``).
    """

    name: str
    paper: str
    out: Path
    roots: Mapping[str, str] = field(default_factory=dict)
    cache_dir: Path | None = None
    progress: bool = True
    synthetic_data: str = "generated data"

    @property
    def synthetic(self) -> bool:
        return not self.roots

    @property
    def data_dir(self) -> Path:
        """Where a synthetic run generates (and later reuses) its data."""
        return self.out / "data"

    def finish(
        self,
        rows: Sequence[Mapping[str, Any]],
        table: str,
        figures: Sequence[FigureSpec] = (),
        report_rows: Sequence[Mapping[str, Any]] | None = None,
    ) -> Reproduction:
        """Write ``table.md``, ``metrics.json`` and ``report.html`` (each atomically).

        ``report_rows`` default to ``rows`` without their nested values (lists, dicts).
        """
        if self.synthetic:
            table = f"{table}\n\n{synthetic_note(self.synthetic_data)}"
        rows = [dict(row) for row in rows]
        self.out.mkdir(parents=True, exist_ok=True)
        with atomic_open(self.out / "table.md", "w", encoding="utf-8") as handle:
            handle.write(table + "\n")
        write_json(
            self.out / "metrics.json",
            {"experiment": self.name, "synthetic": self.synthetic, "rows": rows},
        )
        if report_rows is None:
            report_rows = [flat_row(row) for row in rows]
        data = (
            "synthetic" if self.synthetic else ", ".join(f"{k}={v}" for k, v in self.roots.items())
        )
        write_report(
            self.out,
            f"inkface reproduce {self.name}{' (synthetic)' if self.synthetic else ''}",
            {"experiment": self.name, "paper": self.paper, "data": data},
            figures,
            {"Results": list(report_rows)},
        )
        return Reproduction(self.name, rows, table, self.out, self.synthetic)


def cell(ours: float | None, paper: float | None = None, digits: int = 2) -> str:
    """``ours (paper)``, ``n/a`` for a value we could not compute, ``ours`` without a paper."""
    text = "n/a" if ours is None else f"{float(ours):.{digits}f}"
    return text if paper is None else f"{text} ({float(paper):.{digits}f})"


def markdown_table(head: Sequence[str], body: Iterable[Sequence[object]]) -> list[str]:
    """The lines of a Markdown table: header, rule, one line per row."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.extend("| " + " | ".join(str(c) for c in row) + " |" for row in body)
    return lines


def flat_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` without nested values, for the report's table."""
    return {k: v for k, v in row.items() if not isinstance(v, dict | list)}


def synthetic_notice(synthetic_data: str) -> str:
    """Printed before a run without dataset roots starts."""
    return f"no dataset roots given: running small on {synthetic_data} (synthetic dry run)"


def synthetic_note(synthetic_data: str) -> str:
    """Closes the table of a run without dataset roots."""
    return (
        f"NOTE: no dataset roots were given, so this ran on SYNTHETIC data ({synthetic_data}) "
        "with very short training; the numbers only show that the protocol runs end to end."
    )
