"""Model registry: one name -> one builder, plus the metadata the CLI and trainers need.

Modelled on torchvision ``models/_api.py``: ``register_model`` is the only way in and
refuses a name twice; ``get_model`` is the one factory and, on an unknown name, lists the
valid ones. The table itself is private to this module; the architecture modules fill it
when ``inkface.models`` is imported (see ``models/__init__.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from torch import nn

from inkface.core.errors import InkfaceError

ModelKind = Literal["embedding", "classifier"]
Builder = TypeVar("Builder", bound=Callable[..., nn.Module])
# The ModelSpec field holding each kind's default output width.
_WIDTH_FIELD: dict[ModelKind, str] = {"embedding": "embedding_dim", "classifier": "num_classes"}


@dataclass(frozen=True)
class ModelSpec:
    """What is known about a registered architecture before it is built.

    ``input_size`` is (H, W) and ``in_channels`` the channel count the model expects;
    ``kind`` says whether it returns an embedding (Siamese tower) or class logits.
    ``min_input_size`` is the smallest (H, W) the architecture accepts (torchvision's
    ``min_size``), given by models that are convolutional up to a global pooling; ``None``
    when a Dense layer reads a fixed-size map, so only ``input_size`` works.
    ``embedding_dim`` (towers) and ``num_classes`` (classifiers) are the builder's default
    output width; ``output_dim`` picks the one of the model's kind.
    ``paper_params`` / ``paper_storage_mb`` are the figures the paper prints (DeepSign
    Table 4), shown next to ours by ``inkface info``; ``None`` where a paper gives none.

    Classifier fields: ``normalization`` names the pixel scaling the model expects
    (``"unit"``: [0, 1]; ``"minus_one_to_one"``: [-1, 1]; ``"imagenet"``: [0, 1] then the
    ImageNet mean/std; ``"dataset_mean"``: the training set's mean subtracted);
    ``num_classes`` / ``class_names`` are the builder's defaults; ``paper_comparison``, given
    the built model, returns the text setting the paper's figures beside ours.
    """

    name: str
    builder: Callable[..., nn.Module]
    input_size: tuple[int, int]
    in_channels: int
    description: str
    paper_reference: str = ""
    kind: ModelKind = "embedding"
    paper_params: int | None = None
    paper_storage_mb: float | None = None
    normalization: str = "unit"
    num_classes: int | None = None
    class_names: tuple[str, ...] = ()
    paper_comparison: Callable[[nn.Module], str] | None = None
    min_input_size: tuple[int, int] | None = None
    embedding_dim: int | None = None

    @property
    def output_dim(self) -> int | None:
        """Length of one output row: ``embedding_dim`` (towers), ``num_classes`` (classifiers)."""
        return getattr(self, _WIDTH_FIELD[self.kind])


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    input_size: tuple[int, int],
    in_channels: int,
    description: str,
    paper_reference: str = "",
    kind: ModelKind = "embedding",
    paper_params: int | None = None,
    paper_storage_mb: float | None = None,
    normalization: str = "unit",
    num_classes: int | None = None,
    class_names: tuple[str, ...] = (),
    paper_comparison: Callable[[nn.Module], str] | None = None,
    min_input_size: tuple[int, int] | None = None,
    embedding_dim: int | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator registering a builder under ``name``. Refused (ValueError): a second use of
    a name, a spec without the output width of its kind (``embedding_dim`` for towers,
    ``num_classes`` for classifiers), class names that do not match ``num_classes`` and a
    ``min_input_size`` above ``input_size`` - the generic code and tests rely on all four."""

    def decorator(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        spec = ModelSpec(
            name=name,
            builder=builder,
            input_size=_size(input_size),
            in_channels=int(in_channels),
            description=description,
            paper_reference=paper_reference,
            kind=kind,
            paper_params=paper_params,
            paper_storage_mb=paper_storage_mb,
            normalization=normalization,
            num_classes=num_classes,
            class_names=tuple(class_names),
            paper_comparison=paper_comparison,
            min_input_size=None if min_input_size is None else _size(min_input_size),
            embedding_dim=embedding_dim,
        )
        _check(spec)
        _REGISTRY[name] = spec
        return builder

    return decorator


def _size(size: tuple[int, int]) -> tuple[int, int]:
    """(H, W) as plain ints (sizes may come from YAML or numpy)."""
    return (int(size[0]), int(size[1]))


def _check(spec: ModelSpec) -> None:
    """Refuse metadata the generic code (trainers, export, tests) could not rely on."""
    field = _WIDTH_FIELD[spec.kind]
    width = getattr(spec, field)
    if width is None or width < 1:
        raise ValueError(f"model {spec.name!r} ({spec.kind}) needs {field} >= 1")
    if spec.class_names and len(spec.class_names) != spec.num_classes:
        raise ValueError(
            f"model {spec.name!r}: {len(spec.class_names)} class names "
            f"for num_classes = {spec.num_classes}"
        )
    low = spec.min_input_size
    if low is not None and not all(0 < m <= s for m, s in zip(low, spec.input_size, strict=True)):
        raise ValueError(f"model {spec.name!r}: min_input_size {low} outside 1..{spec.input_size}")


def list_models(kind: ModelKind | None = None) -> list[str]:
    """Sorted registered names, optionally only those of one ``kind``."""
    return sorted(n for n, spec in _REGISTRY.items() if kind is None or spec.kind == kind)


def model_info(name: str) -> ModelSpec:
    """The metadata of ``name``; an unknown name raises InkfaceError listing valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(list_models()) or "(none registered)"
        raise InkfaceError(f"unknown model {name!r}; valid names: {valid}") from None


def get_model(name: str, **kwargs: object) -> nn.Module:
    """Build the registered model ``name`` with the builder's keyword options."""
    spec = model_info(name)
    try:
        inspect.signature(spec.builder).bind(**kwargs)
    except TypeError as exc:
        raise InkfaceError(f"bad option for model {name!r}: {exc}") from None
    return spec.builder(**kwargs)
