"""End-to-end face pipeline speed (smile report §7.3): FPS and p50 / p99 frame latency
with 1 and 5 faces per frame for PyTorch eager, ONNX Runtime fp32 and ONNX Runtime int8,
measured side by side in one process, with the ratios.

    python benchmarks/bench_pipeline.py synthetic --threads 1
    python benchmarks/bench_pipeline.py some_video.mp4 --run runs/smile

Same options as ``inkface bench pipeline``; a thin wrapper over :mod:`inkface.runtime.bench`.
"""

from __future__ import annotations

import argparse
import sys

from inkface.cli import bench
from inkface.errors import InkfaceError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_pipeline")
    bench.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", "pipeline", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except InkfaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
