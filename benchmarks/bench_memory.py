"""Peak memory of ``inkface data cache`` and ``inkface analyze`` against input length.

Both commands stream: ``data cache`` writes each preprocessed image into the cache file
as it is decoded (:mod:`inkface.core.cache`), ``analyze`` holds a few frames in flight
(:mod:`inkface.faces.pipeline.runner`). Their peak resident memory must therefore not
grow with the number of images or frames. This benchmark measures it:

* ``data cache`` (DeepSign size, 300 x 360) over CEDAR-layout signature sets of two or
  three sizes, each made of hard links to one small generated set (decoding costs what
  distinct images cost; the cache key sees distinct paths);
* ``analyze`` (Haar detector, an untrained ``smile_cnn`` head, ``--jsonl`` and an
  annotated ``--out`` video) over 640 x 480 videos of 300 and 3,000 frames, made by
  playing one generated clip of moving synthetic faces forwards and backwards.

Peak RSS is the largest resident set of the command or any process it waited for
(``Maximum resident set size`` of ``/usr/bin/time -v`` when present, else
``resource.getrusage(RUSAGE_CHILDREN)`` in a wrapper process; both report the largest
single process, not the sum over worker processes). Prints one row per run and, per
command, the ratio of the largest input's peak to the smallest's (1.0 = flat).

    python benchmarks/bench_memory.py            # 600 / 2,400 / 4,800 images, 300 / 3,000 frames
    python benchmarks/bench_memory.py --quick    # 240 / 960 images, 100 / 600 frames
    python benchmarks/bench_memory.py --json memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2

from inkface.core.atomic import write_json
from inkface.faces.classification.classifier import init_untrained_classifier

TIME = Path("/usr/bin/time")
PER_WRITER = (12, 12)  # genuine, forged images per writer of a generated set
BASE_WRITERS = 4  # writers actually drawn; larger sets link to their images
CLIP_FRAMES = 120  # frames actually rendered; longer videos replay them
_WRAPPER = (
    "import resource, subprocess, sys; "
    "rc = subprocess.run(sys.argv[1:]).returncode; "
    "print('peak_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(rc)"
)


@dataclass(frozen=True)
class Measure:
    command: str
    size: int  # images or frames
    unit: str
    peak_mb: float
    seconds: float


def inkface(*args: str) -> list[str]:
    return [sys.executable, "-m", "inkface", *args]


def peak_rss(argv: Sequence[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of running ``argv`` to completion."""
    use_time = TIME.is_file() and os.access(TIME, os.X_OK)
    wrapped = [str(TIME), "-v", *argv] if use_time else [sys.executable, "-c", _WRAPPER, *argv]
    start = time.perf_counter()
    done = subprocess.run(wrapped, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-2000:]}")
    pattern = r"Maximum resident set size \(kbytes\): (\d+)" if use_time else r"peak_kb (\d+)"
    found = re.search(pattern, done.stderr)
    if found is None:
        sys.exit(f"no peak RSS in the output of {' '.join(argv)}")
    return int(found.group(1)) / 1024, seconds


def signature_sets(work: Path, sizes: Sequence[int]) -> dict[int, Path]:
    """CEDAR-layout sets of (about) each size, linked to one generated set."""
    base = work / "signatures-base"
    genuine, forged = PER_WRITER
    subprocess.run(
        inkface(
            "data", "synth-signatures", "--out", str(base), "--writers", str(BASE_WRITERS),
            "--genuine", str(genuine), "--forgeries", str(forged), "--workers", "1",
        ),
        check=True, capture_output=True,
    )  # fmt: skip
    sets = {}
    for size in sizes:
        writers = max(1, round(size / (genuine + forged)))
        root = work / f"signatures-{size}"
        for folder, prefix, count in (
            ("full_org", "original", genuine),
            ("full_forg", "forgeries", forged),
        ):
            (root / folder).mkdir(parents=True)
            for w in range(1, writers + 1):
                source_writer = (w - 1) % BASE_WRITERS + 1
                for i in range(1, count + 1):
                    source = base / folder / f"{prefix}_{source_writer}_{i}.png"
                    _link(source, root / folder / f"{prefix}_{w}_{i}.png")
        sets[writers * (genuine + forged)] = root
    return sets


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, target)


