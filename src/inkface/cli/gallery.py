"""``inkface gallery``: enrol, remove, list, identify and verify writers (JSON output)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gallery", help="identification gallery: enrol, remove, list, identify"
    )
    commands = parser.add_subparsers(dest="gallery_command", metavar="SUBCOMMAND", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--gallery", type=Path, required=True, help="gallery file (.db)")
        sub.add_argument("--run", type=Path, required=True, help="embedding run folder")

    enrol = commands.add_parser("enrol", help="add reference signatures for a writer")
    common(enrol)
    enrol.add_argument("--writer", required=True)
    enrol.add_argument("images", type=Path, nargs="+")
    enrol.set_defaults(func=_enrol)

    remove = commands.add_parser("remove", help="remove a writer and their references")
    common(remove)
    remove.add_argument("--writer", required=True)
    remove.set_defaults(func=_remove)

    listing = commands.add_parser("list", help="list enrolled writers")
    common(listing)
    listing.set_defaults(func=_list)

    identify = commands.add_parser("identify", help="top-k writers of a questioned signature")
    common(identify)
    identify.add_argument("image", type=Path)
    identify.add_argument("--top-k", type=int, default=5)
    identify.add_argument("--threshold", type=float, default=None, help="open-set similarity")
    identify.set_defaults(func=_identify)

    verify = commands.add_parser("verify", help="check a claimed identity")
    common(verify)
    verify.add_argument("--writer", required=True, help="claimed writer")
    verify.add_argument("image", type=Path)
    verify.add_argument(
        "--threshold", type=float, default=None, help="manual similarity threshold (overrides)"
    )
    verify.add_argument(
        "--operating-point",
        default=None,
        metavar="POINT",
        help="accuracy, eer, far=X or frr=X as stored in the run (default: the run's, eer)",
    )
    verify.set_defaults(func=_verify)


def _open(args: argparse.Namespace, create: bool = False):
    from inkface.signatures.identification.gallery import open_gallery
    from inkface.signatures.verification.embedder import load_embedder

    return open_gallery(args.gallery, load_embedder(args.run), create=create)


def _print(obj: object) -> int:
    print(json.dumps(obj, indent=2))
    return 0


def _enrol(args: argparse.Namespace) -> int:
    with _open(args, create=True) as gallery:
        added = gallery.enrol(args.writer, args.images)
        record = gallery.writer_record(args.writer)
        return _print({"added": added, "gallery": str(args.gallery), **record})


def _remove(args: argparse.Namespace) -> int:
    with _open(args) as gallery:
        removed = gallery.remove(args.writer)
        return _print({"writer": args.writer, "removed_references": removed})


def _list(args: argparse.Namespace) -> int:
    with _open(args) as gallery:
        return _print({"writers": gallery.writers()})


def _identify(args: argparse.Namespace) -> int:
    with _open(args) as gallery:
        return _print(gallery.identify(args.image, args.top_k, args.threshold).as_dict())


def _verify(args: argparse.Namespace) -> int:
    with _open(args) as gallery:
        return _print(gallery.verify(args.writer, args.image, args.threshold, args.operating_point))
