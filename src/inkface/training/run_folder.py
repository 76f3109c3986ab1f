"""Deciding what a training command does with its output folder, before writing to it.

Every trainer starts the same way:

1. :func:`plan_run` looks at ``--out`` and writes nothing. A folder holding another
   model (its ``meta.json`` or ``recipe.yaml`` names another architecture or other
   model options) is refused: training there would leave a recipe and weights that
   disagree. A *finished* run (``meta.json`` present) trained with the same recipe is
   kept as it is unless asked: ``resume="continue"`` (``--resume``) trains it further,
   e.g. with a larger ``--max-epochs``, and evaluates again; ``resume=False``
   (``--force`` / ``--no-resume``) retrains it from scratch. A finished run whose
   ``recipe.yaml`` differs from the new one is refused naming the first differing
   field (silently returning results of other settings would mislead), or, with
   ``resume="refresh"`` (paper reproductions, which have no flags for it), retrained
   from scratch. An unfinished run resumes from ``checkpoints/last.ckpt`` by default.
2. The trainer loads its inputs (datasets, caches); a failure leaves no folder behind.
3. :func:`begin_run` creates the folder, writes ``recipe.yaml`` and, when a finished
   run is trained again, removes its ``meta.json`` first, so an interruption leaves an
   unfinished run (which resumes) rather than old metadata beside new checkpoints. It
   also removes the exports of the old weights (``model.onnx``, ``model.int8.onnx``,
   ``export.json``): the run is about to get new weights, and inference prefers an
   ONNX file it finds, so a stale one would be refused ("exported from other weights")
   or, worse, used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from inkface.core.atomic import atomic_open, check_output_path
from inkface.core.errors import InkfaceError
from inkface.models.run import EXPORT_FILES, MAX_META_BYTES, META_FILE

RECIPE_FILE = "recipe.yaml"
# The checkpoints of a run and of a face run's stages (``<run>/stage1/checkpoints``).
CHECKPOINT_GLOBS = ("checkpoints/last.ckpt", "*/checkpoints/last.ckpt")
ResumePolicy = Literal["auto", "continue", "fresh", "refresh"]
RunStatus = Literal["new", "unfinished", "finished"]
FLAGS_HINT = "pass --resume to train it further or --force to retrain it from scratch"


def check_count(name: str, value: object) -> int:
    """``value`` as a count >= 1 (epochs, patience, layers); a one-line error otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InkfaceError(f"{name}: must be an integer >= 1, got {value!r}")
    return value


def resume_policy(resume: bool | str) -> ResumePolicy:
    """``True`` -> ``auto`` (resume unfinished, keep finished), ``False`` -> ``fresh``;
    the policy names themselves pass through."""
    if resume is True or resume is False:
        return "auto" if resume else "fresh"
    if resume in ("auto", "continue", "fresh", "refresh"):
        return resume  # type: ignore[return-value]
    raise InkfaceError(
        f"resume: expected True, False, 'auto', 'continue', 'fresh' or 'refresh', not {resume!r}"
    )


def policy_from_flags(
    *, no_resume: bool = False, force: bool = False, resume: bool = False
) -> ResumePolicy:
    """The training commands' ``--no-resume`` / ``--force`` / ``--resume`` flags as a policy
    (at most one may be given; none: ``auto``)."""
    flags = (("--no-resume", no_resume), ("--force", force), ("--resume", resume))
    given = [flag for flag, on in flags if on]
    if len(given) > 1:
        raise InkfaceError(f"{' and '.join(given)}: give at most one of them")
    if resume:
        return "continue"
    return "fresh" if no_resume or force else "auto"


@dataclass(frozen=True)
class RunIdentity:
    """The model a run folder holds: architecture and model options (the options known
    before the data is read; others are not compared), and the ``meta.json`` task."""

    architecture: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    task: str | None = None


@dataclass(frozen=True)
class RunPlan:
    """What to do with a run folder: ``keep`` a finished run as it is, or train with
    ``resume`` passed to :func:`inkface.training.fit.fit`; ``recipe_yaml`` is written
    by :func:`begin_run`."""

    run_dir: Path
    status: RunStatus
    keep: bool
    resume: bool
    recipe_yaml: str | None = None


def plan_run(
    run_dir: str | Path,
    identity: RunIdentity,
    resume: bool | str = True,
    recipe_yaml: str | None = None,
) -> RunPlan:
    """Check ``run_dir`` for training ``identity`` with ``recipe_yaml`` into it (see the
    module docstring); writes nothing. A path that cannot become the run folder (a file,
    a path under a file, a dangling link, no write permission) is one line naming it."""
    run_dir = check_output_path(run_dir, "--out", folder=True)
    policy = resume_policy(resume)
    recorded = _recorded_identity(run_dir)
    if recorded is not None:
        _refuse_other_model(run_dir, recorded, identity)
    if (run_dir / META_FILE).is_file():
        status: RunStatus = "finished"
    elif (run_dir / RECIPE_FILE).is_file() or any(
        any(run_dir.glob(pattern)) for pattern in CHECKPOINT_GLOBS
    ):
        status = "unfinished"
    else:
        status = "new"
    keep = status == "finished" and policy in ("auto", "refresh")
    if keep and recipe_yaml is not None:
        if policy == "auto":
            _refuse_other_settings(run_dir, recipe_yaml)
        elif _other_settings(run_dir, recipe_yaml) is not None:
            keep, policy = False, "fresh"  # refresh: other settings are retrained afresh
    resume_fit = policy not in ("fresh", "refresh") and status != "new"
    return RunPlan(run_dir, status, keep=keep, resume=resume_fit, recipe_yaml=recipe_yaml)


