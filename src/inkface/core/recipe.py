"""YAML recipes: one file per paper experiment, validated into typed settings.

A recipe names datasets, not paths: roots are given when a run starts
(``--root cedar=DIR``), so the same recipe works on every machine. Unknown keys are
refused (a typo must not silently fall back to a default), and every error names the
file and the field.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inkface.core.errors import InkfaceError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    name: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class DatasetConfig(_Strict):
    name: Literal["cedar", "bhsig260", "bengali", "hindi", "folder"]
    root: str | None = None


class DataConfig(_Strict):
    train: list[DatasetConfig]
    test: list[DatasetConfig] = Field(default_factory=list)
    seed: int = 0
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    # The paper trains on genuine and skilled pairs only; random forgeries are added
    # to validation and test for reporting, and optionally to training.
    random_forgeries_in_training: bool = False
    input_size: str | None = None  # default: the model's registered input size


class OptimizerConfig(_Strict):
    name: Literal["adam", "rmsprop", "sgd"]
    lr: float = Field(gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.0
    alpha: float = 0.99  # RMSprop smoothing (Keras "rho")
    eps: float = 1e-8
    weight_decay: float = 0.0
    nesterov: bool = False


class TrainingConfig(_Strict):
    batch_pairs: int = Field(32, ge=1)
    max_epochs: int = Field(20, ge=1)
    patience: int | None = Field(2, ge=1)  # early stopping on validation accuracy
    margin: float = Field(1.0, gt=0)
    precision: str = "32-true"
    accelerator: str = "auto"
    devices: int | str = "auto"
    num_workers: int = Field(0, ge=0)
    max_train_batches: int | float | None = None  # cap per epoch (demos on a CPU)


class EvaluationConfig(_Strict):
    bootstrap: int = Field(1000, ge=0)
    confidence: float = Field(0.95, gt=0, lt=1)


class Recipe(_Strict):
    name: str
    description: str = ""
    paper: str = ""
    model: ModelConfig
    data: DataConfig
    optimizer: OptimizerConfig
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()

    def with_roots(self, roots: dict[str, str | Path]) -> Recipe:
        """A copy whose datasets take their roots from ``roots`` (name -> folder)."""
        unknown = set(roots) - {d.name for d in (*self.data.train, *self.data.test)}
        if unknown:
            raise InkfaceError(
                f"--root given for {sorted(unknown)}, which recipe {self.name} does not use"
            )

        def fill(items: list[DatasetConfig]) -> list[DatasetConfig]:
            return [
                d.model_copy(update={"root": str(roots[d.name])}) if d.name in roots else d
                for d in items
            ]

        data = self.data.model_copy(
            update={"train": fill(self.data.train), "test": fill(self.data.test)}
        )
        return self.model_copy(update={"data": data})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def builtin_recipes() -> list[str]:
    """Names of the recipes shipped in ``inkface/recipes``."""
    folder = resources.files("inkface") / "recipes"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_recipe(name_or_path: str | Path) -> Recipe:
    """Load a built-in recipe by name or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InkfaceError(f"{path}: recipe file not found")
        text, origin = path.read_text(encoding="utf-8"), str(path)
    else:
        resource = resources.files("inkface") / "recipes" / f"{name_or_path}.yaml"
        if not resource.is_file():
            raise InkfaceError(
                f"unknown recipe {name_or_path!r} (built-in: {', '.join(builtin_recipes())})"
            )
        text, origin = resource.read_text(encoding="utf-8"), f"recipe {name_or_path}"
    return parse_recipe(text, origin, Recipe)


ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_recipe(text: str, origin: str, schema: type[ModelT]) -> ModelT:
    """YAML text -> validated ``schema``; errors name ``origin`` and the first bad field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InkfaceError(f"{origin}: invalid YAML ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict):
        raise InkfaceError(f"{origin}: a recipe must be a YAML mapping")
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InkfaceError(f"{origin}: field {field}: {first['msg']}") from None
