"""``inkface train-face``: fit a face recipe (smile / expression / mask) into a run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inkface.cli.options import add_distribution_flags, add_resume_flags
from inkface.core.errors import InkfaceError

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-face", help="train a smile, expression or mask classifier"
    )
    parser.add_argument("--recipe", required=True, help="built-in face recipe name or YAML file")
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="dataset root, e.g. genki=/data/GENKI-4K ferplus=DIR cifar10=DIR (repeat)",
    )
    parser.add_argument("--out", type=Path, required=True, help="run folder to create")
    parser.add_argument("--weights", default=None, help="ImageNet state-dict file (baselines)")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--max-epochs", type=int, default=None, help="override every stage")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--accelerator", default=None, choices=ACCELERATORS)
    parser.add_argument("--workers", type=int, default=0, help="data-loader worker processes")
    add_resume_flags(parser)
    parser.add_argument("--skip-bad", action="store_true", help="warn and skip bad files")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    add_distribution_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.cli.main import quiet_lightning

    quiet_lightning()
    from inkface.cli.options import distribution_overrides, parse_roots
    from inkface.faces.classification.recipe import load_face_recipe
    from inkface.faces.classification.train import train_face_classifier
    from inkface.training.run_folder import check_count, policy_from_flags

    policy = policy_from_flags(no_resume=args.no_resume, force=args.force, resume=args.resume)
    if args.workers < 0:
        raise InkfaceError(f"--workers: must be >= 0, got {args.workers}")
    placement = distribution_overrides(args)
    recipe = load_face_recipe(args.recipe).with_roots(parse_roots(args.root))
    if args.weights is not None:
        recipe = recipe.updated("model", imagenet_weights=args.weights)
    if args.max_epochs is not None:
        check_count("--max-epochs", args.max_epochs)
        for section in ("pretrain", "training", "finetune"):
            recipe = recipe.updated(section, max_epochs=args.max_epochs)
    if args.accelerator is not None:
        recipe = recipe.model_copy(update={"accelerator": args.accelerator})
    if placement:
        recipe = recipe.updated("distribution", **placement)
    result = train_face_classifier(
        recipe,
        args.out,
        cache_dir=args.cache_dir,
        resume=policy,
        strict=not args.skip_bad,
        progress=not args.quiet,
        seed=args.seed,
        workers=args.workers,
    )
    if result.secondary:
        return 0  # a DDP rank > 0: rank 0 reports
    if result.kept:
        print(result.note, file=sys.stderr)
    for name, test in result.metrics["tests"].items():
        print(
            f"{name}: accuracy {test['accuracy']:.4f}, "
            f"average class accuracy {test['average_class_accuracy']:.4f}"
        )
    print(f"run folder: {result.run_dir}\nreport: {result.run_dir / 'report.html'}")
    return 0
