"""``inkface gallery``: enrol, remove, list, identify and verify writers (JSON output), and
check (or repair) a gallery file.

``list``, ``remove`` and ``check`` need no model: ``--run`` is optional for the first
two (given, the gallery must have been built by that run) and ``check`` takes none.
Options are checked before any file or model is opened.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from inkface.core.errors import InkfaceError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gallery", help="identification gallery: enrol, remove, list, identify, check"
    )
    commands = parser.add_subparsers(dest="gallery_command", metavar="SUBCOMMAND", required=True)

    def common(sub: argparse.ArgumentParser, run_required: bool = True) -> None:
        sub.add_argument("--gallery", type=Path, required=True, help="gallery file (.db)")
        sub.add_argument(
            "--run",
            type=Path,
            required=run_required,
            help="embedding run folder" + ("" if run_required else " (optional: checks the model)"),
        )

    enrol = commands.add_parser("enrol", help="add reference signatures for a writer")
    common(enrol)
    enrol.add_argument("--writer", required=True)
    enrol.add_argument("images", type=Path, nargs="+")
    enrol.set_defaults(func=_enrol)

    remove = commands.add_parser("remove", help="remove a writer and their references")
    common(remove, run_required=False)
    remove.add_argument("--writer", required=True)
    remove.set_defaults(func=_remove)

    listing = commands.add_parser("list", help="list enrolled writers")
    common(listing, run_required=False)
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

    check = commands.add_parser(
        "check", help="check a gallery file's integrity and rows (no model needed)"
    )
    check.add_argument("gallery", type=Path, help="gallery file (.db)")
    check.add_argument(
        "--repair", action="store_true", help="remove the bad rows (one transaction)"
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=_check)


def _open(args: argparse.Namespace, create: bool = False):
    # Local imports: the gallery and model stack load only when a command needs them.
    from inkface.models.run import META_FILE
    from inkface.signatures.identification.gallery import open_gallery
    from inkface.signatures.verification.embedder import load_embedder

    if args.run is None:
        return open_gallery(args.gallery, None, create=create)
    embedder = load_embedder(args.run)
    return open_gallery(args.gallery, embedder, create=create, source=args.run / META_FILE)


def _print(obj: object) -> int:
    print(json.dumps(obj, indent=2))
    return 0


def _check_threshold(value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InkfaceError(f"--threshold {value}: must be a similarity between 0 and 1")


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
    if args.top_k < 1:
        raise InkfaceError(f"--top-k {args.top_k}: must be at least 1")
    _check_threshold(args.threshold)
    with _open(args) as gallery:
        return _print(gallery.identify(args.image, args.top_k, args.threshold).as_dict())


def _verify(args: argparse.Namespace) -> int:
    _check_threshold(args.threshold)
    with _open(args) as gallery:
        return _print(gallery.verify(args.writer, args.image, args.threshold, args.operating_point))


def _check(args: argparse.Namespace) -> int:
    """Exit 0 when the gallery is sound with no bad row left, 1 otherwise."""
    from inkface.signatures.identification.gallery_check import check_gallery  # no torch

    report = check_gallery(args.gallery, repair=args.repair)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0 if report.ok else 1
    if report.sound:
        print(f"{report.path}: integrity ok, {len(report.bad_rows)} bad rows")
    else:
        shown = "; ".join(report.integrity[:5])
        print(f"{report.path}: damaged (integrity check: {shown}); rows not checked")
    if report.bad_rows:
        print(f"{'KIND':<26} {'TABLE':<13} {'ROW':<14} {'WRITER':<16} DETAIL")
        for row in report.bad_rows:
            writer = "-" if row.writer is None else row.writer
            print(f"{row.kind:<26} {row.table:<13} {row.row!s:<14} {writer:<16} {row.detail}")
    if report.removed:
        counts = ", ".join(f"{n} from {table}" for table, n in report.removed.items())
        print(f"repaired in one transaction: removed {counts}")
    if report.remaining:
        hint = "" if args.repair else " (--repair removes the repairable ones)"
        print(f"{len(report.remaining)} bad rows remain{hint}")
    return 0 if report.ok else 1
