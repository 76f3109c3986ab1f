"""``inkface verify``: is the questioned signature by the reference writer? Prints JSON:
the decision with its operating point, the threshold for that many references, the
FAR / FRR validation measured there and a calibrated ``p_genuine``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="compare a questioned signature with references (JSON)"
    )
    parser.add_argument("--run", type=Path, required=True, help="trained run folder")
    parser.add_argument(
        "images",
        type=Path,
        nargs="+",
        metavar="IMAGE",
        help="one or more reference images, then the questioned image last",
    )
    parser.add_argument("--threads", type=int, default=None, help="inference threads")
    parser.add_argument(
        "--operating-point",
        default=None,
        metavar="POINT",
        help="accuracy, eer, far=X or frr=X as stored in the run (default: the run's, eer)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.core.errors import InkfaceError
    from inkface.inference import load_predictor
    from inkface.signatures.verification.verifier import Verifier

    if len(args.images) < 2:
        raise InkfaceError("give at least one reference image and the questioned image")
    predictor = load_predictor(args.run, threads=args.threads)
    if not isinstance(predictor, Verifier):
        raise InkfaceError(f"{args.run}: run is a {predictor.meta.task} model, not a verifier")
    case = {
        "references": args.images[:-1],
        "questioned": args.images[-1],
        "operating_point": args.operating_point,
    }
    (result,) = predictor.predict([case])
    print(json.dumps(result.as_dict(), indent=2))
    return 0
