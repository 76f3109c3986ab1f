"""The one inference interface: a trained run folder as a ``Predictor``.

``inkface.load_predictor(run_dir)`` returns one of these for every kind of run; the CLI,
the video pipeline, export and quantisation, and any service or batch engine built on
inkface run models only through it. A predictor holds:

* the run's :class:`~inkface.models.run.RunMeta` (read from ``meta.json``),
* an inference backend (PyTorch eager or ONNX Runtime, :mod:`inkface.runtime.backends`),
* its own preprocessing (``prepare``), defined by the product that trained the model and
  parameterised only by ``meta.json`` — the runtime never looks it up by task name.

``predict(batch)`` takes a list of inputs and returns one JSON-ready result per input
(each result has ``as_dict()``). What an input is depends on the predictor and is stated
by it: an image (path or array) for classifiers and embedders, a ``(references,
questioned)`` pair for verifiers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from inkface.models.run import RunMeta

ImageInput = str | Path | np.ndarray
OutputKind = Literal["logits", "embedding"]


class Prediction(Protocol):
    """A typed result that serialises itself for JSON (CLI, HTTP, Parquet rows)."""

    def as_dict(self) -> dict[str, Any]: ...


class Predictor(ABC):
    """A trained model ready to run: preprocessing from ``meta.json``, a backend, typed
    results. Subclasses set ``task`` (the ``meta.json`` task they serve) and
    ``output_kind`` and implement ``prepare`` and ``predict``."""

    task: ClassVar[str]
    output_kind: ClassVar[OutputKind]

    def __init__(self, backend: Any, meta: RunMeta, weights_sha256: str = "") -> None:
        self.backend = backend
        self.meta = meta
        self.weights_sha256 = weights_sha256

    @property
    def input_channels(self) -> int:
        """Channels of the model's input tensor (1 = grey, 3 = RGB)."""
        return int(self.meta.preprocessing.get("in_channels", 1))

    @property
    def input_size(self) -> tuple[int, int]:
        return self.meta.input_size

    @property
    def class_names(self) -> list[str]:
        return list((self.meta.extra or {}).get("class_names") or [])

    @abstractmethod
    def prepare(self, images: Sequence[ImageInput]) -> np.ndarray:
        """Images (paths or arrays) -> the float32 (N, C, H, W) batch the model reads."""

    @abstractmethod
    def predict(self, batch: Sequence[Any]) -> list[Prediction]:
        """One JSON-ready result per input of ``batch``."""

    def forward(self, images: Sequence[ImageInput]) -> np.ndarray:
        """The raw model outputs (logits or embeddings) for ``images``."""
        return np.asarray(self.backend(self.prepare(images)), dtype=np.float32)

    def labelled_pairs(self, folder: Path) -> tuple[list[Path], list[tuple[int, int, int]]]:
        """Images of ``folder`` and (i, j, same) pairs for judging an embedder, when the
        folder is in a layout this product knows; none by default."""
        return [], []

    @property
    def pair_threshold(self) -> float | None:
        """The distance threshold that decides a pair (verifiers), else None."""
        return None

    def describe(self) -> dict[str, Any]:
        """What a service lists for a loaded model (``GET /v1/models``)."""
        return {
            "task": self.meta.task,
            "architecture": self.meta.architecture,
            "input_size": list(self.input_size),
            "input_channels": self.input_channels,
            "classes": self.class_names,
            "threshold": self.meta.threshold,
            "weights_sha256": self.weights_sha256,
            "backend": str(getattr(self.backend, "name", type(self.backend).__name__)),
            "precision": str(getattr(self.backend, "precision", "fp32")),
        }


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, returned as float32."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
