"""The recipe base schema: what every paper experiment's YAML file shares.

A recipe names datasets, not paths: roots are given when a run starts
(``--root cedar=DIR``), so the same recipe works on every machine. Unknown keys are
refused (a typo must not silently fall back to a default), and every error names the
file and the field. Each product extends :class:`RecipeBase` with its own ``data`` and
``training`` sections (:mod:`inkface.signatures.verification.recipe`,
:mod:`inkface.faces.classification.recipe`); the optimizer and learning-rate schedule
blocks are the same everywhere.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inkface.core.errors import InkfaceError


class StrictConfig(BaseModel):
    """A frozen block that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(StrictConfig):
    name: str  # a registered architecture (``inkface info`` lists them)
    kwargs: dict[str, Any] = Field(default_factory=dict)


class OptimizerConfig(StrictConfig):
    name: Literal["adam", "rmsprop", "sgd"]
    lr: float = Field(gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.0
    alpha: float = 0.99  # RMSprop smoothing (Keras "rho")
    eps: float = 1e-8
    weight_decay: float = 0.0
    nesterov: bool = False


class ScheduleConfig(StrictConfig):
    name: Literal["none", "plateau", "multistep", "inverse_time"] = "none"
    factor: float = Field(0.1, gt=0, lt=1)
    patience: int = Field(2, ge=0)
    min_lr: float = Field(1e-7, ge=0)
    milestones: list[int] = Field(default_factory=lambda: [4, 6])
    gamma: float = Field(0.1, gt=0)
    decay: float = Field(0.0, ge=0)  # inverse_time: Keras ``decay``


class RecipeBase(StrictConfig):
    """Name, provenance and dataset roots; subclasses add ``model``, ``data`` (with
    ``train`` and ``test`` lists of named datasets) and their training blocks."""

    name: str
    description: str = ""
    paper: str = ""

    def dataset_names(self) -> set[str]:
        data = self.data  # type: ignore[attr-defined]
        return {d.name for d in (*data.train, *data.test)}

    def _root_updates(self, roots: dict[str, str | Path]) -> dict[str, Any]:
        """Fields other than ``data`` that take a root (a pre-training source)."""
        return {}

    def with_roots(self, roots: dict[str, str | Path]) -> Self:
        """A copy whose datasets take their roots from ``roots`` (name -> folder)."""
        unknown = set(roots) - self.dataset_names()
        if unknown:
            raise InkfaceError(
                f"--root given for {sorted(unknown)}, which recipe {self.name} does not use "
                f"(it uses {', '.join(sorted(self.dataset_names()))})"
            )
        data = self.data  # type: ignore[attr-defined]

        def fill(items: list[Any]) -> list[Any]:
            return [
                d.model_copy(update={"root": str(roots[d.name])}) if d.name in roots else d
                for d in items
            ]

        filled = data.model_copy(update={"train": fill(data.train), "test": fill(data.test)})
        return self.model_copy(update={"data": filled, **self._root_updates(roots)})

    def updated(self, section: str, **values: Any) -> Self:
        """A copy with fields of one section replaced (CLI overrides, quick runs)."""
        block = getattr(self, section)
        if block is None:
            return self
        return self.model_copy(update={section: block.model_copy(update=values)})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


RecipeT = TypeVar("RecipeT", bound=BaseModel)


def recipe_folder(*parts: str) -> Traversable:
    """A folder of built-in recipes inside the installed package."""
    folder = resources.files("inkface") / "recipes"
    for part in parts:
        folder = folder / part
    return folder


def builtin_names(folder: Traversable) -> list[str]:
    """Names of the YAML recipes in ``folder``."""
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_recipe_file(
    name_or_path: str | Path, folder: Traversable, schema: type[RecipeT], kind: str = "recipe"
) -> RecipeT:
    """A built-in recipe of ``folder`` by name, or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InkfaceError(f"{path}: recipe file not found")
        text, origin = path.read_text(encoding="utf-8"), str(path)
    else:
        resource = folder / f"{name_or_path}.yaml"
        if not resource.is_file():
            raise InkfaceError(
                f"unknown {kind} {name_or_path!r} (built-in: {', '.join(builtin_names(folder))})"
            )
        text, origin = resource.read_text(encoding="utf-8"), f"recipe {name_or_path}"
    return parse_recipe(text, origin, schema)


def parse_recipe(text: str, origin: str, schema: type[RecipeT]) -> RecipeT:
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
