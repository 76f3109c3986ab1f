"""``inkface train``: fit a recipe into a run folder (thin layer over ``train_verifier``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inkface.cli.options import (
    add_distribution_flags,
    add_resume_flags,
    distribution_overrides,
    parse_roots,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a Siamese signature verifier from a recipe")
    parser.add_argument(
        "--recipe",
        default=None,
        help="built-in recipe name or YAML file (with --init-from: default finetune-small)",
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="fine-tune: start from this trained run's weights (same model input, checked)",
    )
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
    add_resume_flags(parser)
    parser.add_argument("--skip-bad", action="store_true", help="warn and skip bad files")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_distribution_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.cli.main import quiet_lightning

    quiet_lightning()
    from inkface.core.atomic import check_output_path
    from inkface.core.errors import InkfaceError
    from inkface.signatures.verification.finetune import finetune_recipe
    from inkface.signatures.verification.recipe import load_recipe
    from inkface.signatures.verification.train import plan_verifier_run, train_verifier
    from inkface.training.distributed import is_global_zero
    from inkface.training.run_folder import check_count, finished_note, policy_from_flags

    # Flags and the output folder first: nothing is read or written before they pass.
    policy = policy_from_flags(no_resume=args.no_resume, force=args.force, resume=args.resume)
    if args.max_epochs is not None:
        check_count("--max-epochs", args.max_epochs)
    check_output_path(args.out, "--out", folder=True)
    placement = distribution_overrides(args)
    if args.recipe is None and args.init_from is None:
        raise InkfaceError("give --recipe NAME (or --init-from RUN_DIR to fine-tune a run)")
    recipe = load_recipe(args.recipe) if args.recipe is not None else None
    if args.init_from is not None:
        recipe = finetune_recipe(args.init_from, recipe)
    recipe = recipe.with_roots(parse_roots(args.root))
    overrides = {}
    if args.max_epochs is not None:
        overrides["max_epochs"] = args.max_epochs
    if args.accelerator is not None:
        overrides["accelerator"] = args.accelerator
    if overrides:
        recipe = recipe.model_copy(
            update={"training": recipe.training.model_copy(update=overrides)}
        )
    if placement:
        recipe = recipe.updated("distribution", **placement)
    kept = plan_verifier_run(recipe, args.out, policy).keep
    run_dir = train_verifier(
        recipe,
        args.out,
        cache_dir=args.cache_dir,
        resume=policy,
        strict=not args.skip_bad,
        progress=not args.quiet,
        init_from=args.init_from,
    )
    if not is_global_zero():  # a DDP rank > 0: rank 0 reports
        return 0
    if kept:
        print(finished_note(run_dir), file=sys.stderr)
    print(f"run folder: {run_dir}\nreport: {run_dir / 'report.html'}")
    print(_operating_point_line(run_dir))
    return 0


def _operating_point_line(run_dir: Path) -> str:
    """The default operating point with what validation measured there (one reference)."""
    from inkface.evaluation.operating_points import percent
    from inkface.evaluation.policy import DecisionPolicy
    from inkface.models.run import META_FILE, read_meta

    meta = read_meta(run_dir)
    policy = DecisionPolicy.from_meta(meta.extra, meta.threshold, run_dir / META_FILE)
    d = policy.decision(None, 1)
    return (
        f"default operating point {d.operating_point}: threshold {d.threshold:.4f} for one "
        f"reference, validation FAR {percent(d.far)} ({policy.impostors} forgeries), FRR "
        f"{percent(d.frr)}; stored: {', '.join(policy.operating_points)} for up to "
        f"{policy.max_references} references (inkface verify --operating-point)"
    )
