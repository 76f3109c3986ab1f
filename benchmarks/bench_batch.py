"""Batch scoring throughput: ``inkface batch`` (local and Ray engines) against a naive loop.

Two jobs, each scored by every variant side by side in one run of this script:

* **faces**: ``--images`` generated face pictures (``inkface.faces.synth``,
  ``--side`` pixels square, PNG, one face each, alternately smiling; Haar finds about
  three in four) in one folder, an untrained ``--head-model`` face head (untrained
  weights cost what trained ones do);
* **pairs**: a ``questioned,reference`` CSV manifest of ``--pairs`` signature pairs
  drawn from a few hundred generated CEDAR-layout signatures (``inkface.signatures.synth``,
  half genuine, half skilled forgeries), an untrained DeepSign verifier at
  ``--sig-size`` (default 150x180: half DeepSign's 300x360 recipe size per side, a
  quarter of its pixels; ``--sig-size 300x360`` is the recipe size, about 5x the CPU
  time per pair, over an hour per variant for 20,000 pairs on one core).

Variants: ``naive`` is the loop a user would write: ``load_predictor(run)`` once, then
per image ``cv2.imread``, Haar detection, and ``predict([crop])`` for each face one at a
time (faces), or ``verifier.verify([reference], questioned)`` per pair (pairs); results
kept in a list, nothing written. ``local1`` / ``local2`` / ``ray1`` / ``ray2`` are
``inkface.batch.predict(..., engine=..., workers=...)`` writing Parquet to a fresh
path. Every variant gets the same ``--threads`` runtime threads per predictor (default
1: one core per worker) and runs in its own process (this script re-invoked with
``--variant``), so no variant inherits another's warm caches or memory.

Per row: ``ok``, the faces found or pairs verified (equal in every variant: the same
work); wall seconds of the scoring call (model loading, spawning workers, starting Ray
and writing the output included; imports of the variant's own process not), inputs/s
and its ratio to ``naive``; *max RSS*: the largest single process (``getrusage`` of the
variant's process and the children it waited for); *tree PSS*: the peak, sampled every
0.2 s, of the summed PSS (``/proc/PID/smaps_rollup``; RSS where unreadable) of the
variant's whole process tree, pool workers and Ray's GCS, raylet and actor processes
included, with the largest number of processes seen; *load*: the machine's 1-minute
load average when the variant started (on a shared machine the ratios move with it).

    python benchmarks/bench_batch.py                       # 2,000 faces, 20,000 pairs
    python benchmarks/bench_batch.py --quick               # 200 faces, 2,000 pairs
    python benchmarks/bench_batch.py --tasks faces --variants naive,local1,local2
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
import torch

import inkface.batch as batch
from inkface import load_predictor
from inkface.batch.api import DEFAULT_BATCH_SIZE
from inkface.core.atomic import write_json
from inkface.core.labels import SMILE_CLASSES
from inkface.faces.classification.classifier import init_untrained_classifier
from inkface.faces.detection.bench import system_info
from inkface.faces.detection.detectors import get_detector
from inkface.faces.synth.generator import render_single
from inkface.faces.types import crop_face
from inkface.models import get_model
from inkface.models.run import RunMeta, save_run_model
from inkface.signatures.synth.generator import generate_signatures
from inkface.signatures.verification.embedder import VERIFICATION_TASK

TASKS = ("faces", "pairs")
# variant -> (engine, workers); engine None is the naive per-image loop
VARIANTS: dict[str, tuple[str | None, int]] = {
    "naive": (None, 1),
    "local1": ("local", 1),
    "local2": ("local", 2),
    "ray1": ("ray", 1),
    "ray2": ("ray", 2),
}
IMAGES, SIGNATURES, PAIRS = "images", "signatures", "pairs.csv"
RUNS = {"faces": "runs/face", "pairs": "runs/verifier"}
PER_WRITER = 12  # genuine and forged signatures generated per writer
MARGIN = 0.1  # the face crop margin of inkface batch (BatchPredictor's default)
SAMPLE_S = 0.2


@dataclass
class Result:
    """One variant of one task."""

    task: str
    variant: str
    inputs: int = 0
    ok: int = 0  # faces found (faces) or pairs verified (pairs)
    wall_s: float = 0.0
    max_rss_mib: float | None = None  # the largest single process
    tree_peak_mib: float | None = None  # summed PSS of the process tree, sampled
    processes: int = 0  # the most processes seen in the tree at once
    load: float | None = None  # 1-minute load average at the start
    error: str | None = None

    @property
    def per_second(self) -> float:
        return self.inputs / self.wall_s if self.wall_s > 0 else 0.0


# -- inputs and runs ------------------------------------------------------------------
def make_faces(folder: Path, count: int, side: int, seed: int) -> None:
    """``count`` PNG pictures of one synthetic face each, alternately smiling."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        label = SMILE_CLASSES[i % 2]
        image = render_single("smile", label, np.random.default_rng(seed + i), side).image
        ok, data = cv2.imencode(".png", image)
        assert ok
        (folder / f"face_{i:06d}.png").write_bytes(data.tobytes())