def begin_run(plan: RunPlan) -> None:
    """Create the folder once the inputs have loaded; write ``recipe.yaml``; a finished
    run being trained again loses its ``meta.json`` first, and any run its exports of
    the old weights (see the module docstring)."""
    if plan.keep:
        raise InkfaceError(f"{plan.run_dir}: a finished run is kept; nothing to begin")
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    if plan.status == "finished":
        (plan.run_dir / META_FILE).unlink(missing_ok=True)
    for name in EXPORT_FILES:
        (plan.run_dir / name).unlink(missing_ok=True)
    if plan.recipe_yaml is not None:
        with atomic_open(plan.run_dir / RECIPE_FILE, "w", encoding="utf-8") as handle:
            handle.write(plan.recipe_yaml)


def finished_note(run_dir: str | Path) -> str:
    """The one line a command prints when it keeps a finished run."""
    return f"{run_dir}: already trained (meta.json present), left unchanged; {FLAGS_HINT}"


def _recorded_identity(run_dir: Path) -> RunIdentity | None:
    """The model ``meta.json`` (else ``recipe.yaml``) says the folder holds; None when
    neither exists. An unreadable file is refused: what it holds cannot be told."""
    meta, recipe = run_dir / META_FILE, run_dir / RECIPE_FILE
    try:
        if meta.is_file():
            if meta.stat().st_size > MAX_META_BYTES:
                raise ValueError("too large")
            data = json.loads(meta.read_text(encoding="utf-8"))
            return RunIdentity(
                str(data["architecture"]), dict(data.get("model_kwargs") or {}), data.get("task")
            )
        if recipe.is_file():
            model = _read_recipe(recipe)["model"]
            return RunIdentity(str(model["name"]), dict(model.get("kwargs") or {}))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, yaml.YAMLError):
        source = meta if meta.is_file() else recipe
        raise InkfaceError(
            f"{source}: unreadable, so what {run_dir} holds is unknown; "
            "choose another --out (or delete the folder)"
        ) from None
    return None


def _read_recipe(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a mapping")
    return data


def _plain(value: Any) -> Any:
    """JSON-shaped ``value`` (tuples as lists), so YAML, JSON and Python values compare."""
    return json.loads(json.dumps(value, default=str))


def _refuse_other_model(run_dir: Path, recorded: RunIdentity, wanted: RunIdentity) -> None:
    """Refuse when the folder's model differs from the one to train in the architecture,
    the task (when both are known) or an option both name."""
    differences = [
        f"{key}={_plain(recorded.model_kwargs[key])!r}"
        for key in sorted(set(recorded.model_kwargs) & set(wanted.model_kwargs))
        if _plain(recorded.model_kwargs[key]) != _plain(wanted.model_kwargs[key])
    ]
    other_task = recorded.task and wanted.task and recorded.task != wanted.task
    if recorded.architecture == wanted.architecture and not other_task and not differences:
        return
    held = f"{recorded.task + ' ' if recorded.task else ''}{recorded.architecture}"
    options = f" ({', '.join(differences)})" if differences else ""
    raise InkfaceError(
        f"{run_dir}: holds another model ({held}{options}), not {wanted.architecture}; "
        "choose another --out (or delete the folder)"
    )


def _other_settings(run_dir: Path, recipe_yaml: str) -> str | None:
    """The first field where the recorded recipe differs from ``recipe_yaml`` (None: the
    same, or an older run folder without a recipe)."""
    path = run_dir / RECIPE_FILE
    if not path.is_file():
        return None
    try:
        old = _read_recipe(path)
    except (OSError, ValueError, RecursionError, yaml.YAMLError):
        old = {}
    return _first_difference(_plain(old), _plain(yaml.safe_load(recipe_yaml)))


def _refuse_other_settings(run_dir: Path, recipe_yaml: str) -> None:
    """Refuse to keep a finished run whose recorded recipe differs from ``recipe_yaml``."""
    where = _other_settings(run_dir, recipe_yaml)
    if where is not None:
        raise InkfaceError(
            f"{run_dir}: finished with other settings ({where}); pass --resume to go on "
            "with the new settings or --force to retrain it from scratch"
        )


def _first_difference(old: Any, new: Any, prefix: str = "") -> str | None:
    """``field: old -> new`` for the first field (dotted path) where two values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            found = _first_difference(old.get(key), new.get(key), f"{prefix}{key}.")
            if found is not None:
                return found
        return None
    if old == new:
        return None
    return f"{prefix.rstrip('.') or 'recipe'}: {old!r} -> {new!r}"
