"""``inkface models fetch NAME`` / ``inkface models list``: pinned detector weights.

The command bodies import their modules locally: every command module is imported when
``inkface`` starts, and start-up should stay fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="download and list pinned third-party weights")
    commands = parser.add_subparsers(dest="models_command", metavar="SUBCOMMAND", required=True)
    fetch = commands.add_parser("fetch", help="download a model's pinned files (SHA-256 checked)")
    fetch.add_argument("name", help="yunet, ssd, blazeface, blazeface_full, mtcnn or lbp")
    fetch.add_argument("--dest", type=Path, default=None, help="folder (default: the cache)")
    fetch.add_argument("--timeout", type=float, default=30.0, help="seconds per network wait")
    fetch.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="seconds for each whole download (default 600)",
    )
    fetch.set_defaults(func=_fetch)
    listing = commands.add_parser("list", help="known models and whether they are cached")
    listing.set_defaults(func=_list)


def _fetch(args: argparse.Namespace) -> int:
    from inkface.core.atomic import check_output_path
    from inkface.core.download import cache_dir
    from inkface.core.errors import InkfaceError
    from inkface.faces.detection.weights import fetch_model, remote_files

    remote_files(args.name)  # an unknown name is refused first
    for value, what in ((args.timeout, "--timeout"), (args.deadline, "--deadline")):
        if value is not None and not value > 0:
            raise InkfaceError(f"{what}: must be a positive number of seconds, got {value}")
    # The destination is checked before anything is downloaded.
    if args.dest is not None:
        check_output_path(args.dest, "--dest", folder=True)
    else:
        check_output_path(cache_dir() / args.name, "model cache folder", folder=True)
    paths = fetch_model(args.name, dest_dir=args.dest, timeout=args.timeout, deadline=args.deadline)
    for path in paths:
        print(path)
    return 0


def _list(args: argparse.Namespace) -> int:
    from inkface.core.download import cache_dir
    from inkface.faces.detection.weights import KNOWN_MODELS, model_status

    report = {"cache": str(cache_dir()), "models": {}}
    for name in KNOWN_MODELS:
        report["models"][name] = [
            {
                "file": remote.filename,
                "url": remote.url,
                "sha256": remote.sha256,
                "size": remote.size,
                "license": remote.license,
                "cached": str(path) if path else None,
            }
            for remote, path in model_status(name)
        ]
    print(json.dumps(report, indent=2))
    return 0
