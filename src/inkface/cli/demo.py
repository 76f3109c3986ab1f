"""``inkface demo``: generate data, train DeepSign, evaluate, verify (what make demo runs)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="end-to-end demo on synthetic signatures: train, evaluate, verify"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--writers", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.cli.main import quiet_lightning

    quiet_lightning()
    from inkface.demo import run_demo

    run_demo(args.out, writers=args.writers, seed=args.seed, progress=not args.quiet)
    return 0
