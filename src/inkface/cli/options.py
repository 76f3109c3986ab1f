"""Parsing shared by several commands' flags."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from inkface.core.errors import InkfaceError
from inkface.training.distributed import STRATEGIES, check_devices, check_nodes, check_strategy


def parse_key_values(items: Iterable[str], flag: str, expected: str) -> dict[str, str]:
    """``["cedar=/data"]`` -> ``{"cedar": "/data"}`` (keys lower-cased); an item without
    both sides is an error naming ``flag`` and what was ``expected``."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value:
            raise InkfaceError(f"{flag} {item!r}: expected {expected}")
        pairs[key.strip().lower()] = value
    return pairs


def parse_roots(items: Iterable[str]) -> dict[str, str]:
    """``--root NAME=DIR`` flags -> ``{name: dir}``."""
    return parse_key_values(items, "--root", "NAME=DIR, e.g. cedar=/data/CEDAR")


def add_resume_flags(parser: argparse.ArgumentParser) -> None:
    """``--no-resume``, ``--force`` and ``--resume``: what a training command does with a
    run folder that already holds a run (``inkface.training.run_folder.policy_from_flags``)."""
    parser.add_argument(
        "--no-resume", action="store_true", help="ignore existing checkpoints, train afresh"
    )
    parser.add_argument(
        "--force", action="store_true", help="retrain from scratch, even a finished run"
    )
    parser.add_argument(
        "--resume", action="store_true", help="train a finished run further (e.g. more epochs)"
    )


def add_distribution_flags(parser: argparse.ArgumentParser) -> None:
    """``--devices``, ``--num-nodes`` and ``--strategy`` (Lightning DDP) for a training
    command; each overrides the recipe's ``distribution`` block when given."""
    group = parser.add_argument_group("several devices or nodes (Lightning DDP)")
    group.add_argument(
        "--devices",
        default=None,
        metavar="N|auto",
        help="processes per node, one per device (default: the recipe's, else 1)",
    )
    group.add_argument(
        "--num-nodes", default=None, metavar="N", help="machines taking part (default 1)"
    )
    group.add_argument(
        "--strategy",
        default=None,
        metavar="NAME",
        help=f"Lightning strategy: {', '.join(STRATEGIES)} (default auto: ddp on several)",
    )


def distribution_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The distribution flags that were given, checked (one-line errors naming the flag)."""
    found: dict[str, Any] = {}
    if args.devices is not None:
        found["devices"] = check_devices(args.devices, "--devices")
    if args.num_nodes is not None:
        found["num_nodes"] = check_nodes(args.num_nodes, "--num-nodes")
    if args.strategy is not None:
        found["strategy"] = check_strategy(args.strategy, "--strategy")
    return found
