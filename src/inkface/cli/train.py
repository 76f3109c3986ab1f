"""``inkface train``: fit a recipe into a run folder (thin layer over ``train_verifier``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from inkface.cli.options import parse_roots


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a Siamese signature verifier from a recipe")
    parser.add_argument("--recipe", required=True, help="built-in recipe name or YAML file")
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="dataset root, e.g. cedar=/data/CEDAR (repeat per dataset)",
    )
    parser.add_argument("--out", type=Path, required=True, help="run folder to create")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--max-epochs", type=int, default=None, help="override the recipe")
    parser.add_argument("--accelerator", default=None, help="cpu, gpu or auto")
    parser.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints")
    parser.add_argument("--skip-bad", action="store_true", help="warn and skip bad files")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.cli.main import quiet_lightning

    quiet_lightning()
    from inkface.signatures.verification.recipe import load_recipe
    from inkface.signatures.verification.train import train_verifier

    recipe = load_recipe(args.recipe).with_roots(parse_roots(args.root))
    overrides = {}
    if args.max_epochs is not None:
        overrides["max_epochs"] = args.max_epochs
    if args.accelerator is not None:
        overrides["accelerator"] = args.accelerator
    if overrides:
        recipe = recipe.model_copy(
            update={"training": recipe.training.model_copy(update=overrides)}
        )
    run_dir = train_verifier(
        recipe,
        args.out,
        cache_dir=args.cache_dir,
        resume=not args.no_resume,
        strict=not args.skip_bad,
        progress=not args.quiet,
    )
    print(f"run folder: {run_dir}\nreport: {run_dir / 'report.html'}")
    return 0
