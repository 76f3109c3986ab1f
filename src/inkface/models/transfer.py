"""Two-stage transfer learning helpers (smile paper 7.2.2, FER paper III-A, mask report).

The smile paper first trains only the new head with the feature extractor frozen, then
unfreezes "layers starting from a specific layer" and trains on at a lower learning rate;
the FER paper keeps every pre-trained layer and "only changes the final layer"; the mask
report freezes the whole MobileNetV2 base. Every classifier of ``inkface.models`` built on
``TransferClassifier`` has a ``features`` module (the backbone, whose direct children are
the layer names accepted here) and a ``classifier`` module ending in a ``nn.Linear``.

Frozen BatchNorm layers stay in eval mode (their running statistics never move), as Keras
does for ``layer.trainable = False``: ``TransferClassifier.train`` re-applies it.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from inkface.core.errors import InkfaceError


class TransferClassifier(nn.Module):
    """Base of the face classifiers: ``features`` + ``classifier``; frozen BN stays in eval."""

    features: nn.Module
    classifier: nn.Module

    def train(self, mode: bool = True) -> TransferClassifier:
        """Switch modes; BatchNorm layers whose parameters are frozen stay in eval mode."""
        super().train(mode)
        if mode:
            for m in self.modules():
                if isinstance(m, _BatchNorm) and _is_frozen(m):
                    m.eval()
        return self


def _is_frozen(module: nn.Module) -> bool:
    params = list(module.parameters())
    return bool(params) and not any(p.requires_grad for p in params)


def _backbone_children(model: nn.Module) -> list[tuple[str, nn.Module]]:
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Module):
        raise InkfaceError(f"model {type(model).__name__} has no 'features' backbone to freeze")
    return list(features.named_children())


def _index_of(children: list[tuple[str, nn.Module]], layer_name: str, field: str) -> int:
    names = [name for name, _ in children]
    short = layer_name.removeprefix("features.")
    if short not in names:
        raise InkfaceError(
            f"{field}: unknown backbone layer {layer_name!r}; valid names: {', '.join(names)}"
        )
    return names.index(short)


def _set_trainable(modules: list[nn.Module], trainable: bool, training: bool) -> None:
    for module in modules:
        module.requires_grad_(trainable)
        for m in module.modules():
            if isinstance(m, _BatchNorm):
                m.train(training and trainable)


def trainable_parameters(model: nn.Module) -> int:
    """Number of parameter elements that will receive gradients."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def freeze_backbone(model: nn.Module, until: str | None = None) -> int:
    """Freeze ``model.features`` (stage one), or only its layers before ``until``.

    ``until`` is the name of a direct child of ``features`` (``"12"``, ``"Mixed_6a"``,
    ``"features.12"`` also accepted); that layer and those after it stay trainable. Frozen
    BatchNorm layers are put in eval mode. Returns the trainable parameter count.
    """
    children = _backbone_children(model)
    stop = len(children) if until is None else _index_of(children, until, "until")
    _set_trainable([m for _, m in children[:stop]], False, model.training)
    return trainable_parameters(model)


def unfreeze_from(model: nn.Module, layer_name: str) -> int:
    """Make backbone layers trainable from ``layer_name`` to the end (stage two of the
    smile paper's fine-tuning); earlier layers keep their state. Returns the trainable count."""
    children = _backbone_children(model)
    start = _index_of(children, layer_name, "unfreeze_from")
    _set_trainable([m for _, m in children[start:]], True, model.training)
    return trainable_parameters(model)


def replace_classifier(model: nn.Module, num_classes: int) -> nn.Module:
    """Swap the last ``nn.Linear`` of ``model.classifier`` for a fresh one with
    ``num_classes`` outputs (FER paper: pre-train on CIFAR-10, "only change the final layer").
    The new layer is trainable and initialised N(0, 0.01) with a zero bias; returns ``model``.
    """
    if num_classes < 1:
        raise InkfaceError(f"num_classes must be >= 1, got {num_classes}")
    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Linear):
        parent, attr = model, "classifier"
    else:
        linears = [
            (name, m)
            for name, m in (head.named_modules() if head is not None else [])
            if isinstance(m, nn.Linear)
        ]
        if not linears:
            raise InkfaceError(f"model {type(model).__name__} has no linear classifier to replace")
        path = linears[-1][0].split(".")
        parent = head
        for part in path[:-1]:
            parent = getattr(parent, part)
        attr = path[-1]
    old: nn.Linear = getattr(parent, attr)
    new = nn.Linear(old.in_features, num_classes).to(old.weight.device, old.weight.dtype)
    nn.init.normal_(new.weight, 0.0, 0.01)
    nn.init.zeros_(new.bias)
    setattr(parent, attr, new)
    if hasattr(model, "num_classes"):
        model.num_classes = num_classes
    return model


def params_with_head(model: nn.Module, num_classes: int) -> int:
    """Total parameters ``model`` would have with a ``num_classes``-way final layer (to set
    a 2-class smile baseline beside the standard 1000-class ImageNet count)."""
    head = getattr(model, "classifier", None)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)] if head is not None else []
    if not linears:
        raise InkfaceError(f"model {type(model).__name__} has no linear classifier")
    last = linears[-1]
    now = sum(p.numel() for p in model.parameters())
    head_now = last.weight.numel() + (last.bias.numel() if last.bias is not None else 0)
    bias = 1 if last.bias is not None else 0
    return now - head_now + num_classes * (last.in_features + bias)


def imagenet_comparison(standard_params: int, source: str) -> Callable[[nn.Module], str]:
    """A ``paper_comparison`` for an ImageNet baseline: the standard 1000-class parameter
    count (``source`` names where it is published) beside ours rebuilt at 1000 classes."""

    def compare(model: nn.Module) -> str:
        ours = params_with_head(model, 1000)
        return "\n".join(
            [
                f"standard ImageNet count ({source}) vs ours, both at 1000 classes:",
                f"  parameters: standard {standard_params:,}; ours {ours:,}"
                + ("" if ours == standard_params else f" ({ours - standard_params:+,})"),
            ]
        )

    return compare