def make_pairs(work: Path, count: int, writers: int, seed: int) -> Path:
    """Generated CEDAR-layout signatures and a manifest of ``count`` pairs: a genuine
    reference of a writer against another genuine or a skilled forgery of the same."""
    root = work / SIGNATURES
    generate_signatures(
        root, writers, PER_WRITER, PER_WRITER, "cedar", seed, workers=1, progress=False
    )
    rng = np.random.default_rng(seed)
    lines = ["questioned,reference"]
    for _ in range(count):
        writer = int(rng.integers(1, writers + 1))
        ref, other = (int(i) for i in rng.choice(np.arange(1, PER_WRITER + 1), 2, replace=False))
        kind = ("full_forg", "forgeries") if rng.random() < 0.5 else ("full_org", "original")
        questioned = root / kind[0] / f"{kind[1]}_{writer}_{other}.png"
        lines.append(f"{questioned},{root / 'full_org' / f'original_{writer}_{ref}.png'}")
    manifest = work / PAIRS
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def make_runs(work: Path, head_model: str, sig_size: tuple[int, int], seed: int) -> None:
    """An untrained face head and an untrained DeepSign verifier at ``sig_size``."""
    init_untrained_classifier(work / RUNS["faces"], head_model, seed=seed)
    torch.manual_seed(seed)
    meta = RunMeta("deepsign", {}, sig_size, {"style": "cedar"}, 0.6, task=VERIFICATION_TASK)
    save_run_model(work / RUNS["pairs"], get_model("deepsign"), meta)


def prepare(work: Path, args: argparse.Namespace) -> None:
    make_runs(work, args.head_model, args.sig_size, args.seed)
    if "faces" in args.tasks:
        make_faces(work / IMAGES, args.images, args.side, args.seed)
    if "pairs" in args.tasks:
        make_pairs(work, args.pairs, args.signature_writers, args.seed)


# -- the variants (run in the variant's own process) ----------------------------------
def naive_faces(work: Path, threads: int) -> tuple[int, int]:
    head = load_predictor(work / RUNS["faces"], threads=threads)
    detector = get_detector("haar")
    paths = sorted((work / IMAGES).glob("*.png"))
    results = []
    for path in paths:
        image = cv2.imread(str(path))
        for face in detector.detect(image):
            results.append(head.predict([crop_face(image, face.box, MARGIN, square=True)])[0])
    return len(paths), len(results)


