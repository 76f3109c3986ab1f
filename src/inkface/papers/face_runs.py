"""Training the face recipes a face-paper table needs, once each, reused on a rerun.

The smile, FER and mask experiments all fill their tables from runs of the face recipes
(``inkface/recipes/faces``). :class:`FaceRuns` turns a recipe name and a trial number
into a finished run folder under ``OUT/runs/RECIPE/trialN``: on the dataset roots given,
or without roots on generated faces at a small size for a few epochs (see
:mod:`inkface.faces.classification.quick`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.faces.classification.quick import (
    quick_recipe,
    synthetic_faces,
    write_synthetic_cifar10,
)
from inkface.faces.classification.recipe import FaceRecipe, load_face_recipe
from inkface.papers.scaffold import ReproductionRun

SYNTHETIC_FACES = "generated faces"


@dataclass(frozen=True)
class FaceRuns:
    """The recipes of one face experiment, with its command-line overrides."""

    run: ReproductionRun
    max_epochs: int | None = None
    accelerator: str | None = None
    weights: Mapping[str, str] = field(default_factory=dict)

    def recipe(self, name: str) -> FaceRecipe:
        """Recipe ``name`` on the given roots (or generated data), with the overrides."""
        recipe = load_face_recipe(name)
        if self.run.synthetic:
            data = synthetic_faces(self.run.data_dir, recipe.task)
            source = write_synthetic_cifar10(self.run.data_dir / "cifar10")
            recipe = quick_recipe(recipe, data, self.max_epochs or 1, source)
        else:
            used = recipe.dataset_names()
            recipe = recipe.with_roots({k: v for k, v in self.run.roots.items() if k in used})
            if recipe.model.name in self.weights:
                recipe = recipe.updated("model", imagenet_weights=self.weights[recipe.model.name])
            if self.max_epochs is not None:
                for section in ("pretrain", "training", "finetune"):
                    recipe = recipe.updated(section, max_epochs=self.max_epochs)
        if self.accelerator:
            recipe = recipe.model_copy(update={"accelerator": self.accelerator})
        return recipe

    def metrics(self, name: str, trial: int = 0) -> dict[str, Any]:
        """Train (or reuse a finished run of) recipe ``name`` with seed ``trial``."""
        # Local import (start-up time): the trainer loads torch and Lightning.
        from inkface.faces.classification.train import train_face_classifier

        run_dir = self.run.out / "runs" / name / f"trial{trial}"
        if not (run_dir / "meta.json").is_file():  # written last: the run is complete
            recipe = self.recipe(name)
            train_face_classifier(
                recipe,
                run_dir,
                cache_dir=self.run.cache_dir,
                progress=self.run.progress,
                seed=recipe.data.seed + trial,
            )
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        metrics["run_dir"] = str(run_dir)
        return metrics


def check_names(kind: str, given: Mapping[str, Any] | tuple[str, ...], known: list[str]) -> None:
    """Refuse ``--models`` / ``--weights`` names the experiment has no use for."""
    unknown = [name for name in given if name not in known]
    if unknown:
        raise InkfaceError(
            f"{kind} {', '.join(unknown)}: not in this experiment (choose from {', '.join(known)})"
        )


def accuracy(metrics: Mapping[str, Any], test: str) -> float | None:
    """The accuracy of a run on test set ``test``, None when it has no such test."""
    block = metrics["tests"].get(test)
    return None if block is None else block["accuracy"]


def saved_probs(metrics: Mapping[str, Any], test: str) -> tuple[np.ndarray, np.ndarray]:
    """A run's saved class probabilities and labels on test set ``test``."""
    run = Path(metrics["run_dir"])
    return np.load(run / f"test_probs_{test}.npy"), np.load(run / f"test_labels_{test}.npy")
