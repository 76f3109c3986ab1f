"""``inkface export``: write ``model.onnx`` (and optionally ``model.int8.onnx``) for a run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inkface.core.errors import InkfaceError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a run to single-file ONNX, optionally int8",
    )
    parser.add_argument("--run", type=Path, required=True, help="trained run folder")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument(
        "--int8", action="store_true", help="also write model.int8.onnx (static quantisation)"
    )
    parser.add_argument(
        "--calibration", type=Path, help="folder of images to calibrate int8 ranges with"
    )
    parser.add_argument(
        "--validation",
        type=Path,
        help="folder to measure the int8 accuracy change on (class folders, or CEDAR layout)",
    )
    parser.add_argument(
        "--max-calibration", type=int, default=256, help="calibration images used at most"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Local imports: start-up time (see inkface.cli).
    from inkface.inference import load_predictor
    from inkface.runtime.export import export_onnx

    if (args.calibration is not None or args.validation is not None) and not args.int8:
        raise InkfaceError("--calibration and --validation are only used with --int8")
    # The run is loaded the way every consumer loads it before anything is written: a run
    # no predictor could use (an unknown task, a mislabelled model) is not exported.
    predictor = load_predictor(args.run, backend="torch")
    result = export_onnx(
        args.run,
        opset=args.opset,
        int8=args.int8,
        calibration=args.calibration,
        validation=args.validation,
        max_calibration=args.max_calibration,
        progress=not args.quiet,
        predictor=predictor if args.int8 else None,
    )
    print(json.dumps(result.as_dict(), indent=2))
    return 0
