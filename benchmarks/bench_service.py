"""HTTP service throughput and latency, with and without micro-batching (``inkface serve``).

Starts two ``inkface serve`` processes on 127.0.0.1 over the same untrained face head
(untrained weights cost what trained ones do): one with micro-batching
(``--batch-wait-ms 5``), one without (``--batch-wait-ms 0``), same ``--threads``. Both
are warmed up, then each ``--concurrency`` level sends ``--requests`` multipart
``POST /v1/faces/analyze`` requests (JPEGs of one synthetic face that OpenCV's Haar
detector finds; bodies built once) to each server, in ``--rounds`` alternating bursts
(on, off, off, on, ...) so that a change in the machine's other load hits both alike.
Finally both get SIGTERM and must shut down gracefully.

Per row: requests/s (answered 200), p50 / p99 latency seen by the client, errors (any
answer but 200, and transport errors, by kind), faces per model call (the head's
``inkface_batch_size`` histogram in ``/metrics``, sum / count over the cell), the
server's CPU time (system share in brackets) and minor page faults per request
(``/proc/PID/stat``: what a request costs the server, whatever else the machine runs)
and its peak RSS during the cell (VmHWM, reset before each burst). Then the ratios on /
off per concurrency, and each server's RSS at rest after warm-up, its peak under load,
and at rest after the load.

How to read it: a request is decode + Haar detection (worker pool), then the head (the
micro-batched part). Batching wins what a call of k faces saves over k calls of one,
and costs up to ``--batch-wait-ms`` plus the batch's other faces per request, so at
concurrency 1 it can only lose; on a CPU with one intra-op thread per call these CNNs
cost about the same per face at any batch size. Compare ``--head-model
mask_mobilenetv2`` (224x224: the head dominates) and ``--image crop`` (less decoding and
detection per face). The client shares the cores with the servers: requests/s and
latencies are for the whole box (use a quiet machine); CPU ms/req is the server's own.

The allocator matters as much: with glibc's default malloc a server that only ever ran
one face per call gives its activation buffers back to the kernel after each call and
faults them in again on the next (faults/req, the system share of CPU), while one that
has run bigger batches has raised glibc's dynamic thresholds and stops. ``--malloc
default`` is what a plain deployment gets; ``--malloc tuned`` fixes both servers'
thresholds (``TUNED_MALLOC``) so that the ratios show batching alone.

    python benchmarks/bench_service.py                       # smile_cnn, 200 per cell
    python benchmarks/bench_service.py --head-model mask_mobilenetv2
    python benchmarks/bench_service.py --quick --json service.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import httpx
import numpy as np

from inkface.core.atomic import write_json
from inkface.faces.classification.classifier import init_untrained_classifier
from inkface.faces.detection.detectors import get_detector
from inkface.faces.synth.generator import render_single
from inkface.faces.types import crop_face

HEAD = "head"  # the name the head is served under (--run head=RUN_DIR)
ROUTE = "/v1/faces/analyze"
BOUNDARY = "inkface-bench-boundary"
# glibc malloc with fixed thresholds (no dynamic adjustment): freed activation buffers
# stay in the process instead of going back to the kernel after every model call.
TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**27)}


@dataclass
class Cell:
    """One concurrency level against one server (its requests over every round)."""

    batching: bool
    concurrency: int
    requests: int = 0
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    faces: int = 0
    faces_per_call: float | None = None
    peak_rss_mib: float | None = None
    cpu_s: float = 0.0  # the server's user + system CPU time over the cell
    sys_s: float = 0.0  # of which system time (page faults, mmap / munmap)
    faults: int = 0  # the server's minor page faults over the cell

    def rps(self) -> float:
        """Successful (200) requests per second: quick 503s must not look like speed."""
        return (self.requests - sum(self.errors.values())) / self.wall_s

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))


@dataclass
class Server:
    """One ``inkface serve`` process: its flags, memory, how it stopped, its cells."""

    batching: bool
    flags: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)  # added to this environment
    url: str = ""
    pid: int = 0
    rest_rss_mib: float | None = None
    peak_mib: float | None = None  # the highest peak of its cells
    rest_after_mib: float | None = None
    exit_code: int | None = None
    graceful: bool | None = None
    stop_s: float | None = None
    cells: list[Cell] = field(default_factory=list)


# -- inputs ---------------------------------------------------------------------------
def face_images(count: int, mode: str, seed: int, side: int = 160) -> list[bytes]:
    """``count`` JPEGs in which Haar finds exactly one face: whole synthetic scenes
    (``scene``) or tight 96x96 crops around the face (``crop``: cheaper to decode
    and scan, so classification weighs more)."""
    detector, out = get_detector("haar"), []
    for s in range(seed, seed + 50 * count):
        rendered = render_single("smile", "smile", np.random.default_rng(s), side)
        image = rendered.image
        if mode == "crop":
            image = cv2.resize(crop_face(image, rendered.box, 0.35, square=True), (96, 96))
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if ok and len(detector.detect(cv2.imdecode(data, cv2.IMREAD_COLOR))) == 1:
            out.append(data.tobytes())
        if len(out) == count:
            return out
    raise RuntimeError(f"only {len(out)} of {count} synthetic {mode} images had one face")


def multipart(name: str, jpeg: bytes) -> bytes:
    """A multipart/form-data body with one ``image`` file (built once, sent many times)."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    return head.encode() + jpeg + f"\r\n--{BOUNDARY}--\r\n".encode()


