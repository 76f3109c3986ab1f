"""``inkface data face-info | face-crops | augment-grid``: inspect face datasets in their
published layouts, build the detect-once face-crop cache, preview augmentation presets.

The lead's ``cli/data.py`` calls :func:`register_data_commands` with its ``data``
subparsers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inkface.cli.detector_flags import add_detector_flags, detector_settings
from inkface.faces.data.readers import FACE_DATASETS

_PRESET_CHOICES = ("smile", "smile-before", "smile-after", "fer", "mask")


def register_data_commands(data_subparsers: argparse._SubParsersAction) -> None:
    info = data_subparsers.add_parser(
        "face-info", help="count a face dataset's images per class and split as JSON"
    )
    _dataset_args(info)
    info.set_defaults(func=_face_info)

    crops = data_subparsers.add_parser(
        "face-crops", help="detect faces once, crop and cache them (memory-mapped)"
    )
    _dataset_args(crops)
    crops.add_argument("--size", type=int, default=128, help="crop side in pixels")
    add_detector_flags(crops, none_means="use whole images")
    crops.add_argument("--margin", type=float, default=0.2, help="box margin (fraction)")
    crops.add_argument("--cache-dir", type=Path, default=None)
    crops.add_argument("--workers", type=int, default=None, help="processes (default 2)")
    crops.set_defaults(func=_face_crops)

    grid = data_subparsers.add_parser(
        "augment-grid", help="write a PNG grid of one image's augmentations (Figure 7.1)"
    )
    grid.add_argument("--preset", choices=_PRESET_CHOICES, required=True)
    grid.add_argument("--image", type=Path, required=True)
    grid.add_argument("--out", type=Path, required=True, help="PNG to write")
    grid.add_argument("--n", type=int, default=16, help="augmented copies")
    grid.add_argument("--seed", type=int, default=0)
    grid.set_defaults(func=_augment_grid)


def _dataset_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=FACE_DATASETS, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0, help="GENKI-4K split seed")
    parser.add_argument("--skip-bad", action="store_true", help="warn and skip bad rows / files")


def _load(args: argparse.Namespace):
    from inkface.faces.data.readers import load_face_dataset

    return load_face_dataset(args.dataset, args.root, strict=not args.skip_bad, seed=args.seed)


def _face_info(args: argparse.Namespace) -> int:
    print(json.dumps(_load(args).summary()))
    return 0


def _face_crops(args: argparse.Namespace) -> int:
    from inkface.faces.data.crops import load_face_crops

    detector, weights, options = detector_settings(args)
    crops = load_face_crops(
        _load(args),
        size=args.size,
        detector=None if detector.lower() == "none" else detector,
        detector_options=options,
        detector_weights=weights,
        margin=args.margin,
        cache_dir=args.cache_dir,
        workers=args.workers,
        strict=not args.skip_bad,
    )
    report = crops.summary()
    report["no_face_examples"] = [path for path, _ in crops.no_face[:10]]
    print(json.dumps(report))
    return 0


def _augment_grid(args: argparse.Namespace) -> int:
    from inkface.faces.data.augment import render_augmentation_grid

    path = render_augmentation_grid(args.image, args.preset, args.out, n=args.n, seed=args.seed)
    print(json.dumps({"grid": str(path), "preset": args.preset, "n": args.n, "seed": args.seed}))
    return 0
