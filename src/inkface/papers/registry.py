"""One registry of the paper experiments: look one up by name, validate a request
against what it declares, run it.

The registry is built from :data:`inkface.papers.catalog.CATALOG` on each call (eight
records: nothing worth caching, and no module-level state to go stale);
:func:`register_experiment` refuses a second experiment of the same name, and
:func:`get_experiment` answers an unknown name with the valid ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inkface.core.errors import InkfaceError
from inkface.papers.catalog import CATALOG
from inkface.papers.experiment import Experiment, Option
from inkface.papers.scaffold import Reproduction, ReproductionRun


def register_experiment(registry: dict[str, Experiment], experiment: Experiment) -> None:
    """Add ``experiment`` to ``registry`` (a registry being built); names are unique."""
    if experiment.name in registry:
        raise ValueError(f"experiment {experiment.name!r} is registered twice")
    registry[experiment.name] = experiment


def experiment_registry() -> dict[str, Experiment]:
    """Name -> experiment, in the catalog's order."""
    registry: dict[str, Experiment] = {}
    for experiment in CATALOG:
        register_experiment(registry, experiment)
    return registry


def list_experiments() -> list[Experiment]:
    """Every experiment, in the catalog's order (signatures first, then faces)."""
    return list(experiment_registry().values())


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name is an error listing the valid ones."""
    registry = experiment_registry()
    if name not in registry:
        raise InkfaceError(f"unknown experiment {name!r} (choose from {', '.join(registry)})")
    return registry[name]


def declared_options() -> dict[str, tuple[Option, list[str]]]:
    """Each option name -> (its declaration, the experiments that take it)."""
    options: dict[str, tuple[Option, list[str]]] = {}
    for experiment in CATALOG:
        for option in experiment.options:
            options.setdefault(option.name, (option, []))[1].append(experiment.name)
    return options


def check_request(
    name: str, options: Mapping[str, Any] | None = None, roots: Mapping[str, Any] | None = None
) -> tuple[Experiment, dict[str, Any]]:
    """The experiment and its full option values, or an :class:`InkfaceError` naming an
    unknown experiment, an option it does not take, a bad value or a root it cannot read.
    """
    experiment = get_experiment(name)
    resolved = experiment.resolve(options or {})
    experiment.check_roots(roots or {})
    return experiment, resolved


def run_experiment(
    name: str,
    options: Mapping[str, Any] | None = None,
    roots: Mapping[str, str | Path] | None = None,
    out: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> Reproduction:
    """Run experiment ``name`` into ``out`` (default ``runs/NAME``) after checking the
    request; without ``roots`` it runs small on generated data and its table says so."""
    experiment, resolved = check_request(name, options, roots)
    run = ReproductionRun(
        name=experiment.name,
        paper=experiment.paper,
        out=Path(out) if out is not None else Path("runs") / experiment.name,
        roots={k: str(v) for k, v in (roots or {}).items()},
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
        progress=progress,
        synthetic_data=experiment.synthetic_data,
    )
    return experiment.function(run, **resolved)
