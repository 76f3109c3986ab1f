"""``inkface data synth-faces``: synthetic smile, expression and face-mask datasets.

The lead's ``cli/data.py`` calls :func:`register_data_commands` with its ``data``
subparsers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register_data_commands(data_subparsers: argparse._SubParsersAction) -> None:
    synth = data_subparsers.add_parser(
        "synth-faces", help="generate synthetic faces in the GENKI-4K / FER / mask layouts"
    )
    synth.add_argument("--task", choices=("smile", "expression", "mask"), required=True)
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--n", type=int, default=400, help="single-face images")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--size", type=int, default=128, help="image side in pixels")
    synth.add_argument("--scenes", action="store_true", help="also multi-face frames and a video")
    synth.add_argument("--frames", type=int, default=48, help="video frames (with --scenes)")
    synth.add_argument("--workers", type=int, default=None, help="processes (default: 2)")
    synth.set_defaults(func=_synth_faces)


def _synth_faces(args: argparse.Namespace) -> int:
    from inkface.faces.synth.generator import generate_faces

    summary = generate_faces(
        args.out,
        task=args.task,
        n=args.n,
        seed=args.seed,
        size=args.size,
        scenes=args.scenes,
        n_frames=args.frames,
        workers=args.workers,
    )
    report = {
        "root": str(summary.root),
        "task": summary.task,
        "images": summary.images,
        "classes": summary.classes,
        "scenes": summary.scenes,
        "video": str(summary.video) if summary.video else None,
        "video_codec": summary.video_codec,
        "seconds": round(summary.seconds, 2),
    }
    print(json.dumps(report))
    return 0
