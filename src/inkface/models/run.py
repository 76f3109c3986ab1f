"""The run folder: everything needed to use a trained model, and nothing pickled.

Layout (``DESIGN.md``, "A run folder")::

    recipe.yaml     the resolved recipe (dataset roots filled in)
    model.pt        the tower's state_dict, loaded with ``weights_only=True``
    meta.json       format version, architecture, input size, preprocessing, threshold
    history.json    per-epoch training and validation metrics
    metrics.json    evaluation results;  figures/*.png;  report.html
    checkpoints/    Lightning checkpoints (for resuming only; never read by inference)
    model.onnx, model.int8.onnx, export.json
                    ``inkface export`` of model.pt (removed when the run is retrained)

``meta.json`` is written last, so a folder without it is an unfinished run. A run
folder is untrusted input when loaded: ``meta.json`` is checked against its schema
(:mod:`inkface.models.run_schema`) and ``model.pt`` must be a state dict of exactly the
named architecture, compared key by key and shape by shape on a skeleton built on
PyTorch's ``meta`` device (no memory) before the real model is built. Every refusal is
one line naming the file.

``model.pt`` is written byte for byte reproducibly: identical weights give an identical
file (and SHA-256), which galleries and ONNX exports use as the weights' identity.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inkface.core.atomic import atomic_open, write_json
from inkface.core.errors import InkfaceError
from inkface.core.input_gate import check_input_file, file_kind, read_input_bytes
from inkface.core.version import __version__
from inkface.models.registry import get_model
from inkface.models.run_schema import RUN_FORMAT, validate_meta

WEIGHTS_FILE = "model.pt"
META_FILE = "meta.json"
# What ``inkface export`` derives from model.pt. Named here because training/ (which
# removes them before new weights replace the old) may not import runtime/.
EXPORT_FILES = ("model.onnx", "model.int8.onnx", "export.json")
MAX_META_BYTES = 1 << 20  # a meta.json is a few kB; refuse anything absurd unread
_TOP_LEVEL = {"format_version", "inkface_version", "task", "architecture"}
_TOP_LEVEL |= {"model_kwargs", "input_size", "preprocessing", "threshold"}
# What torch.load raises on a file that is not a (safe) torch zip archive.
LOAD_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError)
LOAD_ERRORS += (zipfile.BadZipFile, KeyError, AttributeError, TypeError, IndexError)
UNSAFE_PICKLE = "it holds pickled objects other than tensors; refused without running them"


@dataclass(frozen=True)
class RunMeta:
    """What inference, export and the service read from a run folder."""

    architecture: str
    model_kwargs: dict[str, Any]
    input_size: tuple[int, int]
    preprocessing: dict[str, Any]
    threshold: float | None
    task: str = "signature-verification"
    extra: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": RUN_FORMAT,
            "inkface_version": __version__,
            "task": self.task,
            "architecture": self.architecture,
            "model_kwargs": self.model_kwargs,
            "input_size": list(self.input_size),
            "preprocessing": self.preprocessing,
            "threshold": self.threshold,
            **(self.extra or {}),
        }

    @staticmethod
    def from_json(data: Any, source: Path) -> RunMeta:
        """Validated metadata (:func:`inkface.models.run_schema.validate_meta`)."""
        checked = validate_meta(data, source)
        return RunMeta(
            architecture=checked.architecture,
            model_kwargs=dict(checked.model_kwargs),
            input_size=(checked.input_size[0], checked.input_size[1]),
            preprocessing=dict(data["preprocessing"]),
            threshold=checked.threshold,
            task=checked.task,
            extra={k: v for k, v in data.items() if k not in _TOP_LEVEL},
        )


def first_line(exc: BaseException) -> str:
    """An exception's first message line (or its type): errors stay on one line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def state_dict_bytes(state: Mapping[str, torch.Tensor]) -> bytes:
    """``torch.save`` of ``state`` into memory: the bytes depend only on the tensors.

    Saving to a path would store that path's name inside the zip archive, and the
    atomic writers save to a random temporary name, so the same weights would give a
    different file every time.
    """
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buffer)
    return buffer.getvalue()


def save_state_dict(path: str | os.PathLike[str], state: Mapping[str, torch.Tensor]) -> None:
    """Write ``state`` to ``path`` atomically and reproducibly (see :func:`state_dict_bytes`)."""
    with atomic_open(path, "wb") as handle:
        handle.write(state_dict_bytes(state))


