"""``inkface demo``: what ``make demo`` runs (signatures, then faces), on generated data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="end-to-end demo on generated signatures and faces",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--writers", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--part",
        choices=("all", "signatures", "faces"),
        default="all",
        help="run the signature demo, the face demo, or both (default)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.cli.main import quiet_lightning

    quiet_lightning()
    from inkface.faces.demo import run_face_demo
    from inkface.signatures.demo import run_demo

    runs: dict[str, Path] = {}
    if args.part in ("all", "signatures"):
        print("== signatures: DeepSign verification ==")
        result = run_demo(
            args.out / "signatures", writers=args.writers, seed=args.seed, progress=not args.quiet
        )
        runs["sig"] = result.run_dir
    if args.part in ("all", "faces"):
        print("== faces: mask classifier in the real-time face pipeline ==")
        runs["mask"] = run_face_demo(
            args.out / "faces", seed=args.seed, progress=not args.quiet
        ).run_dir
    print("== serve the demo's models over HTTP (web page at http://127.0.0.1:8000/) ==")
    print(serve_command(runs, args.out / "gallery.db" if "sig" in runs else None))
    return 0


def serve_command(runs: dict[str, Path], gallery: Path | None) -> str:
    """The ``inkface serve`` line that serves ``runs`` (name -> run folder)."""
    # The executable as it was called (``.venv/bin/inkface`` under ``make demo``).
    program = sys.argv[0] if Path(sys.argv[0]).name == "inkface" else "inkface"
    parts = [program, "serve", *(f"--run {name}={path}" for name, path in runs.items())]
    if gallery is not None:
        parts.append(f"--gallery {gallery}")
    return " ".join(parts)
