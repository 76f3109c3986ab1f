"""The record of one paper experiment and of the options it declares.

An :class:`Experiment` names its paper, says in one line what it reproduces, points at
the function that runs it and declares everything that function takes: its options
(name, type, default, help) and the dataset roots it can read. The registry validates a
request against these declarations, so an option or root an experiment does not use is
refused instead of silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inkface.core.errors import InkfaceError
from inkface.papers.scaffold import Reproduction

# The kinds of option values: a whole number, a word, NAME=VALUE pairs, a list of names.
OPTION_KINDS = (int, str, dict, tuple)


@dataclass(frozen=True)
class Option:
    """One option an experiment takes: ``kind`` is int, str, dict (str -> str) or tuple
    (of str); ``None`` is accepted only where it is the default ("the experiment picks")."""

    name: str
    kind: type
    default: Any
    help: str
    metavar: str | None = None
    minimum: int | None = None  # for int options

    def __post_init__(self) -> None:
        if self.kind not in OPTION_KINDS:
            raise TypeError(f"option {self.name}: kind must be one of {OPTION_KINDS}")

    @property
    def flag(self) -> str:
        """The command-line spelling, ``--max-epochs`` for ``max_epochs``."""
        return _flag(self.name)

    def check(self, value: Any, experiment: str) -> Any:
        """``value`` in this option's kind, or an :class:`InkfaceError` naming both."""
        if value is None and self.default is None:
            return None
        where = f"{experiment}: {self.flag}"
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InkfaceError(f"{where} takes a whole number, not {value!r}")
            if self.minimum is not None and value < self.minimum:
                raise InkfaceError(f"{where} must be at least {self.minimum}, not {value}")
            return value
        if self.kind is str:
            if not isinstance(value, str) or not value:
                raise InkfaceError(f"{where} takes a word, not {value!r}")
            return value
        if self.kind is dict:
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise InkfaceError(f"{where} takes NAME=VALUE pairs, not {value!r}")
            return dict(value)
        if (
            isinstance(value, str)
            or not isinstance(value, Sequence)
            or not all(isinstance(v, str) for v in value)
        ):
            raise InkfaceError(f"{where} takes a list of names, not {value!r}")
        return tuple(value)


@dataclass(frozen=True)
class Experiment:
    """One reproducible table or figure of a paper.

    ``function(run, **options)`` receives a :class:`ReproductionRun` and every declared
    option (given or default) by keyword. ``roots`` are the dataset names it can read
    from ``--root NAME=DIR``; ``synthetic_data`` says what it trains on without any.
    """

    name: str
    paper: str
    description: str
    function: Callable[..., Reproduction]
    options: tuple[Option, ...]
    roots: tuple[str, ...]
    synthetic_data: str

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def resolve(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Every declared option: the given values checked, the others at their default.

        An option the experiment does not declare is an error naming both.
        """
        for name in given:
            if self.option(name) is None:
                raise InkfaceError(
                    f"{self.name} does not take {_flag(name)} (it takes "
                    f"{', '.join(o.flag for o in self.options) or 'no options'})"
                )
        return {
            o.name: o.check(given[o.name], self.name) if o.name in given else o.default
            for o in self.options
        }

    def check_roots(self, roots: Mapping[str, Any]) -> None:
        """Refuse dataset roots this experiment cannot read."""
        unknown = [name for name in roots if name not in self.roots]
        if unknown:
            raise InkfaceError(
                f"{self.name} cannot use --root {', '.join(unknown)} "
                f"(it reads {', '.join(self.roots)})"
            )


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")
