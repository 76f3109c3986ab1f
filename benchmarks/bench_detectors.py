"""Face detector speed in the layout of the smile report's Table 7.1 (FPS and seconds
per frame on 350x350 frames, CPU), plus precision / recall at IoU 0.5 on synthetic
scenes, for every detector backend available here (the others are listed as
unavailable with the reason).

    python benchmarks/bench_detectors.py --repeats 50

Same options as ``inkface bench detectors``; a thin wrapper over :mod:`inkface.runtime.bench`.
"""

from __future__ import annotations

import argparse
import sys

from inkface.cli import bench
from inkface.errors import InkfaceError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_detectors")
    bench.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", "detectors", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except InkfaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
