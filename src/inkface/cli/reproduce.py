"""``inkface reproduce EXPERIMENT``: rerun a paper table and print it next to the paper's."""

from __future__ import annotations

import argparse
from pathlib import Path

from inkface.cli.train import parse_roots


def register(subparsers: argparse._SubParsersAction) -> None:
    from inkface.signatures.reproduce import EXPERIMENTS

    parser = subparsers.add_parser(
        "reproduce", help="rerun a paper's table (deepsign-table6, deepsign-table7)"
    )
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="dataset root, e.g. cedar=DIR bhsig260=DIR; none: small synthetic run",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.signatures.reproduce import reproduce

    roots = parse_roots(args.root)
    if not roots:
        print("no dataset roots given: running on small generated data (synthetic dry run)")
    result = reproduce(
        args.experiment,
        args.out or Path("runs") / args.experiment,
        roots=roots or None,
        max_epochs=args.max_epochs,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
    )
    print(result.table)
    print(f"\nreport: {result.out_dir / 'report.html'}")
    return 0