def videos(work: Path, lengths: Sequence[int]) -> dict[int, Path]:
    """640 x 480 videos of each length: one rendered clip played forwards and backwards."""
    synth = work / "faces"
    printed = subprocess.run(
        inkface(
            "data", "synth-faces", "--task", "smile", "--out", str(synth), "--n", "4",
            "--size", "160", "--scenes", "--frames", str(CLIP_FRAMES), "--workers", "1",
        ),
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    capture = cv2.VideoCapture(json.loads(printed)["video"])
    clip = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        clip.append(frame)
    capture.release()
    loop = clip + clip[-2:0:-1]
    height, width = clip[0].shape[:2]
    out = {}
    for n in lengths:
        path = work / f"video-{n}.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12.0, (width, height))
        for i in range(n):
            writer.write(loop[i % len(loop)])
        writer.release()
        out[n] = path
    return out


def measure_cache(work: Path, sizes: Sequence[int], workers: int) -> list[Measure]:
    rows = []
    for n, root in signature_sets(work, sizes).items():
        cache = work / f"cache-{n}"
        argv = inkface(
            "data", "cache", "--dataset", "cedar", "--root", str(root), "--size", "deepsign",
            "--cache-dir", str(cache), "--workers", str(workers),
        )  # fmt: skip
        peak, seconds = peak_rss(argv)
        rows.append(Measure("data cache", n, "images", peak, seconds))
        shutil.rmtree(cache)  # 108 kB per image on disk
        print(_row(rows[-1]), flush=True)
    return rows


def measure_analyze(work: Path, lengths: Sequence[int]) -> list[Measure]:
    run = init_untrained_classifier(work / "smile-run", "smile_cnn")
    rows = []
    for n, video in videos(work, lengths).items():
        argv = inkface(
            "analyze", str(video), "--run", str(run), "--detector", "haar", "--no-progress",
            "--jsonl", str(work / f"analyze-{n}.jsonl"), "--out", str(work / f"annotated-{n}.mp4"),
        )  # fmt: skip
        peak, seconds = peak_rss(argv)
        rows.append(Measure("analyze", n, "frames", peak, seconds))
        print(_row(rows[-1]), flush=True)
    return rows


def _row(m: Measure) -> str:
    return f"{m.command:<11} {m.size:>6,} {m.unit:<7} {m.peak_mb:>9.1f} MB {m.seconds:>8.1f} s"


def ratios(rows: Sequence[Measure]) -> dict[str, float]:
    """Per command, peak RSS of its largest input / that of its smallest."""
    out = {}
    for command in dict.fromkeys(m.command for m in rows):
        mine = sorted((m for m in rows if m.command == command), key=lambda m: m.size)
        out[command] = mine[-1].peak_mb / mine[0].peak_mb
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs (about 2 minutes)")
    parser.add_argument("--images", type=int, nargs="+", help="signature set sizes")
    parser.add_argument("--frames", type=int, nargs="+", help="video lengths")
    parser.add_argument("--workers", type=int, default=1, help="data cache --workers")
    parser.add_argument("--skip", choices=("cache", "analyze"), action="append", default=[])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    images = args.images or ([240, 960] if args.quick else [600, 2400, 4800])
    frames = args.frames or ([100, 600] if args.quick else [300, 3000])
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="inkface-bench-memory-") as scratch:
        work = args.keep or Path(scratch)
        meter = "/usr/bin/time -v" if TIME.is_file() else "resource.getrusage"
        print(f"peak RSS by {meter}; {os.cpu_count()} cores")
        print(f"{'command':<11} {'input':>14} {'peak RSS':>12} {'wall':>10}")
        rows = [] if "cache" in args.skip else measure_cache(work, images, args.workers)
        rows += [] if "analyze" in args.skip else measure_analyze(work, frames)
    for command, ratio in ratios(rows).items():
        print(f"{command}: peak RSS largest / smallest input = {ratio:.3f}")
    if args.json:
        write_json(args.json, {"rows": [asdict(m) for m in rows], "ratios": ratios(rows)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
