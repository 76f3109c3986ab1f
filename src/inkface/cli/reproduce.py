"""``inkface reproduce EXPERIMENT``: rerun a paper table and print it next to the paper's.

The experiments, their options and the dataset roots they read come from the registry
(:mod:`inkface.papers.registry`); this module only turns them into flags, parses, calls
and prints. ``inkface reproduce list`` (or ``--list``) lists the experiments.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from inkface.cli.options import parse_key_values, parse_roots
from inkface.core.errors import InkfaceError
from inkface.papers.experiment import Experiment, Option
from inkface.papers.registry import (
    check_request,
    declared_options,
    list_experiments,
    run_experiment,
)
from inkface.papers.scaffold import synthetic_notice

_NAME_WIDTH = 20
_WIDTH = 79


def register(subparsers: argparse._SubParsersAction) -> None:
    experiments = list_experiments()
    parser = subparsers.add_parser(
        "reproduce",
        help="rerun a paper's experiment next to its numbers",
        description=textwrap.fill(
            "Rerun a paper's table or figure and print it next to the paper's numbers. "
            "Without --root it runs small on generated data and says so.",
            _WIDTH,
        ),
        epilog="experiments (inkface reproduce list: papers, roots, options):\n"
        + "\n".join(_summary_lines(e) for e in experiments),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "experiment", nargs="?", metavar="EXPERIMENT", help="one of the experiments below, or list"
    )
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="dataset root, e.g. cedar=DIR bhsig260=DIR; none: small synthetic run",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (runs/EXPERIMENT)")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    group = parser.add_argument_group(
        "experiment options", "each applies to the experiments in brackets, or to all"
    )
    for option, users in declared_options().values():
        scope = "" if len(users) == len(experiments) else f" [{', '.join(users)}]"
        kwargs: dict[str, Any] = {"default": None, "metavar": option.metavar}
        if option.kind is int:
            kwargs["type"] = int
        elif option.kind in (dict, tuple):
            kwargs["action"] = "append"
        group.add_argument(option.flag, dest=option.name, help=option.help + scope, **kwargs)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.list or args.experiment == "list":
        print(describe_experiments(list_experiments()))
        return 0
    if args.experiment is None:
        raise InkfaceError("name an experiment (inkface reproduce list shows them)")
    options = {
        name: _value(option, getattr(args, name))
        for name, (option, _) in declared_options().items()
        if getattr(args, name) is not None
    }
    roots = parse_roots(args.root)
    experiment, _ = check_request(args.experiment, options, roots)  # errors before imports
    # Local import, as in the other training commands: cli.main loads this module.
    from inkface.cli.main import quiet_lightning

    quiet_lightning()
    if not roots:
        print(synthetic_notice(experiment.synthetic_data))
    result = run_experiment(
        experiment.name,
        options,
        roots,
        args.out,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
    )
    print(result.table)
    print(f"\nreport: {result.out_dir / 'report.html'}")
    return 0


def describe_experiments(experiments: list[Experiment]) -> str:
    """Each experiment: name and description, then its paper, roots and options."""
    indent = " " * (_NAME_WIDTH + 2)
    lines = []
    for experiment in experiments:
        lines.append(_summary_lines(experiment))
        for label, text in (
            ("paper", experiment.paper),
            ("roots", ", ".join(experiment.roots)),
            ("options", " ".join(o.flag for o in experiment.options)),
        ):
            lines.extend(_wrap(f"{label}: {text}", indent))
    return "\n".join(lines)


def _summary_lines(experiment: Experiment) -> str:
    """``  NAME  description`` wrapped under the description's column."""
    head = f"  {experiment.name:<{_NAME_WIDTH}}"
    wrapped = _wrap(experiment.description, " " * len(head))
    return head + "\n".join(wrapped).lstrip()


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, _WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps experiment names such as fer-table2 whole when a flag's help wraps."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _value(option: Option, given: Any) -> Any:
    """The option's value from its flag: NAME=VALUE pairs become a dict, lists a tuple."""
    if option.kind is dict:
        return parse_key_values(given, option.flag, option.metavar)
    if option.kind is tuple:
        return tuple(given)
    return given
