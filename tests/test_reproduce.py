"""The paper experiments as commands, on tiny generated data (slow: trains 3 towers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inkface.papers.deepsign import TABLE7, format_table, reproduce


def test_table_layout_pairs_ours_with_the_paper() -> None:
    rows = [
        {
            "test": "CEDAR/CEDAR",
            "model": m,
            "accuracy": 0.5,
            "precision": None,
            "recall": 0.1,
            "auroc": 0.6,
            **{
                f"paper_{k}": v
                for k, v in zip(
                    ("accuracy", "precision", "recall", "auroc"),
                    TABLE7.paper[("CEDAR/CEDAR", m)],
                    strict=True,
                )
            },
        }
        for m in ("DeepSign", "SigNet", "MobileNetv2")
    ]
    table = format_table(TABLE7, rows, synthetic=True)
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert [line.split("|")[2].strip() for line in lines[1:]] == [
        "SigNet",
        "MobileNetv2",
        "DeepSign",
    ]
    assert "0.50 (0.76)" in table and "n/a (0.70)" in table and "SYNTHETIC" in table


@pytest.mark.slow
def test_reproduce_table7_on_generated_data(tmp_path: Path) -> None:
    result = reproduce(
        "deepsign-table7",
        tmp_path / "t7",
        max_epochs=1,
        cache_dir=tmp_path / "cache",
        synthetic_writers=5,
        progress=False,
    )
    assert result.synthetic and len(result.rows) == 6
    assert {r["model"] for r in result.rows} == {"SigNet", "MobileNetv2", "DeepSign"}
    for name in ("table.md", "metrics.json", "report.html", "roc_models.png"):
        assert (tmp_path / "t7" / name).is_file()
    saved = json.loads((tmp_path / "t7" / "metrics.json").read_text())
    assert saved["synthetic"] is True and len(saved["rows"]) == 6
