"""Load ImageNet weights for the smile paper's transfer-learning baselines from a local file.

Nothing is downloaded (the build machines are offline): the user points at a state dict
saved by torchvision (``torch.save(torchvision.models.vgg16(weights=...).state_dict())``)
and it is read with ``torch.load(weights_only=True)``, which never runs pickled code. Our
baselines use torchvision's module names, so the key map is the identity except:

===================  ====================  ==========================================
model                ours                  torchvision
===================  ====================  ==========================================
MNASNet              ``features.<i>...``   ``layers.<i>...``
Inception V3         ``features.<block>``  ``<block>`` (``Conv2d_1a_3x3`` ... ``Mixed_7c``)
Inception V3         ``classifier.fc``     ``fc``
===================  ====================  ==========================================

The final classification layer (and Inception's auxiliary ``fc``) is copied only when its
shape matches, so 1000-class ImageNet files load into 2-class smile models with a fresh
head; every other key must match exactly or nothing is loaded.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from inkface.core.errors import InkfaceError
from inkface.models.weights_file import read_state_dict

# our key prefix -> torchvision key prefix, first match wins; identity when absent
_RENAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "MNASNet": (("features.", "layers."),),
    "InceptionV3": (("classifier.fc.", "fc."), ("features.", "")),
}
_OPTIONAL_SUFFIX = "num_batches_tracked"


def torchvision_key(model: nn.Module, ours: str) -> str:
    """The torchvision state-dict key of our key ``ours`` for ``model``'s architecture."""
    for our_prefix, their_prefix in _RENAMES.get(type(model).__name__, ()):
        if ours.startswith(our_prefix):
            return their_prefix + ours[len(our_prefix) :]
    return ours


def head_keys(model: nn.Module) -> set[str]:
    """Our keys of the task-specific output layers: the last linear layer of
    ``classifier`` and, where present, the auxiliary classifier's ``fc``."""
    keys: set[str] = set()
    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Module):
        linears = [(n, m) for n, m in head.named_modules() if isinstance(m, nn.Linear)]
        if linears:
            name = linears[-1][0]
            prefix = "classifier." + name + "." if name else "classifier."
            keys |= {prefix + "weight", prefix + "bias"}
    if getattr(model, "AuxLogits", None) is not None:
        keys |= {"AuxLogits.fc.weight", "AuxLogits.fc.bias"}
    return keys


def _examples(keys: list[str]) -> str:
    return ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "")


def load_imagenet_weights(model: nn.Module, path: str | os.PathLike[str]) -> list[str]:
    """Copy torchvision-named weights from ``path`` into ``model``; returns our keys left
    at their initial values (the output layers whose shapes differ from the file's).

    Missing keys, unexpected keys (other than an auxiliary classifier the model does not
    have) and shape mismatches outside the output layers raise InkfaceError naming the file
    and a few keys; the model is then unchanged.
    """
    state = read_state_dict(path)
    ours = model.state_dict()
    mapping = {key: torchvision_key(model, key) for key in ours}
    heads = head_keys(model)
    expected = set(mapping.values())
    has_aux = getattr(model, "AuxLogits", None) is not None
    unexpected = sorted(
        k for k in state if k not in expected and (has_aux or not k.startswith("AuxLogits."))
    )
    missing = sorted(
        theirs
        for key, theirs in mapping.items()
        if theirs not in state and not key.endswith(_OPTIONAL_SUFFIX)
    )
    mismatched = sorted(
        f"{theirs} {tuple(state[theirs].shape)} vs {tuple(ours[key].shape)}"
        for key, theirs in mapping.items()
        if theirs in state and key not in heads and state[theirs].shape != ours[key].shape
    )
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing keys, e.g. {_examples(missing)}")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected keys, e.g. {_examples(unexpected)}")
        if mismatched:
            problems.append(f"{len(mismatched)} shape mismatches, e.g. {_examples(mismatched)}")
        raise InkfaceError(
            f"weights file {path} does not match {type(model).__name__}: " + "; ".join(problems)
        )
    new_state: dict[str, torch.Tensor] = {}
    kept: list[str] = []
    for key, theirs in mapping.items():
        value = state.get(theirs)
        if value is None or value.shape != ours[key].shape:
            new_state[key] = ours[key]
            if value is not None:
                kept.append(key)
            continue
        new_state[key] = value.to(ours[key].dtype)
    model.load_state_dict(new_state, strict=True)
    return sorted(kept)


def torchvision_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict under torchvision's key names (the inverse map; used to
    export and in tests to generate files shaped like torchvision's)."""
    return {torchvision_key(model, k): v for k, v in model.state_dict().items()}
