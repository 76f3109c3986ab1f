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


@dataclass(frozen=True)
class ModelSpec:
    """What is known about a registered architecture before it is built.

    ``input_size`` is (H, W) and ``in_channels`` the channel count the model expects;
    ``kind`` says whether it returns an embedding (Siamese tower) or class logits.
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
) -> Callable[[Builder], Builder]:
    """Decorator registering a builder under ``name``; a second use of a name is refused."""

    def decorator(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=builder,
            input_size=(int(input_size[0]), int(input_size[1])),
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
        )
        return builder

    return decorator


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
