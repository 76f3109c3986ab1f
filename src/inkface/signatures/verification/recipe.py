"""Verification recipes (DeepSign paper experiments): one YAML file per experiment in
``inkface/recipes/``, validated into typed settings on top of :mod:`inkface.core.recipe`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from inkface.core.errors import InkfaceError
from inkface.core.recipe import (
    SIZE_RANGE,
    ModelConfig,
    OptimizerConfig,
    RecipeBase,
    StrictConfig,
    builtin_names,
    load_recipe_file,
    recipe_folder,
)
from inkface.evaluation.operating_points import (
    DEFAULT_OPERATING_POINT,
    DEFAULT_OPERATING_POINTS,
    canonical_name,
)
from inkface.models import list_models

_SIZE_TEXT = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")


class DatasetConfig(StrictConfig):
    name: Literal["cedar", "bhsig260", "bengali", "hindi", "folder"]
    root: str | None = None


class DataConfig(StrictConfig):
    train: list[DatasetConfig]
    test: list[DatasetConfig] = Field(default_factory=list)
    seed: int = 0
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    # The paper trains on genuine and skilled pairs only; random forgeries are added
    # to validation and test for reporting, and optionally to training.
    random_forgeries_in_training: bool = False
    # "HxW", or a registered model's name for its input size; default: the model's own.
    input_size: str | None = None

    @field_validator("input_size")
    @classmethod
    def _size_spec(cls, spec: str | None) -> str | None:
        """Refuse what :func:`~inkface.signatures.verification.data.prepare_data` could
        not read (``64x80x3``, ``0x80``, an unknown name) when the recipe is built, so
        the error names this field; recipe files are checked alike on loading."""
        if spec is None:
            return None
        match = _SIZE_TEXT.fullmatch(spec)
        if match is not None:
            low, high = SIZE_RANGE
            if not all(low <= int(side) <= high for side in match.groups()):
                raise ValueError(f"each side of {spec!r} must be {low} to {high} pixels")
            return spec
        if spec not in list_models():
            raise ValueError(
                f"expected HxW (two integers, e.g. 150x220) or a model name, got {spec!r}"
            )
        return spec


def parse_input_size(spec: str) -> tuple[int, int] | None:
    """``"150x220"`` -> ``(150, 220)``; None for anything else (a model's name)."""
    match = _SIZE_TEXT.fullmatch(spec)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


class TrainingConfig(StrictConfig):
    batch_pairs: int = Field(32, ge=1)
    max_epochs: int = Field(20, ge=1)
    patience: int | None = Field(2, ge=1)  # early stopping on validation accuracy
    margin: float = Field(1.0, gt=0)
    precision: str = "32-true"
    accelerator: str = "auto"
    devices: int | str = "auto"
    num_workers: int = Field(0, ge=0)
    max_train_batches: int | float | None = None  # cap per epoch (demos on a CPU)


class EvaluationConfig(StrictConfig):
    bootstrap: int = Field(1000, ge=0)
    confidence: float = Field(0.95, gt=0, lt=1)
    # Operating points fixed on validation and stored in meta.json (accuracy, eer,
    # far=X, frr=X); ``inkface verify --operating-point`` picks one, default below.
    operating_points: list[str] = Field(default_factory=lambda: list(DEFAULT_OPERATING_POINTS))
    default_operating_point: str = DEFAULT_OPERATING_POINT

    @field_validator("operating_points")
    @classmethod
    def _known_points(cls, names: list[str]) -> list[str]:
        try:
            canonical = [canonical_name(n) for n in names]
        except InkfaceError as exc:
            raise ValueError(str(exc)) from None
        if not canonical:
            raise ValueError("give at least one operating point")
        return list(dict.fromkeys(canonical))

    @field_validator("default_operating_point")
    @classmethod
    def _known_default(cls, name: str) -> str:
        try:
            return canonical_name(name)
        except InkfaceError as exc:
            raise ValueError(str(exc)) from None


class Recipe(RecipeBase):
    """A Siamese verification experiment: tower, datasets, optimizer, training, evaluation."""

    model: ModelConfig
    data: DataConfig
    optimizer: OptimizerConfig
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()


def builtin_recipes() -> list[str]:
    """Names of the verification recipes shipped in ``inkface/recipes``."""
    return builtin_names(recipe_folder())


def load_recipe(name_or_path: str | Path) -> Recipe:
    """Load a built-in verification recipe by name or a YAML file by path."""
    return load_recipe_file(name_or_path, recipe_folder(), Recipe)
