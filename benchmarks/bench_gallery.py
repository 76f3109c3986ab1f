"""Identification latency of the SQLite gallery as it grows (identification paper, 3).

Enrols ``--references`` reference signatures spread over ``--writers`` writers (random
ink images through the real preprocessing and embedding path), then times
``identify`` on questioned images: one embedding plus a search over every reference.
Reports median / p95 / mean over ``--repeats`` calls after ``--warmup`` calls, for the
cold first search (all embeddings read from SQLite) and warm ones, and the hardware.

    python benchmarks/bench_gallery.py --references 10000
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from inkface.models import get_model
from inkface.models.run import RunMeta, save_run_model
from inkface.signatures.identification.gallery import open_gallery
from inkface.signatures.verification.embedder import load_embedder


def ink_images(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """White pages with a few dark random strokes (grey uint8, like a scan)."""
    images = []
    for _ in range(n):
        page = np.full((96, 192), 250, np.uint8)
        for _ in range(6):
            r, c = rng.integers(5, 90), rng.integers(5, 170)
            page[r : r + 3, c : c + rng.integers(5, 20)] = 20
        images.append(page)
    return images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=1_000)
    parser.add_argument("--model", default="siamese_pixels", help="siamese_pixels or deepsign")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        torch.manual_seed(0)
        size = (128, 128) if args.model == "siamese_pixels" else (150, 180)
        task = "signature-identification-siamese" if args.model == "siamese_pixels" else None
        extra = {"similarity_head": {"offset": 2.0, "scale": 1.0}, "similarity_threshold": 0.5}
        meta = RunMeta(
            args.model,
            {},
            size,
            {"style": "cedar"},
            0.5,
            **({"task": task, "extra": extra} if task else {}),
        )
        save_run_model(run, get_model(args.model), meta)
        embedder = load_embedder(run)
        start = time.perf_counter()
        with open_gallery(Path(tmp) / "g.db", embedder) as gallery:
            per_writer = args.references // args.writers
            for w in range(args.writers):
                gallery.enrol(f"writer-{w:05d}", ink_images(per_writer, rng))
            enrol_s = time.perf_counter() - start
            queries = ink_images(args.warmup + args.repeats + 1, rng)
            t0 = time.perf_counter()
            gallery.identify(queries[0])
            cold_ms = 1e3 * (time.perf_counter() - t0)
            times = []
            for i, query in enumerate(queries[1:]):
                t0 = time.perf_counter()
                gallery.identify(query, top_k=5)
                if i >= args.warmup:
                    times.append(1e3 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            embedder.embed([queries[0]])
            embed_ms = 1e3 * (time.perf_counter() - t0)
        size_mb = (Path(tmp) / "g.db").stat().st_size / 1e6 if (Path(tmp) / "g.db").exists() else 0
    times.sort()
    print(
        f"model {args.model}; {args.references:,} references, {args.writers:,} writers; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}"
    )
    print(f"enrolment of all references: {enrol_s:.1f} s; gallery file {size_mb:.1f} MB")
    print(f"first identify (loads embeddings from SQLite): {cold_ms:.1f} ms")
    print(
        f"identify, warm ({args.repeats} calls after {args.warmup} warm-up): "
        f"median {statistics.median(times):.1f} ms, p95 {times[int(0.95 * len(times)) - 1]:.1f}"
        f" ms, mean {statistics.mean(times):.1f} ms (of which embedding ~{embed_ms:.1f} ms)"
    )


if __name__ == "__main__":
    main()
