"""The batch benchmark on tiny settings: every row present, sane positive numbers, never
timing thresholds."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_batch.py"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def load_bench():
    """The script as a module (registered first: its dataclasses look themselves up)."""
    if "bench_batch" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_batch", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_batch"] = module
        spec.loader.exec_module(module)
    return sys.modules["bench_batch"]


def test_variants_in_process_and_the_report(tmp_path: Path) -> None:
    """The naive loop and the batch API score the same inputs and find the same faces."""
    bench = load_bench()
    argv = ["--images", "3", "--pairs", "4", "--signature-writers", "1", "--sig-size", "64x80"]
    args = bench.parse_args(argv)
    bench.prepare(tmp_path, args)
    results = [
        bench.run_variant(tmp_path, task, variant, threads=1, batch_size=2)
        for task in ("faces", "pairs")
        for variant in ("naive", "local1")
    ]
    faces_naive, faces_batch, pairs_naive, pairs_batch = results
    assert (faces_naive.inputs, faces_batch.inputs) == (3, 3)
    assert faces_naive.ok == faces_batch.ok >= 1  # Haar finds the synthetic faces
    assert (pairs_naive.inputs, pairs_naive.ok) == (pairs_batch.inputs, pairs_batch.ok) == (4, 4)
    assert all(r.wall_s > 0 and r.per_second > 0 and r.max_rss_mib > 0 for r in results)
    assert (tmp_path / "out" / "pairs-local1.parquet").is_file()
    table = bench.format_report(results, bench.header_lines(args))
    assert "untrained DeepSign at 64x80" in table and "torch threads 1" in table
    assert (
        "| faces | naive | loop | 1 | 3 |" in table
        and "| pairs | local1 | local | 1 | 4 |" in table
    )
    assert table.count("| 1.00x |") == 2  # each naive row against itself


def test_process_tree_memory_and_failed_rows() -> None:
    bench = load_bench()
    if Path("/proc/self/status").exists():
        assert os.getpid() in bench.descendants(os.getpid())
        assert bench.memory_mib(os.getpid()) > 0
    failed = bench.Result("faces", "ray2", error="exit 2: --engine ray needs Ray")
    table = bench.format_report([failed], [])
    assert "| faces | ray2 | ray | 2 | failed: exit 2: --engine ray needs Ray |" in table
    with pytest.raises(SystemExit):
        bench.parse_args(["--variants", "naive,local9"])


@pytest.mark.slow
def test_bench_batch_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The script as run: each variant in its own process, the table and the JSON."""
    bench = load_bench()
    out = tmp_path / "batch.json"
    argv = ["--images", "8", "--pairs", "20", "--variants", "naive,local1"]
    results = bench.main([*argv, "--signature-writers", "1", "--json", str(out)])
    table = capsys.readouterr().out
    for row in (
        "| faces | naive |",
        "| faces | local1 |",
        "| pairs | naive |",
        "| pairs | local1 |",
    ):
        assert row in table
    assert [(r.task, r.variant) for r in results] == [
        ("faces", "naive"),
        ("faces", "local1"),
        ("pairs", "naive"),
        ("pairs", "local1"),
    ]
    for r in results:
        assert r.error is None and r.inputs == (8 if r.task == "faces" else 20)
        assert r.wall_s > 0 and r.max_rss_mib > 0 and r.load is not None
        if Path("/proc").is_dir():
            assert r.tree_peak_mib > 0 and r.processes >= 1
    assert json.loads(out.read_text())["report"] in table
