"""``inkface demo``: what ``make demo`` runs (signatures, then faces), on generated data."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="end-to-end demo on generated signatures and faces",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--writers", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--part",
        choices=("all", "signatures", "faces"),
        default="all",
        help="run the signature demo, the face demo, or both (default)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.cli.main import quiet_lightning

    quiet_lightning()
    from inkface.faces.demo import run_face_demo
    from inkface.signatures.demo import run_demo

    if args.part in ("all", "signatures"):
        print("== signatures: DeepSign verification ==")
        run_demo(
            args.out / "signatures", writers=args.writers, seed=args.seed, progress=not args.quiet
        )
    if args.part in ("all", "faces"):
        print("== faces: mask classifier in the real-time face pipeline ==")
        run_face_demo(args.out / "faces", seed=args.seed, progress=not args.quiet)
    return 0