def naive_pairs(work: Path, threads: int) -> tuple[int, int]:
    verifier = load_predictor(work / RUNS["pairs"], threads=threads)
    with open(work / PAIRS, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    results = [verifier.verify([row["reference"]], row["questioned"]) for row in rows]
    return len(rows), len(results)


def batch_variant(
    work: Path, task: str, variant: str, threads: int, batch_size: int
) -> tuple[int, int]:
    engine, workers = VARIANTS[variant]
    out = work / "out" / f"{task}-{variant}.parquet"
    shutil.rmtree(out.with_name(f"{out.name}.parts"), ignore_errors=True)  # a fresh output
    out.unlink(missing_ok=True)
    source = work / (IMAGES if task == "faces" else PAIRS)
    summary = batch.predict(
        source,
        {"head": work / RUNS[task]},
        out,
        engine=engine,  # type: ignore[arg-type]
        workers=workers,
        threads=threads,
        batch_size=batch_size,
    )
    ok = summary.faces if task == "faces" else summary.scored - summary.failed
    return summary.scored, ok


def run_variant(work: Path, task: str, variant: str, threads: int, batch_size: int) -> Result:
    """Score ``task`` with ``variant`` in this process; wall time and largest RSS."""
    start = time.perf_counter()
    if VARIANTS[variant][0] is not None:
        inputs, ok = batch_variant(work, task, variant, threads, batch_size)
    elif task == "faces":
        inputs, ok = naive_faces(work, threads)
    else:
        inputs, ok = naive_pairs(work, threads)
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return Result(task, variant, inputs, ok, wall, max(own, children) / 1024)


# -- measuring a variant's process tree -----------------------------------------------
def descendants(root: int) -> list[int]:
    """``root`` and every process below it (from ``/proc/*/stat``; [] without /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited while we looked
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found if Path(f"/proc/{root}").exists() else []


def memory_mib(pid: int) -> float:
    """Proportional set size of ``pid`` (shared pages split among their users), else RSS."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
        except OSError:
            continue
    return 0.0


def measure(work: Path, task: str, variant: str, args: argparse.Namespace) -> Result:
    """Run one variant in a child process, sampling its process tree's memory."""
    result_file = work / "results" / f"{task}-{variant}.json"
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.unlink(missing_ok=True)
    argv = [
        sys.executable, str(Path(__file__).resolve()), "--variant", variant, "--task", task,
        "--work", str(work), "--threads", str(args.threads),
        "--batch-size", str(args.batch_size), "--result", str(result_file),
    ]  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    log = work / "results" / f"{task}-{variant}.log"
    peak, processes = None, 0
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        while True:
            try:
                proc.wait(SAMPLE_S)
                break
            except subprocess.TimeoutExpired:
                pids = descendants(proc.pid)
                if pids:
                    total = sum(memory_mib(pid) for pid in pids)
                    peak, processes = max(peak or 0.0, total), max(processes, len(pids))
    if proc.returncode != 0 or not result_file.is_file():
        lines = log.read_text(errors="replace").strip().splitlines() or ["no output"]
        return Result(task, variant, load=load, error=f"exit {proc.returncode}: {lines[-1]}")
    result = Result(**json.loads(result_file.read_text()))
    result.tree_peak_mib, result.processes, result.load = peak, processes, load
    return result


# -- the report -----------------------------------------------------------------------
def _num(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_report(results: Sequence[Result], header: Sequence[str]) -> str:
    """The markdown table (one row per task and variant) and the scaling lines."""
    lines = [*header, ""]
    lines.append(
        "| task | variant | engine | workers | inputs | ok | wall s | inputs/s | vs naive "
        "| max RSS MiB | tree PSS MiB (procs) | load |"
    )
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    by_key = {(r.task, r.variant): r for r in results}
    for r in results:
        engine, workers = VARIANTS[r.variant]
        if r.error:
            failed = f"| failed: {r.error} |||||||"
            lines.append(f"| {r.task} | {r.variant} | {engine or 'loop'} | {workers} {failed}")
            continue
        naive = by_key.get((r.task, "naive"))
        ratio = f"{r.per_second / naive.per_second:.2f}x" if naive and not naive.error else "n/a"
        tree = f"{_num(r.tree_peak_mib)} ({r.processes})"
        lines.append(
            f"| {r.task} | {r.variant} | {engine or 'loop'} | {workers} | {r.inputs:,} "
            f"| {r.ok:,} | {r.wall_s:.1f} | {r.per_second:.1f} | {ratio} "
            f"| {_num(r.max_rss_mib)} | {tree} | {_num(r.load, 1)} |"
        )
    lines.append("")
    for task in dict.fromkeys(r.task for r in results):
        for engine in ("local", "ray"):
            one, two = by_key.get((task, f"{engine}1")), by_key.get((task, f"{engine}2"))
            if one and two and not one.error and not two.error:
                memory = (
                    f", tree PSS {two.tree_peak_mib / one.tree_peak_mib:.2f}x"
                    if one.tree_peak_mib and two.tree_peak_mib
                    else ""
                )
                lines.append(
                    f"{task} {engine}: 2 workers / 1 worker = "
                    f"{two.per_second / one.per_second:.2f}x inputs/s{memory}"
                )
    return "\n".join(lines)


def header_lines(args: argparse.Namespace) -> list[str]:
    info = system_info(args.threads)
    for package in ("ray", "pyarrow", "inkface"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    height, width = args.sig_size
    return [
        f"faces: {args.images:,} synthetic {args.side}x{args.side} PNGs, Haar detector, "
        f"untrained {args.head_model}; pairs: {args.pairs:,} pairs over "
        f"{args.signature_writers * 2 * PER_WRITER} generated signatures, untrained "
        f"DeepSign at {height}x{width}; batch size {args.batch_size}, {args.threads} "
        f"runtime thread(s) per predictor; {platform.machine()} {platform.system()}",
        "; ".join(f"{k} {v}" for k, v in info.items()),
    ]


def _uptime() -> str:
    if not hasattr(os, "getloadavg"):
        return "load n/a"
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


# -- command line ---------------------------------------------------------------------
def _size(text: str) -> tuple[int, int]:
    height, _, width = text.lower().partition("x")
    return int(height), int(width)


def _names(text: str, allowed: Sequence[str]) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(allowed)}, got {text!r}")
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=None, help="face images (default 2000)")
    parser.add_argument("--pairs", type=int, default=None, help="signature pairs (20000)")
    parser.add_argument("--quick", action="store_true", help="200 images, 2,000 pairs")
    parser.add_argument(
        "--tasks", type=lambda t: _names(t, TASKS), default=list(TASKS), help="faces,pairs"
    )
    parser.add_argument(
        "--variants",
        type=lambda t: _names(t, list(VARIANTS)),
        default=list(VARIANTS),
        help="comma-separated: " + ",".join(VARIANTS),
    )
    parser.add_argument("--threads", type=int, default=1, help="runtime threads per predictor")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--side", type=int, default=160, help="face image side, pixels")
    parser.add_argument("--head-model", default="smile_cnn", help="any registered classifier")
    parser.add_argument("--sig-size", type=_size, default=(150, 180), help="HxW (DeepSign)")
    parser.add_argument("--signature-writers", type=int, default=10, help="24 images each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--keep", type=Path, default=None, help="work in this new folder, keep it")
    for hidden in ("--variant", "--task", "--work", "--result"):  # one variant's own process
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.images is None:
        args.images = 200 if args.quick else 2000
    if args.pairs is None:
        args.pairs = 2000 if args.quick else 20000
    if min(args.images, args.pairs, args.threads, args.batch_size, args.signature_writers) < 1:
        parser.error("--images, --pairs, --threads, --batch-size and writers must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> list[Result]:
    """Prepare inputs and runs, measure every task x variant, print the report."""
    args = parse_args(argv)
    if args.variant:  # a variant's own process (see measure)
        work = Path(args.work)
        result = run_variant(work, args.task, args.variant, args.threads, args.batch_size)
        write_json(Path(args.result), asdict(result))
        return [result]
    with tempfile.TemporaryDirectory(prefix="inkface-bench-batch-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        begin = time.perf_counter()
        prepare(work, args)
        started = _uptime()
        print(
            f"inputs and runs ready in {time.perf_counter() - begin:.0f} s; {started}", flush=True
        )
        results = []
        for task in args.tasks:
            for variant in args.variants:
                results.append(measure(work, task, variant, args))
                r = results[-1]
                done = r.error or f"{r.per_second:.1f} inputs/s"
                print(f"  {task} {variant}: {done}", flush=True)
    loads = f"measured from {started} (start) to {_uptime()} (end)"
    report = format_report(results, [*header_lines(args), loads])
    print(report, flush=True)
    if args.json is not None:
        write_json(args.json, {"results": [asdict(r) for r in results], "report": report})
    return results


if __name__ == "__main__":
    main()
