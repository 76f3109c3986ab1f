"""``--detector NAME``, ``--detector-weights PATH`` and ``--detector-option KEY=VALUE``:
the same three flags on ``analyze``, ``bench`` and ``data face-crops`` (``serve`` has its
own copy), a thin layer over :func:`inkface.faces.detection.detectors.get_detector`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from inkface.core.errors import InkfaceError

DETECTOR_HELP = (
    "face detector: haar, lbp, hog, mtcnn, blazeface, blazeface_full, ssd, yunet, or auto "
    "(the best one whose weights are present, else haar)"
)


def add_detector_flags(
    parser: argparse.ArgumentParser, default: str = "haar", none_means: str = ""
) -> None:
    """Add the three flags; ``none_means`` documents a ``none`` choice where the command
    has one (``data face-crops``: whole images)."""
    extra = f", or none ({none_means})" if none_means else ""
    parser.add_argument(
        "--detector", default=default, help=f"{DETECTOR_HELP}{extra}; default {default}"
    )
    parser.add_argument(
        "--detector-weights",
        type=Path,
        default=None,
        metavar="PATH",
        help="the detector's weight file (a cascade XML for haar / lbp, a folder for mtcnn); "
        "default: the `inkface models fetch` cache",
    )
    parser.add_argument(
        "--detector-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="detector setting, e.g. min_neighbors=5 or score_threshold=0.6 (repeat)",
    )


def detector_settings(args: argparse.Namespace) -> tuple[str, Path | None, dict[str, Any]]:
    """(name, weights, options) from the parsed flags; weights or options with ``auto``
    or ``none`` are refused here, before any work."""
    # Local import: the detectors pull in OpenCV and PyTorch, and every command module is
    # imported when ``inkface`` starts.
    from inkface.faces.detection.detectors import parse_detector_options

    name = args.detector.strip()
    options = parse_detector_options(args.detector_option)
    if name.lower() in ("auto", "none") and (args.detector_weights is not None or options):
        raise InkfaceError(
            f"--detector {name}: takes no --detector-weights or --detector-option; "
            "name the detector to pass them"
        )
    return name, args.detector_weights, options
