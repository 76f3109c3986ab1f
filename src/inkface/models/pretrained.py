"""Load ImageNet MobileNetV2 weights from a local file into ``MobileNetV2Features``.

No weights are downloaded here (the build machines are offline): the user points at a
``.pth`` / ``.pt`` state dict saved by torchvision (``mobilenet_v2``) or timm
(``mobilenetv2_100``), read by :func:`~inkface.models.weights_file.read_state_dict`
(``torch.load(weights_only=True)``, which never runs pickled code). Keys are renamed onto
our module names by an explicit table:

=====================  =====================================  ==============================
ours                   torchvision                            timm
=====================  =====================================  ==============================
stem.conv / stem.bn    features.0.0 / features.0.1            conv_stem / bn1
block 0 (t = 1)        features.1.conv.0.0 / .conv.0.1 (dw)   blocks.0.0.conv_dw / bn1
                       features.1.conv.1 / .conv.2 (project)  blocks.0.0.conv_pw / bn2
block k (t = 6)        features.{k+1}.conv.0.0 / .0.1 (exp)   blocks.{s}.{j}.conv_pw / bn1
                       features.{k+1}.conv.1.0 / .1.1 (dw)    blocks.{s}.{j}.conv_dw / bn2
                       features.{k+1}.conv.2 / .conv.3 (prj)  blocks.{s}.{j}.conv_pwl / bn3
head.conv / head.bn    features.18.0 / features.18.1          conv_head / bn2
(ignored)              classifier.1.*                         classifier.*
=====================  =====================================  ==============================

``s`` is the stage of the (t, c, n, s) table and ``j`` the block within it (timm groups
1, 2, 3, 4, 3, 3, 1 blocks); ``k`` is the flat block index (0..16).
"""

from __future__ import annotations

import os
from typing import Literal

import torch

from inkface.core.errors import InkfaceError
from inkface.models.mobilenetv2_backbone import MobileNetV2Features
from inkface.models.weights_file import read_state_dict

Naming = Literal["torchvision", "timm"]
_BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_OPTIONAL_SUFFIX = "num_batches_tracked"


def _module_pairs(features: MobileNetV2Features, naming: Naming) -> list[tuple[str, str, str]]:
    """(our ConvBNAct prefix, their conv prefix, their BatchNorm prefix) for every layer."""
    pairs: list[tuple[str, str, str]] = []
    tv = naming == "torchvision"
    pairs.append(("stem", "features.0.0", "features.0.1") if tv else ("stem", "conv_stem", "bn1"))
    stage_of: list[tuple[int, int]] = [
        (stage, j) for stage, size in enumerate(features.stage_sizes) for j in range(size)
    ]
    for k, block in enumerate(features.blocks):
        ours = f"blocks.{k}"
        if tv:
            p = f"features.{k + 1}.conv"
            if block.expand is None:
                pairs.append((f"{ours}.depthwise", f"{p}.0.0", f"{p}.0.1"))
                pairs.append((f"{ours}.project", f"{p}.1", f"{p}.2"))
            else:
                pairs.append((f"{ours}.expand", f"{p}.0.0", f"{p}.0.1"))
                pairs.append((f"{ours}.depthwise", f"{p}.1.0", f"{p}.1.1"))
                pairs.append((f"{ours}.project", f"{p}.2", f"{p}.3"))
        else:
            stage, j = stage_of[k]
            p = f"blocks.{stage}.{j}"
            if block.expand is None:
                pairs.append((f"{ours}.depthwise", f"{p}.conv_dw", f"{p}.bn1"))
                pairs.append((f"{ours}.project", f"{p}.conv_pw", f"{p}.bn2"))
            else:
                pairs.append((f"{ours}.expand", f"{p}.conv_pw", f"{p}.bn1"))
                pairs.append((f"{ours}.depthwise", f"{p}.conv_dw", f"{p}.bn2"))
                pairs.append((f"{ours}.project", f"{p}.conv_pwl", f"{p}.bn3"))
    n = len(features.blocks) + 1
    pairs.append(
        ("head", f"features.{n}.0", f"features.{n}.1") if tv else ("head", "conv_head", "bn2")
    )
    return pairs


def key_map(features: MobileNetV2Features, naming: Naming) -> dict[str, str]:
    """Our state-dict key -> the same tensor's key in a torchvision or timm state dict."""
    mapping: dict[str, str] = {}
    for ours, conv, bn in _module_pairs(features, naming):
        mapping[f"{ours}.conv.weight"] = f"{conv}.weight"
        for suffix in _BN_SUFFIXES:
            mapping[f"{ours}.bn.{suffix}"] = f"{bn}.{suffix}"
    return mapping


def detect_naming(state: dict[str, torch.Tensor]) -> Naming | None:
    """``torchvision`` or ``timm`` from the stem's key, ``None`` when neither is present."""
    if "features.0.0.weight" in state:
        return "torchvision"
    if "conv_stem.weight" in state:
        return "timm"
    return None


def load_mobilenetv2_imagenet(
    features_module: MobileNetV2Features, path: str | os.PathLike[str]
) -> Naming:
    """Copy torchvision- or timm-named ImageNet weights from ``path`` into ``features_module``.

    Returns the naming found. Missing keys, unknown keys (other than the classifier's) and
    shape mismatches are refused with an InkfaceError naming the file; nothing is copied then.
    """
    state = read_state_dict(path)
    naming = detect_naming(state)
    if naming is None:
        raise InkfaceError(
            f"weights file {path} is not a torchvision or timm MobileNetV2 state dict "
            "(no 'features.0.0.weight' or 'conv_stem.weight' key)"
        )
    mapping = key_map(features_module, naming)
    ours_state = features_module.state_dict()
    classifier = "classifier."
    unknown = sorted(k for k in set(state) - set(mapping.values()) if not k.startswith(classifier))
    missing = [
        theirs
        for ours, theirs in mapping.items()
        if theirs not in state and not ours.endswith(_OPTIONAL_SUFFIX)
    ]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing keys, e.g. {', '.join(missing[:4])}")
        if unknown:
            problems.append(f"{len(unknown)} unexpected keys, e.g. {', '.join(unknown[:4])}")
        raise InkfaceError(
            f"weights file {path} does not match MobileNetV2 1.0 ({naming} naming): "
            + "; ".join(problems)
        )
    new_state: dict[str, torch.Tensor] = {}
    for ours, theirs in mapping.items():
        target = ours_state[ours]
        value = state.get(theirs, target)
        if value.shape != target.shape:
            raise InkfaceError(
                f"weights file {path}: {theirs} has shape {tuple(value.shape)}, "
                f"MobileNetV2 1.0 needs {tuple(target.shape)}"
            )
        new_state[ours] = value.to(target.dtype)
    features_module.load_state_dict(new_state, strict=True)
    return naming
