"""``inkface reproduce EXPERIMENT``: rerun a paper table and print it next to the paper's."""

from __future__ import annotations

import argparse
from pathlib import Path

from inkface.cli.train import parse_roots


def register(subparsers: argparse._SubParsersAction) -> None:
    from inkface.papers.deepsign import EXPERIMENTS
    from inkface.papers.faces import FACE_EXPERIMENTS
    from inkface.papers.signature_identification import IDENTIFICATION_EXPERIMENTS

    parser = subparsers.add_parser(
        "reproduce", help="rerun a paper's experiment next to its numbers"
    )
    parser.add_argument(
        "experiment",
        choices=[*sorted(EXPERIMENTS), *IDENTIFICATION_EXPERIMENTS, *FACE_EXPERIMENTS],
    )
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="dataset root, e.g. cedar=DIR bhsig260=DIR; none: small synthetic run",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--accelerator", default="auto", help="cpu, gpu or auto")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--trials", type=int, default=None, help="face tables: trials per row")
    parser.add_argument(
        "--latency-frames", type=int, default=None, help="smile-table7.3: frames per model"
    )
    parser.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="MODEL=FILE",
        help="smile baselines: ImageNet state dict per model, e.g. vgg16=vgg16.pth",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.cli.main import quiet_lightning

    quiet_lightning()
    from inkface.papers.deepsign import reproduce
    from inkface.papers.signature_identification import IDENTIFICATION_EXPERIMENTS

    roots = parse_roots(args.root)
    if args.experiment.startswith(("smile-", "fer-", "mask-")):
        return _faces(args, roots)
    if args.experiment in IDENTIFICATION_EXPERIMENTS:
        return _identification(args, roots)
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


def _identification(args: argparse.Namespace, roots: dict[str, str]) -> int:
    from inkface.core.errors import InkfaceError
    from inkface.papers.signature_identification import reproduce_identification

    unknown = set(roots) - {"folder"}
    if unknown:
        raise InkfaceError(f"{args.experiment} reads a folder-per-writer set: --root folder=DIR")
    if not roots:
        print("no dataset root given: running on generated signatures (8 writers x 88)")
    result = reproduce_identification(
        args.experiment,
        args.out or Path("runs") / args.experiment,
        root=roots.get("folder"),
        epochs=args.max_epochs,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
        accelerator=args.accelerator,
    )
    print(result.table)
    print(f"\nreport: {result.out_dir / 'report.html'}")
    return 0


def _faces(args: argparse.Namespace, roots: dict[str, str]) -> int:
    from inkface.papers.faces import reproduce_faces

    if not roots:
        print("no dataset roots given: running small on generated faces (synthetic dry run)")
    result = reproduce_faces(
        args.experiment,
        args.out or Path("runs") / args.experiment,
        roots=roots or None,
        max_epochs=args.max_epochs,
        trials=args.trials,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
        latency_frames=args.latency_frames,
        weights=parse_roots(args.weights),
    )
    print(result.table)
    print(f"\nreport: {result.out_dir / 'report.html'}")
    return 0
