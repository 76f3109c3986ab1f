"""Fine-tune a trained verifier on one's own signatures (``inkface train --init-from``).

Pretrained verifiers degrade on signatures unlike their training data (another pen,
another scanner, phone photographs). ``--init-from RUN`` starts a new run from a trained
run's tower weights instead of random ones; everything else is an ordinary run, so the
operating points, calibration and writer thresholds are fixed afresh on the user's own
validation writers, and the report shows the test AUROC before and after.

The two runs must see the same input: architecture, model arguments, input size and
preprocessing style are checked, and a mismatch is one error naming each difference.
Without ``--recipe`` the built-in recipe ``finetune-small`` is used (small folders: few
writers, few or no forgeries), with the architecture and input size of the source run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from inkface.core.errors import InkfaceError
from inkface.evaluation.policy import DecisionPolicy
from inkface.models.run import META_FILE, RunMeta, load_run_model, read_meta
from inkface.signatures.verification.embedder import VERIFICATION_TASK
from inkface.signatures.verification.recipe import Recipe, load_recipe

FINETUNE_RECIPE = "finetune-small"


def finetune_recipe(init_from: str | Path, recipe: Recipe | None = None) -> Recipe:
    """The recipe for fine-tuning from ``init_from``: ``recipe`` as given (it is checked
    against the data later), or ``finetune-small`` with the source run's architecture and
    input size. The source run is checked whole first (:func:`check_source`), so a bad
    ``--init-from`` fails before any dataset is read or cached."""
    meta = check_source(init_from)
    if recipe is not None:
        return recipe
    base = load_recipe(FINETUNE_RECIPE)
    model = base.model.model_copy(
        update={"name": meta.architecture, "kwargs": dict(meta.model_kwargs)}
    )
    height, width = meta.input_size
    data = base.data.model_copy(update={"input_size": f"{height}x{width}"})
    return base.model_copy(update={"model": model, "data": data})


def _source_meta(init_from: str | Path) -> RunMeta:
    meta = read_meta(init_from)
    if meta.task != VERIFICATION_TASK:
        raise InkfaceError(
            f"{init_from}: --init-from needs a signature-verification run, not a {meta.task} run"
        )
    return meta


def check_source(init_from: str | Path) -> RunMeta:
    """The metadata of a usable ``--init-from`` run: a verification run whose weights load
    (``model.pt`` fits its architecture) and whose decision policy is well formed; each
    refusal is one line naming the file."""
    meta = _source_meta(init_from)
    load_run_model(init_from)
    DecisionPolicy.from_meta(meta.extra, meta.threshold, Path(init_from) / META_FILE)
    return meta


def check_compatible(
    meta: RunMeta, recipe: Recipe, input_size: tuple[int, int], style: str, source: str | Path
) -> None:
    """Refuse to start from ``meta``'s weights when the new run would feed the tower
    other input than it was trained on (every difference is named)."""
    problems = []
    if meta.architecture != recipe.model.name:
        problems.append(f"architecture {meta.architecture} vs recipe {recipe.model.name}")
    if dict(meta.model_kwargs) != dict(recipe.model.kwargs):
        problems.append(f"model kwargs {meta.model_kwargs} vs {dict(recipe.model.kwargs)}")
    if tuple(meta.input_size) != tuple(input_size):
        problems.append(f"input size {tuple(meta.input_size)} vs {tuple(input_size)}")
    trained_style = str(meta.preprocessing.get("style", "cedar"))
    if trained_style != style:
        problems.append(f"preprocessing style {trained_style} vs {style} (the new data)")
    if problems:
        raise InkfaceError(f"--init-from {source}: not the same model input: {'; '.join(problems)}")


def load_source_tower(
    init_from: str | Path, recipe: Recipe, input_size: tuple[int, int], style: str
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The source run's tower (checked compatible) and what ``meta.json`` records of it."""
    meta = _source_meta(init_from)
    check_compatible(meta, recipe, input_size, style, init_from)
    tower, _ = load_run_model(init_from)
    record = {
        "run": str(Path(init_from).resolve()),
        "architecture": meta.architecture,
        "recipe": (meta.extra or {}).get("recipe"),
        "trained_on": (meta.extra or {}).get("trained_on"),
    }
    return tower, record
