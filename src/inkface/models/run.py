"""The run folder: everything needed to use a trained model, and nothing pickled.

Layout (``DESIGN.md``, "A run folder")::

    recipe.yaml     the resolved recipe (dataset roots filled in)
    model.pt        the tower's state_dict, loaded with ``weights_only=True``
    meta.json       format version, architecture, input size, preprocessing, threshold
    history.json    per-epoch training and validation metrics
    metrics.json    evaluation results;  figures/*.png;  report.html
    checkpoints/    Lightning checkpoints (for resuming only; never read by inference)

``meta.json`` is written last, so a folder without it is an unfinished run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inkface.core.atomic import atomic_path, write_json
from inkface.core.errors import InkfaceError
from inkface.core.version import __version__
from inkface.models import get_model

RUN_FORMAT = 1
WEIGHTS_FILE = "model.pt"
META_FILE = "meta.json"


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
    def from_json(data: dict[str, Any], source: Path) -> RunMeta:
        version = data.get("format_version")
        if version != RUN_FORMAT:
            raise InkfaceError(f"{source}: unsupported run format {version!r} (expected 1)")
        try:
            known = {"format_version", "inkface_version", "task", "architecture"}
            known |= {"model_kwargs", "input_size", "preprocessing", "threshold"}
            return RunMeta(
                architecture=str(data["architecture"]),
                model_kwargs=dict(data.get("model_kwargs") or {}),
                input_size=(int(data["input_size"][0]), int(data["input_size"][1])),
                preprocessing=dict(data["preprocessing"]),
                threshold=None if data.get("threshold") is None else float(data["threshold"]),
                task=str(data.get("task", "signature-verification")),
                extra={k: v for k, v in data.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InkfaceError(f"{source}: malformed run metadata ({exc})") from None


def save_run_model(run_dir: str | Path, model: torch.nn.Module, meta: RunMeta) -> None:
    """Write the weights, then the metadata (both atomically)."""
    run_dir = Path(run_dir)
    with atomic_path(run_dir / WEIGHTS_FILE, suffix=".pt") as tmp:
        torch.save(model.state_dict(), tmp)
    write_json(run_dir / META_FILE, meta.to_json())


def read_meta(run_dir: str | Path) -> RunMeta:
    """The run's metadata; a clear error when the folder is not a finished run."""
    run_dir = Path(run_dir)
    path = run_dir / META_FILE
    if not run_dir.is_dir():
        raise InkfaceError(f"{run_dir}: run folder not found")
    if not path.is_file():
        raise InkfaceError(f"{path}: missing; {run_dir} is not a finished inkface run")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InkfaceError(f"{path}: not valid JSON") from None
    if not isinstance(data, dict):
        raise InkfaceError(f"{path}: expected a JSON object")
    return RunMeta.from_json(data, path)


def load_run_model(run_dir: str | Path) -> tuple[torch.nn.Module, RunMeta]:
    """Rebuild the architecture from metadata and load the weights (no pickled code)."""

    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    weights = run_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise InkfaceError(f"{weights}: weights file missing")
    model = get_model(meta.architecture, **meta.model_kwargs)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InkfaceError(f"{weights}: cannot load weights ({first})") from None
    model.eval()
    return model, meta
