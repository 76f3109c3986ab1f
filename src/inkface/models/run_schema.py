"""The versioned schema of a run folder's ``meta.json`` (format 1).

A run folder may come from anywhere (a download, a shared drive, a colleague), so its
metadata is validated before anything is built from it: a registered architecture,
an input size of at most :data:`MAX_SIDE` pixels per side (refused before torch or
OpenCV allocates an image of that size), finite positive thresholds, a known pixel
normalisation, class names matching the classifier head's width when that width is
known. Unknown top-level keys are kept (products add their own, e.g. ``trained_on``).

:func:`validate_meta` turns the first problem into one line naming ``meta.json`` and the
field, which the CLI prints as ``error: ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from inkface.core.errors import InkfaceError
from inkface.models.registry import list_models, model_info

RUN_FORMAT = 1
MAX_SIDE = 4096  # pixels per side of a model input; far above any registered model (299)
NORMALIZATIONS = ("unit", "minus_one_to_one", "imagenet", "dataset_mean")

Side = Annotated[StrictInt, Field(ge=1, le=MAX_SIDE)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]


class Preprocessing(BaseModel):
    """The preprocessing block; products may add keys (``style``, ``description``...)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    normalization: Literal["unit", "minus_one_to_one", "imagenet", "dataset_mean"] | None = None
    in_channels: Literal[1, 3] | None = None
    mean: list[FiniteFloat] | None = None

    @model_validator(mode="after")
    def _mean_fits(self) -> Preprocessing:
        if self.normalization == "dataset_mean" and self.mean is None:
            raise ValueError("dataset_mean normalization needs a mean")
        if self.mean is not None and len(self.mean) != (self.in_channels or len(self.mean)):
            raise ValueError(f"mean has {len(self.mean)} values for {self.in_channels} channels")
        return self


class RunMetaV1(BaseModel):
    """``meta.json`` of format 1, as :class:`inkface.models.run.RunMeta` writes it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    format_version: Literal[1]
    inkface_version: StrictStr = ""
    task: Name = "signature-verification"
    architecture: Name
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    input_size: tuple[Side, Side]
    preprocessing: Preprocessing
    threshold: Annotated[FiniteFloat, Field(gt=0)] | None = None
    class_names: list[Name] | None = None

    @field_validator("architecture")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in list_models():
            raise ValueError(f"unknown model {name!r}")
        return name

    @model_validator(mode="after")
    def _classes_fit_head(self) -> RunMetaV1:
        width = head_width(self.architecture, self.model_kwargs)
        if self.class_names is not None and width is not None and len(self.class_names) != width:
            raise ValueError(
                f"class_names: {len(self.class_names)} names for a head of {width} outputs"
            )
        return self


def head_width(architecture: str, model_kwargs: dict[str, Any]) -> int | None:
    """Outputs of a classifier's head (``num_classes`` given, else the registered default);
    None for an embedding tower or when unknown."""
    spec = model_info(architecture)
    if spec.kind != "classifier":
        return None
    given = model_kwargs.get("num_classes", spec.num_classes)
    return given if isinstance(given, int) and not isinstance(given, bool) else None


def validate_meta(data: Any, source: str | Path) -> RunMetaV1:
    """``data`` (parsed ``meta.json``) checked against the schema of its format version;
    InkfaceError naming ``source`` and the first bad field otherwise."""
    if not isinstance(data, dict):
        raise InkfaceError(f"{source}: expected a JSON object")
    version = data.get("format_version")
    if version != RUN_FORMAT or isinstance(version, bool):
        raise InkfaceError(f"{source}: unsupported run format {version!r} (expected 1)")
    try:
        return RunMetaV1.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        where = f"field {field}: " if field else ""
        raise InkfaceError(f"{source}: {where}{message}") from None