def save_run_model(run_dir: str | Path, model: torch.nn.Module, meta: RunMeta) -> None:
    """Write the weights, then the metadata (both atomically).

    The metadata is checked against the schema first: a run folder that
    :func:`load_run_model` would refuse is never written.
    """
    run_dir = Path(run_dir)
    data = json.loads(json.dumps(meta.to_json()))
    validate_meta(data, run_dir / META_FILE)
    save_state_dict(run_dir / WEIGHTS_FILE, model.state_dict())
    write_json(run_dir / META_FILE, data)


def read_meta(run_dir: str | Path) -> RunMeta:
    """The run's validated metadata; a one-line error when the folder is not a usable run."""
    run_dir = Path(run_dir)
    path = run_dir / META_FILE
    if not run_dir.is_dir():
        if os.path.exists(run_dir):
            kind = file_kind(os.stat(run_dir).st_mode)
            raise InkfaceError(f"{run_dir}: run folder is {kind}, not a folder")
        raise InkfaceError(f"{run_dir}: run folder not found")
    if not os.path.lexists(path):
        raise InkfaceError(f"{path}: missing; {run_dir} is not a finished inkface run")
    # The input gate: a FIFO is refused unopened, a folder or a huge file unread.
    raw = read_input_bytes(path, "run metadata", MAX_META_BYTES)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        raise InkfaceError(f"{path}: not valid JSON") from None
    return RunMeta.from_json(data, path)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """``model.pt`` as tensors by name, read without running pickled code (memory-mapped,
    so a huge file costs no memory until the tensors are copied into a model)."""
    if not zipfile.is_zipfile(path):
        raise InkfaceError(f"{path}: not an inkface state dict (not a PyTorch zip archive)")
    try:
        if _utf8(path):
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        else:  # torch's file reader takes UTF-8 names only: read it through Python
            with path.open("rb") as handle:
                state = torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InkfaceError(f"{path}: not an inkface state dict ({UNSAFE_PICKLE})") from None
    except LOAD_ERRORS as exc:
        raise InkfaceError(f"{path}: not an inkface state dict ({first_line(exc)})") from None
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        kind = type(state).__name__
        raise InkfaceError(f"{path}: not an inkface state dict (a {kind}, not tensors by name)")
    return dict(state)


def _utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # a byte name that is not UTF-8, as a lone surrogate
        return False
    return True


def state_dict_mismatch(
    expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor], limit: int = 3
) -> str | None:
    """What keeps ``found`` from loading into a model whose state dict is ``expected``
    (missing and unexpected keys, wrong shapes, a few of each); None when it fits."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [
        f"{k} {tuple(found[k].shape)} instead of {tuple(v.shape)}"
        for k, v in expected.items()
        if k in found and tuple(found[k].shape) != tuple(v.shape)
    ]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)):
        if items:
            more = f" and {len(items) - limit} more" if len(items) > limit else ""
            parts.append(f"{label}: {', '.join(items[:limit])}{more}")
    return "; ".join(parts) or None


def load_run_model(run_dir: str | Path) -> tuple[torch.nn.Module, RunMeta]:
    """Rebuild the architecture from metadata and load the weights (no pickled code).

    The weights are compared with a skeleton of the architecture on the ``meta``
    device before anything is allocated; any mismatch is one line naming ``model.pt``.
    """
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    weights = run_dir / WEIGHTS_FILE
    if not os.path.lexists(weights):
        raise InkfaceError(f"{weights}: weights file missing")
    check_input_file(weights, "weights file")  # a folder, FIFO or dangling link, in words
    state = read_state_dict(weights)
    try:
        with torch.device("meta"):
            skeleton = get_model(meta.architecture, **meta.model_kwargs)
    except InkfaceError as exc:
        raise InkfaceError(f"{run_dir / META_FILE}: field model_kwargs: {exc}") from None
    except (TypeError, ValueError, RuntimeError) as exc:
        message = f"{run_dir / META_FILE}: field model_kwargs: {first_line(exc)}"
        raise InkfaceError(message) from None
    problem = state_dict_mismatch(skeleton.state_dict(), state)
    if problem is not None:
        raise InkfaceError(
            f"{weights}: not an inkface state dict of {meta.architecture} ({problem})"
        )
    model = get_model(meta.architecture, **meta.model_kwargs)
    try:
        model.load_state_dict(state)
    except (RuntimeError, ValueError) as exc:
        raise InkfaceError(f"{weights}: not an inkface state dict ({first_line(exc)})") from None
    model.eval()
    return model, meta
