"""``inkface data ...``: generate synthetic data, inspect datasets, build caches, count pairs."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from inkface.core.errors import InkfaceError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="synthetic data, dataset info, image caches, pairs")
    commands = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    synth = commands.add_parser(
        "synth-signatures", help="generate a synthetic signature dataset (sigma-lognormal strokes)"
    )
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--writers", type=int, default=55)
    synth.add_argument("--genuine", type=int, default=24, help="genuine signatures per writer")
    synth.add_argument("--forgeries", type=int, default=24, help="skilled forgeries per writer")
    synth.add_argument("--layout", choices=("cedar", "bhsig260", "folder"), default="cedar")
    synth.add_argument("--script", choices=("Bengali", "Hindi"), default="Bengali")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    synth.set_defaults(func=_synth)

    from inkface.cli.faces_data import register_data_commands
    from inkface.cli.faces_prep import register_data_commands as register_face_prep

    register_data_commands(commands)
    register_face_prep(commands)

    info = commands.add_parser("info", help="list a dataset's writers and image counts as JSON")
    _dataset_args(info)
    info.set_defaults(func=_info)

    cache = commands.add_parser(
        "cache", help="decode and preprocess a dataset once into the memory-mapped cache"
    )
    _dataset_args(cache)
    cache.add_argument("--size", default="deepsign", help="model name or HxW (default deepsign)")
    cache.add_argument("--cache-dir", type=Path, default=None)
    cache.add_argument("--workers", type=int, default=None)
    cache.set_defaults(func=_cache)

    pairs = commands.add_parser(
        "pairs", help="print writer splits and pair counts per split as one JSON object"
    )
    pairs.add_argument(
        "--dataset", action="append", required=True, help="training dataset (repeat to combine)"
    )
    pairs.add_argument("--root", action="append", type=Path, required=True, help="its root folder")
    pairs.add_argument("--test-dataset", action="append", default=[], help="cross-dataset test")
    pairs.add_argument("--test-root", action="append", type=Path, default=[])
    pairs.add_argument("--seed", type=int, default=0)
    pairs.add_argument("--skip-bad", action="store_true", help="warn and skip unexpected files")
    pairs.set_defaults(func=_pairs)


def _dataset_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", required=True, help="cedar, bhsig260, bengali, hindi or folder"
    )
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--skip-bad", action="store_true", help="warn and skip bad files")


def _synth(args: argparse.Namespace) -> int:
    from inkface.signatures.synth.generator import generate_signatures

    summary = generate_signatures(
        args.out,
        writers=args.writers,
        genuine=args.genuine,
        forgeries=args.forgeries,
        layout=args.layout,
        seed=args.seed,
        script=args.script,
        workers=args.workers,
    )
    print(
        json.dumps(
            {
                "root": str(summary.root),
                "files": summary.files,
                "seconds": round(summary.seconds, 2),
            }
        )
    )
    return 0


def _load(name: str, root: Path, skip_bad: bool):
    from inkface.signatures.data.readers import load_signature_dataset

    return load_signature_dataset(name, root, strict=not skip_bad)


def _info(args: argparse.Namespace) -> int:
    dataset = _load(args.dataset, args.root, args.skip_bad)
    print(json.dumps(dataset.summary(), indent=2))
    return 0


def _cache(args: argparse.Namespace) -> int:
    from inkface.core.atomic import check_output_path
    from inkface.signatures.data.cache import load_preprocessed
    from inkface.signatures.data.preprocess import resolve_size

    # Options and the cache folder are checked before the dataset is read.
    resolve_size(args.size)
    if args.workers is not None and args.workers < 1:
        raise InkfaceError(f"--workers: must be at least 1, got {args.workers}")
    if args.cache_dir is not None:
        check_output_path(args.cache_dir, "--cache-dir", folder=True)
    dataset = _load(args.dataset, args.root, args.skip_bad)
    start = time.perf_counter()
    cached = load_preprocessed(
        dataset, args.size, cache_dir=args.cache_dir, workers=args.workers, strict=not args.skip_bad
    )
    seconds = time.perf_counter() - start
    size = cached.cache_file.stat().st_size if cached.cache_file else 0
    print(
        json.dumps(
            {
                "cache_file": str(cached.cache_file),
                "images": len(cached),
                "bytes": size,
                "seconds": round(seconds, 2),
            }
        )
    )
    return 0


def _pairs(args: argparse.Namespace) -> int:
    from inkface.signatures.data.plans import plan_pairs

    if len(args.dataset) != len(args.root):
        raise InkfaceError("give one --root per --dataset")
    if len(args.test_dataset) != len(args.test_root):
        raise InkfaceError("give one --test-root per --test-dataset")
    train = [_load(n, r, args.skip_bad) for n, r in zip(args.dataset, args.root, strict=True)]
    test = [
        _load(n, r, args.skip_bad) for n, r in zip(args.test_dataset, args.test_root, strict=True)
    ]
    plan = plan_pairs(train, test, seed=args.seed)
    report = {
        "datasets": [ds.summary() for ds in plan.datasets],
        "seed": args.seed,
        "splits": plan.counts(),
    }
    print(json.dumps(report, indent=2))
    return 0