# -- the server processes -------------------------------------------------------------
def start(server: Server, run_dir: Path) -> subprocess.Popen:
    """Launch ``inkface serve`` for ``server`` on a free port (logs to ``server.log``)."""
    exe = Path(sys.executable).parent / "inkface"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "inkface"]
    with socket.socket() as sock:  # a free port (the tiny race with others is harmless)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command += ["serve", "--run", f"{HEAD}={run_dir}", "--port", str(port), "--plain-logs"]
    with open(server.log, "ab") as out:
        proc = subprocess.Popen(
            [*command, *server.flags],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **server.env},
        )
    server.url, server.pid = f"http://127.0.0.1:{port}", proc.pid
    return proc


def wait_ready(server: Server, proc: subprocess.Popen, timeout_s: float = 180.0) -> None:
    """Poll ``/readyz`` until 200; a server that exits or never gets ready raises."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{tail(server.log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"server not ready after {timeout_s:.0f} s:\n{tail(server.log)}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


def stop(server: Server, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """SIGTERM, then record the exit code, the time taken and whether the log shows a
    clean shutdown (uvicorn re-raises SIGTERM after it, so the status is -15, not 0)."""
    begin = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    try:
        server.exit_code = proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        server.exit_code = proc.wait()
    server.stop_s = time.perf_counter() - begin
    clean = "Application shutdown complete" in server.log.read_text(errors="replace")
    server.graceful = clean and server.exit_code in (0, -signal.SIGTERM)


def tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def proc_stat(pid: int) -> np.ndarray:
    """[user + system CPU s, system CPU s, minor page faults] of ``pid`` so far (zeros
    without /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return np.zeros(3)
    user, system = (int(fields[k]) / os.sysconf("SC_CLK_TCK") for k in (11, 12))
    return np.array([user + system, system, int(fields[7])])


def rss_mib(pid: int, key: str = "VmRSS") -> float | None:
    """``key`` of ``pid`` in MiB (VmRSS, or VmHWM: the peak); None without /proc."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    return None


def reset_peak(pid: int) -> bool:
    """Reset VmHWM of ``pid`` to its current RSS (Linux clear_refs); False if refused."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    return False


def batch_totals(url: str) -> tuple[float, float]:
    """(sum, count) of the head's ``inkface_batch_size`` histogram."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        for part in ("sum", "count"):
            if line.startswith(f'inkface_batch_size_{part}{{model="{HEAD}"}}'):
                values[part] = float(line.split()[-1])
    return values.get("sum", 0.0), values.get("count", 0.0)


# -- the load -------------------------------------------------------------------------
async def drive(
    cell: Cell, url: str, bodies: Sequence[bytes], requests: int, timeout_s: float
) -> None:
    """``requests`` POSTs from ``cell.concurrency`` workers, each sending its next request
    as soon as its previous one is answered (a closed loop); adds what it saw to ``cell``."""
    concurrency, counter = cell.concurrency, itertools.count()
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout_s) as client:

        async def worker() -> None:
            while (i := next(counter)) < requests:
                t0 = time.perf_counter()
                try:
                    answer = await client.post(
                        ROUTE, content=bodies[i % len(bodies)], headers=headers
                    )
                    kind = None if answer.status_code == 200 else str(answer.status_code)
                    if kind is None:
                        cell.faces += len(answer.json()["faces"])
                except httpx.HTTPError as exc:
                    kind = type(exc).__name__
                if kind is not None:
                    cell.errors[kind] = cell.errors.get(kind, 0) + 1
                cell.latencies_ms.append(1e3 * (time.perf_counter() - t0))
                cell.requests += 1

        begin = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cell.wall_s += time.perf_counter() - begin


def measure(servers: Sequence[Server], bodies: Sequence[bytes], args) -> None:
    """Warm every server up, read its memory at rest, run each concurrency in
    ``args.rounds`` alternating bursts (A B, B A, ...), read its memory again."""
    for server in servers:
        warm = Cell(server.batching, max(args.concurrency))
        asyncio.run(drive(warm, server.url, bodies, args.warmup, args.timeout))
    time.sleep(0.5)
    for server in servers:
        server.rest_rss_mib = rss_mib(server.pid)
    rounds = min(args.rounds, args.requests)
    sizes = [args.requests // rounds + (k < args.requests % rounds) for k in range(rounds)]
    for concurrency in args.concurrency:
        cells = [Cell(s.batching, concurrency) for s in servers]
        before = [batch_totals(s.url) for s in servers]
        for k, size in enumerate(sizes):
            order = range(len(servers)) if k % 2 == 0 else reversed(range(len(servers)))
            for i in order:
                cell, pid = cells[i], servers[i].pid
                stat, reset = proc_stat(pid), reset_peak(pid)
                asyncio.run(drive(cell, servers[i].url, bodies, size, args.timeout))
                cpu_s, sys_s, faults = proc_stat(pid) - stat
                cell.cpu_s, cell.sys_s = cell.cpu_s + cpu_s, cell.sys_s + sys_s
                cell.faults += int(faults)
                peak = rss_mib(pid, "VmHWM") if reset else None
                if peak is not None:
                    cell.peak_rss_mib = max(peak, cell.peak_rss_mib or 0.0)
        for server, cell, (sum0, count0) in zip(servers, cells, before, strict=True):
            sum1, count1 = batch_totals(server.url)
            cell.faces_per_call = (sum1 - sum0) / (count1 - count0) if count1 > count0 else None
            server.cells.append(cell)
    time.sleep(0.5)
    for server in servers:
        server.rest_after_mib = rss_mib(server.pid)
        peaks = [c.peak_rss_mib for c in server.cells if c.peak_rss_mib is not None]
        server.peak_mib = max(peaks) if peaks else None


# -- the report -----------------------------------------------------------------------
def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def format_report(servers: Sequence[Server], args, model: dict) -> str:
    """The markdown table, the on/off ratios and the memory lines."""
    flags = " ".join(servers[0].flags[:-2])  # all but --batch-wait-ms
    lines = [
        f"head {model.get('architecture')} {tuple(model.get('input_size', ()))} on "
        f"{model.get('backend')} {model.get('precision')}, Haar detector; {args.image} "
        f"images, {args.malloc} malloc, {args.requests} requests per cell in {args.rounds} "
        f"rounds; inkface serve {flags} (10 MiB body limit); {os.cpu_count()} cores, "
        f"{platform.machine()}, python {platform.python_version()}",
        "",
        "| concurrency | batching | req/s | p50 ms | p99 ms | errors | faces/call "
        "| CPU ms/req (sys) | faults/req | peak RSS MiB |",
        "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    cells = sorted(
        (c for s in servers for c in s.cells), key=lambda c: (c.concurrency, -c.batching)
    )
    for c in cells:
        kinds = ", ".join(f"{k} x{n}" for k, n in sorted(c.errors.items()))
        errors = f"{sum(c.errors.values())}{f' ({kinds})' if kinds else ''}"
        on = f"on ({args.batch_wait_ms:g} ms)" if c.batching else "off"
        per_call = "n/a" if c.faces_per_call is None else f"{c.faces_per_call:.2f}"
        lines.append(
            f"| {c.concurrency} | {on} | {c.rps():.1f} | {c.pct(50):.1f} | {c.pct(99):.1f} "
            f"| {errors} | {per_call} | {1e3 * c.cpu_s / c.requests:.1f} "
            f"({1e3 * c.sys_s / c.requests:.1f}) | {c.faults / c.requests:.0f} "
            f"| {_mib(c.peak_rss_mib)} |"
        )
    lines += ["", "| concurrency | req/s on/off | p99 on/off | CPU/req on/off |"]
    lines.append("|---:|---:|---:|---:|")
    by_key = {(c.concurrency, c.batching): c for c in cells}
    for concurrency in args.concurrency:
        on, off = by_key.get((concurrency, True)), by_key.get((concurrency, False))
        if on and off:
            cpu = on.cpu_s / on.requests / max(off.cpu_s / off.requests, 1e-9)
            lines.append(
                f"| {concurrency} | {on.rps() / off.rps():.2f} | {on.pct(99) / off.pct(99):.2f} "
                f"| {cpu:.2f} |"
            )
    lines.append("")
    for s in servers:
        answered = sum(c.requests - sum(c.errors.values()) for c in s.cells)
        faces = sum(c.faces for c in s.cells) / answered if answered else 0.0
        stopped = "cleanly" if s.graceful else "NOT cleanly"
        lines.append(
            f"batching {'on' if s.batching else 'off'}: RSS {_mib(s.rest_rss_mib)} MiB at "
            f"rest after warm-up, peak {_mib(s.peak_mib)} MiB under load, "
            f"{_mib(s.rest_after_mib)} MiB at rest after the load; {faces:.2f} faces per "
            f"request; SIGTERM: stopped {stopped} in {s.stop_s:.1f} s (exit status "
            f"{s.exit_code})"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head-model", default="smile_cnn", help="any registered classifier")
    parser.add_argument("--requests", type=int, default=None, help="per cell (default 200)")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated levels")
    parser.add_argument("--rounds", type=int, default=2, help="alternating bursts per cell")
    parser.add_argument("--threads", type=int, default=2, help="server inference threads")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0, help="for batching on")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-pending", type=int, default=32)
    parser.add_argument("--image", choices=("scene", "crop"), default="scene")
    parser.add_argument(
        "--malloc",
        choices=("default", "tuned"),
        default="default",
        help="tuned: both servers run with TUNED_MALLOC (see the docstring)",
    )
    parser.add_argument("--images", type=int, default=8, help="distinct images sent")
    parser.add_argument("--warmup", type=int, default=None, help="requests before timing")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="40 requests per cell")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if args.requests is None:
        args.requests = 40 if args.quick else 200
    if args.warmup is None:
        args.warmup = 2 * max(args.concurrency or [1])
    if args.requests < 1 or args.rounds < 1 or not args.concurrency or min(args.concurrency) < 1:
        parser.error("--requests, --rounds and every --concurrency must be at least 1")
    if args.batch_wait_ms <= 0:
        parser.error("--batch-wait-ms: the batching-on wait must be above 0")
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark and print the report; returns the results (also for ``--json``)."""
    args = parse_args(argv)
    jpegs = face_images(args.images, args.image, args.seed)
    bodies = [multipart(f"face{k}.jpg", data) for k, data in enumerate(jpegs)]
    common = ["--threads", str(args.threads), "--max-batch", str(args.max_batch)]
    common += ["--max-pending", str(args.max_pending)]
    with (
        tempfile.TemporaryDirectory(prefix="bench-service-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        run_dir = init_untrained_classifier(Path(tmp) / "head", args.head_model)
        servers = [
            Server(
                on,
                [*common, "--batch-wait-ms", f"{args.batch_wait_ms if on else 0:g}"],
                Path(tmp) / f"serve-{'on' if on else 'off'}.log",
                TUNED_MALLOC if args.malloc == "tuned" else {},
            )
            for on in (True, False)
        ]
        procs = [start(s, run_dir) for s in servers]  # both load at once, then both wait
        for server, proc in zip(servers, procs, strict=True):
            stack.callback(proc.wait)  # on an error on the way: no server left behind
            stack.callback(proc.kill)  # (a no-op once it has exited)
            wait_ready(server, proc)
        model = httpx.get(f"{servers[0].url}/v1/models", timeout=10).json()["models"][0]
        measure(servers, bodies, args)
        for server, proc in zip(servers, procs, strict=True):
            stop(server, proc)
            if not server.graceful:
                print(f"server did not stop cleanly on SIGTERM:\n{tail(server.log)}")
    report = format_report(servers, args, model)
    print(report, flush=True)
    results = {
        "model": model,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "servers": [{**asdict(s), "log": s.log.name} for s in servers],
        "report": report,
    }
    if args.json is not None:
        write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
