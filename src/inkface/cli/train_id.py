"""``inkface train-id``: train the identification paper's CNN or Siamese network."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-id", help="train a writer-identification CNN or Siamese network"
    )
    parser.add_argument("--model", choices=("cnn", "siamese"), required=True)
    parser.add_argument("--root", type=Path, required=True, help="<root>/<writer>/*.png")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--conv-layers", type=int, default=3, help="CNN depth, 2 to 5")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.cli.main import quiet_lightning

    quiet_lightning()
    from inkface.signatures.identification.data import prepare_identification_data
    from inkface.signatures.identification.train import train_siamese_identifier, train_writer_cnn

    data = prepare_identification_data(
        args.root, seed=args.seed, cache_dir=args.cache_dir, progress=not args.quiet
    )
    common = {"seed": args.seed, "progress": not args.quiet, "accelerator": args.accelerator}
    if args.model == "cnn":
        result = train_writer_cnn(
            data, args.out, conv_layers=args.conv_layers, epochs=args.epochs or 25, **common
        )
    else:
        result = train_siamese_identifier(data, args.out, epochs=args.epochs or 10, **common)
    summary = {k: result[k] for k in ("model", "validation", "test")}
    print(json.dumps({"run": str(args.out), **summary}, indent=2))
    return 0
