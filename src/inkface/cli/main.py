"""The ``inkface`` entry point: builds the command tree and turns errors into exit codes."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from importlib import import_module

from inkface import __version__
from inkface.core.atomic import WRITE_ERRNOS
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
    "inkface.cli.batch",
    "inkface.cli.bench",
    "inkface.cli.models_fetch",
    "inkface.cli.serve",
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
    """Run one command; user errors print ``error: ...`` on one line and return 2 (so
    does a standard output that cannot be written, such as ``> /dev/full``).

    A closed standard output (``inkface data info ... | head -3``) ends the command
    quietly with status 141, as a Unix tool killed by SIGPIPE would.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # --help may meet a closed pipe too
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except InkfaceError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except UnicodeEncodeError as exc:  # a non-UTF-8 file name printed to a strict stream
        text = exc.object if isinstance(exc.object, str) else ""
        shown = one_line(text[max(0, exc.start - 60) : exc.end + 60])
        print(f"error: {shown}: cannot be written as {exc.encoding}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # standard output on a full disk or device (``> /dev/full``)
        # Files are written through inkface.core.atomic, which names them; a failed write
        # that names no file is the standard output's.
        if exc.errno not in WRITE_ERRNOS or exc.filename is not None:
            raise
        _silence_stdout()
        print(f"error: standard output: cannot be written ({exc.strerror})", file=sys.stderr)
        return 2


EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE, what a shell reports for a tool killed by it


def one_line(message: str) -> str:
    """``message`` on one printable line: line breaks and other control characters are
    escaped, and so are undecodable bytes of file names (lone surrogates), which a
    strict UTF-8 stream could not encode."""
    text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's final flush of what
    is still buffered does not raise a second BrokenPipeError at exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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
