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

import os
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
)

from inkface.core.errors import InkfaceError
from inkface.core.input_gate import read_input_bytes


class StrictConfig(BaseModel):
    """A frozen block that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(StrictConfig):
    name: str  # a registered architecture (``inkface info`` lists them)
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kwargs")
    @classmethod
    def _plain_kwargs(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Constructor options are plain YAML data of bounded size (see :func:`check_plain`)."""
        check_plain(value)
        return value


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


class DistributionConfig(StrictConfig):
    """Where a run trains (Lightning DDP): devices per node (a count or ``auto``), nodes
    and strategy (``inkface.training.distributed`` lists them and what each process
    does). ``--devices``, ``--num-nodes`` and ``--strategy`` override it. The default is
    one process on one device."""

    devices: PositiveInt | Literal["auto"] = 1
    num_nodes: PositiveInt = 1
    strategy: Literal["auto", "ddp", "ddp_find_unused_parameters_true"] = "auto"


class RecipeBase(StrictConfig):
    """Name, provenance, dataset roots and where training runs (``distribution``);
    subclasses add ``model``, ``data`` (with ``train`` and ``test`` lists of named
    datasets) and their training blocks."""

    name: str
    description: str = ""
    paper: str = ""
    distribution: DistributionConfig = DistributionConfig()

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
        """The recipe as YAML; ``distribution`` last and only when not the default, so
        the ``recipe.yaml`` of single-process runs reads as before and still matches."""
        data = self.model_dump(mode="json")
        distribution = data.pop("distribution")
        if self.distribution != DistributionConfig():
            data["distribution"] = distribution
        return yaml.safe_dump(data, sort_keys=False)


RecipeT = TypeVar("RecipeT", bound=BaseModel)

# The recipe limits (README, "Limits"): a recipe is a short hand-written file; anything
# larger, deeper or using YAML anchors / aliases (which let a few lines expand to
# gigabytes, the "billion laughs") is refused before it is built.
MAX_RECIPE_BYTES = 1024 * 1024
MAX_RECIPE_NODES = 20_000
MAX_RECIPE_DEPTH = 32
# model.kwargs: plain scalars, lists and mappings only, bounded.
MAX_KWARGS_NODES = 1_000
MAX_KWARGS_DEPTH = 8
MAX_KWARGS_TEXT = 1_000
_SIZE_TEXT = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")
_SIZE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
SIZE_RANGE = (8, 4096)  # sides of an explicit HxW input size


def check_plain(value: Any) -> None:
    """Refuse (ValueError) anything but str / int / float / bool / None, lists and
    string-keyed mappings of them, or data above the ``MAX_KWARGS_*`` bounds."""
    count = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_KWARGS_NODES:
            raise ValueError(f"more than {MAX_KWARGS_NODES} values")
        if depth > MAX_KWARGS_DEPTH:
            raise ValueError(f"nested deeper than {MAX_KWARGS_DEPTH} levels")
        if isinstance(item, str):
            if len(item) > MAX_KWARGS_TEXT:
                raise ValueError(f"a string longer than {MAX_KWARGS_TEXT} characters")
        elif isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                raise ValueError("mapping keys must be strings")
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
        elif item is not None and not isinstance(item, bool | int | float):
            raise ValueError(f"{type(item).__name__} values are not allowed (plain data only)")


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
    if path.suffix in (".yaml", ".yml") or os.path.lexists(path):
        data = read_input_bytes(path, "recipe file", MAX_RECIPE_BYTES)
        try:
            text, origin = data.decode("utf-8"), str(path)
        except UnicodeDecodeError:
            raise InkfaceError(f"{path}: recipe file is not UTF-8 text") from None
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
    if len(text) > MAX_RECIPE_BYTES:
        raise InkfaceError(f"{origin}: recipe is above the {MAX_RECIPE_BYTES:,}-byte limit")
    try:
        _check_events(text, origin)
        raw = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise InkfaceError(f"{origin}: invalid YAML ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict):
        raise InkfaceError(f"{origin}: a recipe must be a YAML mapping")
    _check_size_fields(raw, origin)
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InkfaceError(f"{origin}: field {field}: {first['msg']}") from None


def _check_events(text: str, origin: str) -> None:
    """Refuse anchors, aliases, and documents above the node or depth bounds, from the
    parser's events (before anything is built, so nothing can expand)."""
    nodes = depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise InkfaceError(
                f"{origin}: YAML anchors and aliases (&name, *name) are not allowed in recipes"
            )
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_RECIPE_NODES:
                raise InkfaceError(f"{origin}: recipe has more than {MAX_RECIPE_NODES:,} values")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_RECIPE_DEPTH:
                raise InkfaceError(
                    f"{origin}: recipe is nested deeper than {MAX_RECIPE_DEPTH} levels"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_size_fields(raw: dict[str, Any], origin: str) -> None:
    """Every ``input_size`` given as text must be ``HxW`` (two integers) or a model name."""
    stack: list[tuple[Any, str]] = [(raw, "")]
    while stack:
        block, where = stack.pop()
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            field = f"{where}.{key}" if where else str(key)
            if key == "input_size" and isinstance(value, str):
                _check_size_text(value, field, origin)
            stack.append((value, field))


def _check_size_text(value: str, field: str, origin: str) -> None:
    low, high = SIZE_RANGE
    match = _SIZE_TEXT.fullmatch(value)
    if match is not None:
        if all(low <= int(side) <= high for side in match.groups()):
            return
        raise InkfaceError(
            f"{origin}: field {field}: each side of {value!r} must be {low} to {high} pixels"
        )
    if _SIZE_NAME.fullmatch(value) is None:
        raise InkfaceError(
            f"{origin}: field {field}: expected HxW (two integers, e.g. 150x220) or a "
            f"model name, got {value!r}"
        )
