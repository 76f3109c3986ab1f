"""The service benchmark on tiny settings: both servers start, answer and stop cleanly."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_service.py"


def load_bench():
    """The script as a module (registered first: its dataclasses look themselves up)."""
    if "bench_service" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_service", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_service"] = module
        spec.loader.exec_module(module)
    return sys.modules["bench_service"]


def test_multipart_body_carries_the_image() -> None:
    bench = load_bench()
    body = bench.multipart("a.jpg", b"\xff\xd8jpeg")
    assert body.startswith(f"--{bench.BOUNDARY}\r\n".encode()) and b"\xff\xd8jpeg\r\n" in body
    assert body.endswith(f"--{bench.BOUNDARY}--\r\n".encode()) and b'filename="a.jpg"' in body


def test_report_rows_ratios_and_memory() -> None:
    bench = load_bench()
    args = bench.parse_args(["--concurrency", "1,4", "--requests", "4"])
    servers = []
    for on, wall in ((True, 1.0), (False, 2.0)):
        server = bench.Server(on, ["--threads", "2", "--batch-wait-ms", "5"], Path("x.log"))
        server.rest_rss_mib, server.peak_mib, server.exit_code = 300.0, 350.0, -15
        server.graceful, server.stop_s = True, 0.2
        for concurrency in (1, 4):
            cell = bench.Cell(on, concurrency, 4, wall, [10.0, 20.0, 30.0, 40.0], faces=4)
            cell.cpu_s, cell.faults, cell.faces_per_call = 0.1, 400, 2.0 if on else 1.0
            if not on and concurrency == 4:
                cell.errors = {"503": 2}
            server.cells.append(cell)
        servers.append(server)
    table = bench.format_report(servers, args, {"architecture": "smile_cnn"})
    assert "| 1 | on (5 ms) | 4.0 | 25.0 | 39.7 | 0 | 2.00 | 25.0 (0.0) | 100 |" in table
    assert "| 4 | off | 1.0 | 25.0 | 39.7 | 2 (503 x2) | 1.00 |" in table
    assert "| 1 | 2.00 | 1.00 | 1.00 |" in table and "| 4 | 4.00 | 1.00 | 1.00 |" in table
    assert "RSS 300 MiB at rest after warm-up, peak 350 MiB under load" in table
    assert table.count("stopped cleanly") == 2


@pytest.mark.slow
def test_bench_service_quick(tmp_path, capsys) -> None:
    bench = load_bench()
    out = tmp_path / "service.json"
    argv = ["--quick", "--requests", "6", "--concurrency", "1,2", "--images", "2"]
    results = bench.main([*argv, "--warmup", "2", "--json", str(out)])
    table = capsys.readouterr().out
    for row in ("| 1 | on (5 ms) |", "| 1 | off |", "| 2 | on (5 ms) |", "| 2 | off |"):
        assert row in table
    assert "| concurrency | req/s on/off | p99 on/off | CPU/req on/off |" in table
    servers = results["servers"]
    assert [s["batching"] for s in servers] == [True, False]
    for server in servers:
        assert server["graceful"] and server["rest_rss_mib"] > 0
        for cell in server["cells"]:
            assert cell["requests"] == 6 and cell["errors"] == {}
            assert cell["faces"] == 6 and cell["faces_per_call"] >= 1.0
            assert len(cell["latencies_ms"]) == 6 and min(cell["latencies_ms"]) > 0
    assert json.loads(out.read_text())["report"] == results["report"]
