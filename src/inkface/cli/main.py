"""The ``inkface`` entry point: builds the command tree and turns errors into exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from importlib import import_module

from inkface import __version__
from inkface.core.errors import InkfaceError

# Command modules, in the order ``inkface --help`` lists them.
COMMAND_MODULES = (
    "inkface.cli.data",
    "inkface.cli.train",
    "inkface.cli.verify",
    "inkface.cli.info",
    "inkface.cli.train_id",
    "inkface.cli.train_face",
    "inkface.cli.gallery",
    "inkface.cli.export",
    "inkface.cli.analyze",
    "inkface.cli.bench",
    "inkface.cli.models_fetch",
    "inkface.cli.reproduce",
    "inkface.cli.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the tests to check ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="inkface",
        description="Train, evaluate, benchmark and run lightweight CNNs for signatures and faces.",
    )
    parser.add_argument("--version", action="version", version=f"inkface {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print ``error: ...`` on one line and return 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InkfaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def quiet_lightning() -> None:
    """Keep Lightning's start-up tips and a known upstream deprecation out of the output.

    Called by the training commands after Lightning is imported (its import resets the
    level of its own logger).
    """
    import lightning  # noqa: F401  (import first: it configures its logger on import)

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not empty")
