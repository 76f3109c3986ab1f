"""``inkface batch``: score a folder, a manifest or videos with trained runs into one
Parquet or CSV file and a summary JSON, locally or on Ray (a thin layer over
:func:`inkface.batch.predict`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inkface.cli.detector_flags import add_detector_flags, detector_settings
from inkface.cli.options import parse_key_values


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="score many images, videos or signature pairs into Parquet/CSV",
        description="Score every image and video under a folder (recursively) or listed in "
        "a manifest (.txt/.lst: a path or URL per line; .csv: a path column), or every "
        "signature pair of a CSV manifest (questioned, reference), with trained runs. One "
        "row per face (or pair) goes to --out; failures are rows too. Rerunning with the "
        "same --out skips inputs already written.",
    )
    parser.add_argument("source", help="folder, or manifest (.txt, .lst, .csv)")
    parser.add_argument(
        "--run",
        action="append",
        default=[],
        required=True,
        metavar="NAME=RUN_DIR",
        help="face head (repeat: smile=runs/smile --run mask=runs/mask) or one verifier",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="results file: .parquet (default) or .csv"
    )
    parser.add_argument(
        "--summary", type=Path, default=None, help="summary JSON (default: OUT_STEM.summary.json)"
    )
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes (local) or Ray actors (ray)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="inputs per model call")
    parser.add_argument(
        "--ray-address", default=None, help="Ray cluster to join (default: start a local one)"
    )
    parser.add_argument(
        "--gpus-per-worker", type=float, default=0.0, help="GPUs per Ray actor (ray engine)"
    )
    parser.add_argument(
        "--every-n-frames", type=int, default=30, help="score every Nth frame of videos"
    )
    add_detector_flags(parser)
    parser.add_argument("--margin", type=float, default=0.1, help="crop margin (fraction)")
    parser.add_argument("--operating-point", default=None, help="verifier's decision point")
    parser.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker")
    parser.add_argument(
        "--dry-run", action="store_true", help="list the inputs that would be scored, and stop"
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=_batch)


def _batch(args: argparse.Namespace) -> int:
    # Local import: the batch engine pulls in pyarrow, OpenCV and PyTorch.
    from inkface.batch import BatchPredictor, predict
    from inkface.batch.api import pending_inputs
    from inkface.batch.output import check_output

    runs = parse_key_values(args.run, "--run", "NAME=RUN_DIR, e.g. smile=runs/smile")
    name, weights, options = detector_settings(args)
    settings = {
        "detector": name,
        "detector_weights": weights,
        "detector_options": options,
        "every_n_frames": args.every_n_frames,
        "margin": args.margin,
        "operating_point": args.operating_point,
        "backend": args.backend,
        "threads": args.threads,
    }
    if args.dry_run:
        target = check_output(args.out)
        todo, skipped = pending_inputs(args.source, BatchPredictor(runs, **settings), target)
        for item in todo:
            print(f"{item.kind}\t{item.key}")
        print(f"{len(todo)} inputs to score, {skipped} already in {target}", file=sys.stderr)
        return 0
    summary = predict(
        args.source,
        runs,
        args.out,
        engine=args.engine,
        workers=args.workers,
        batch_size=args.batch_size,
        ray_address=args.ray_address,
        gpus_per_worker=args.gpus_per_worker,
        summary=args.summary,
        progress=not args.no_progress,
        **settings,
    )
    found = (
        f"{summary.faces} faces, {summary.no_face} images or frames without a face"
        if summary.mode == "faces"
        else f"{summary.rows - summary.failed} pairs decided"
    )
    print(
        f"scored {summary.scored} inputs ({summary.skipped} already done) in "
        f"{summary.seconds:.1f} s, {summary.inputs_per_second:.1f}/s: {found}, "
        f"{summary.failed} failed -> {summary.out}"
    )
    for failure in summary.failures[:5]:
        print(f"  failed: {failure['error']}", file=sys.stderr)
    return 0
