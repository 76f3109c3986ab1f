"""``inkface train-id``: train the identification paper's CNN or Siamese network."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inkface.cli.options import add_distribution_flags, add_resume_flags
from inkface.core.errors import InkfaceError

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
CONV_LAYERS = (2, 5)  # the paper's CNN depths (section III.A)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-id", help="train a writer-identification CNN or Siamese network"
    )
    parser.add_argument("--model", choices=("cnn", "siamese"), required=True)
    parser.add_argument("--root", type=Path, required=True, help="<root>/<writer>/*.png")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--conv-layers", type=int, default=3, help="CNN depth, 2 to 5")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument(
        "--samples-per-writer",
        type=int,
        default=None,
        metavar="N",
        help="CNN: training samples per writer and epoch, the images plus distorted copies "
        "(default: the paper's 2000, section III.A; a few dozen for a quick run on small data)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="data-loader processes that distort the training images (default: 0, none)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--accelerator", default="auto", choices=ACCELERATORS)
    add_resume_flags(parser)
    parser.add_argument("--quiet", action="store_true")
    add_distribution_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.cli.main import quiet_lightning

    quiet_lightning()
    from inkface.cli.options import distribution_overrides
    from inkface.signatures.identification.data import prepare_identification_data
    from inkface.signatures.identification.train import (
        cnn_identity,
        siamese_identity,
        train_siamese_identifier,
        train_writer_cnn,
    )
    from inkface.training.distributed import Distribution, is_global_zero
    from inkface.training.run_folder import check_count, finished_note, plan_run, policy_from_flags

    policy = policy_from_flags(no_resume=args.no_resume, force=args.force, resume=args.resume)
    distribution = Distribution(**distribution_overrides(args))
    primary = is_global_zero()  # DDP: ranks > 0 train alongside and print nothing
    if args.epochs is not None:
        check_count("--epochs", args.epochs)
    if args.samples_per_writer is not None:
        if args.model != "cnn":
            raise InkfaceError("--samples-per-writer: only used with --model cnn")
        check_count("--samples-per-writer", args.samples_per_writer)
    if args.workers < 0:
        raise InkfaceError(f"--workers: must be >= 0, got {args.workers}")
    low, high = CONV_LAYERS
    if args.model == "cnn" and not low <= args.conv_layers <= high:
        raise InkfaceError(f"--conv-layers: must be {low} to {high}, got {args.conv_layers}")
    identity = cnn_identity(args.conv_layers) if args.model == "cnn" else siamese_identity()
    # Refuses another model's folder before the data is read; the trainer checks the rest.
    kept = plan_run(args.out, identity, policy).keep
    data = prepare_identification_data(
        args.root, seed=args.seed, cache_dir=args.cache_dir, progress=not args.quiet and primary
    )
    common = {
        "seed": args.seed,
        "progress": not args.quiet and primary,
        "accelerator": args.accelerator,
        "distribution": distribution,
        "resume": policy,
        "workers": args.workers,
    }
    if args.model == "cnn":
        if args.samples_per_writer is not None:  # otherwise the trainer's paper default
            common["samples_per_writer"] = args.samples_per_writer
        result = train_writer_cnn(
            data, args.out, conv_layers=args.conv_layers, epochs=args.epochs or 25, **common
        )
    else:
        result = train_siamese_identifier(data, args.out, epochs=args.epochs or 10, **common)
    if not primary:
        return 0
    if kept:
        print(finished_note(args.out), file=sys.stderr)
    summary = {k: result[k] for k in ("model", "validation", "test")}
    print(json.dumps({"run": str(args.out), **summary}, indent=2))
    return 0
