"""Read a local weights file as a plain state dict, never running pickled code.

Both ImageNet loaders (:mod:`inkface.models.pretrained` for the MobileNetV2 backbone,
:mod:`inkface.models.classifier_pretrained` for the smile baselines) read user-supplied
``.pth`` / ``.pt`` files through this one function, so they refuse the same things the same
way: a missing file, a file ``torch.load(weights_only=True)`` will not read, and anything
that is not a mapping of names to tensors.
"""

from __future__ import annotations

import os
import pickle

import torch

from inkface.core.errors import InkfaceError


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors by key from ``path`` (a ``state_dict``/``model`` wrapper and DataParallel's
    ``module.`` prefix are removed); anything else is refused with the file's name."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InkfaceError(f"weights file not found: {path}") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InkfaceError(f"cannot read weights file {path}: {first}") from None
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InkfaceError(f"weights file {path} does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}
