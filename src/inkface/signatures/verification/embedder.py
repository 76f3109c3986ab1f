"""A trained signature embedder: preprocessing + tower + distance-to-similarity.

Shared by the verifier (``inkface verify``) and the identification gallery. Two kinds
of run produce embedders:

* contrastive runs (SigNet / MobileNetV2 / DeepSign, ``task: signature-verification``):
  similarity ``2 ** (-d / threshold)``, 0.5 exactly at the validation threshold;
* the identification paper's Siamese network (``task: signature-identification-siamese``):
  similarity from its learned sigmoid head, decision threshold fixed on validation.

Either way the decision threshold is a similarity of ``threshold_similarity`` and the
``identity`` (architecture, weights hash, input size, preprocessing) tells galleries
which model built them.

The tower runs through :func:`~inkface.runtime.backends.load_backend`: ONNX Runtime when
the run holds ``model.onnx`` (``inkface export``), PyTorch otherwise. The export is
parity-checked to 1e-4 against the same ``model.pt``, so both backends share one
identity (the ``model.pt`` digest, which the ONNX file also records) and a gallery built
with one may be searched with the other. The int8 model is *not* equivalent: its
identity adds ``precision: int8``, so galleries never mix the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inkface.core.errors import InkfaceError
from inkface.core.images import read_grey
from inkface.models.run import RunMeta
from inkface.runtime.backends import (
    BackendName,
    InferenceBackend,
    TorchBackend,
    open_run,
)
from inkface.runtime.onnx_session import Precision
from inkface.runtime.predictor import ImageInput, Predictor
from inkface.signatures.data.preprocess import prepare_signatures, preprocess_signature
from inkface.signatures.data.readers import read_cedar

__all__ = [
    "EMBEDDING_TASKS",
    "SIAMESE_TASK",
    "VERIFICATION_TASK",
    "Embedder",
    "Embedding",
    "ImageInput",
    "load_embedder",
]
VERIFICATION_TASK = "signature-verification"  # contrastive towers (DeepSign paper)
SIAMESE_TASK = "signature-identification-siamese"  # the identification paper's network
EMBEDDING_TASKS = (VERIFICATION_TASK, SIAMESE_TASK)


def similarity_from_distance(distance: np.ndarray | float, threshold: float) -> np.ndarray:
    """``2 ** (-d / threshold)``: 1 at d = 0, 0.5 at the threshold, towards 0 beyond."""
    return np.power(2.0, -np.maximum(np.asarray(distance, dtype=np.float64), 0.0) / threshold)


@dataclass(frozen=True)
class Embedding:
    """One signature's embedding vector."""

    embedding: list[float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Embedder(Predictor):
    """Embeds signature images exactly as the model's training images were prepared.

    ``predict`` takes signature images (paths or grey uint8 arrays) and returns their
    embeddings; galleries and verifiers compare them.
    """

    output_kind = "embedding"

    def __init__(
        self, model: InferenceBackend | torch.nn.Module, meta: RunMeta, weights_sha256: str
    ) -> None:
        backend = TorchBackend(model) if isinstance(model, torch.nn.Module) else model
        super().__init__(backend, meta, weights_sha256)
        self._head = _similarity_head(meta)

    @property
    def identity(self) -> dict[str, Any]:
        """What must match for two sets of embeddings to be comparable."""
        return {
            "architecture": self.meta.architecture,
            "model_kwargs": self.meta.model_kwargs,
            "weights_sha256": self.weights_sha256,
            "input_size": list(self.meta.input_size),
            "preprocessing_style": self.meta.preprocessing.get("style", "cedar"),
            **({"precision": "int8"} if self._precision == "int8" else {}),
        }

    @property
    def _precision(self) -> str:
        return str(getattr(self.backend, "precision", "fp32"))

    @property
    def threshold_similarity(self) -> float:
        """Similarity at or above which two signatures are taken as the same writer."""
        if self._head is None:
            return 0.5  # 2 ** (-d / threshold) is 0.5 exactly at the distance threshold
        value = (self.meta.extra or {}).get("similarity_threshold")
        if value is None:
            raise InkfaceError("the run's meta.json has no similarity_threshold")
        return float(value)

    def preprocess(self, image: ImageInput) -> np.ndarray:
        grey = image if isinstance(image, np.ndarray) else read_grey(image)
        style = self.meta.preprocessing.get("style", "cedar")
        return preprocess_signature(grey, self.meta.input_size, style)

    def prepare(self, images: Sequence[ImageInput]) -> np.ndarray:
        style = self.meta.preprocessing.get("style", "cedar")
        return prepare_signatures(images, self.meta.input_size, style)

    def embed(self, images: Sequence[ImageInput], batch_size: int = 64) -> np.ndarray:
        """(N, D) float32 embeddings of paths or grey uint8 arrays."""
        out = [
            self.forward(images[start : start + batch_size])
            for start in range(0, len(images), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def predict(self, batch: Sequence[ImageInput]) -> list[Embedding]:
        return [Embedding([float(v) for v in row]) for row in self.embed(list(batch))]

    @property
    def pair_threshold(self) -> float | None:
        return self.meta.threshold if self._head is None else None

    def labelled_pairs(self, folder: Path) -> tuple[list[Path], list[tuple[int, int, int]]]:
        """On a CEDAR-layout folder: its signatures, with every genuine-genuine (1) and
        genuine-forged (0) pair of each writer (section 4)."""
        if not ((folder / "full_org").is_dir() and (folder / "full_forg").is_dir()):
            return [], []
        paths: list[Path] = []
        pairs: list[tuple[int, int, int]] = []
        for writer in read_cedar(folder, strict=False).writers:
            genuine = list(range(len(paths), len(paths) + len(writer.genuine)))
            paths += list(writer.genuine)
            forged = list(range(len(paths), len(paths) + len(writer.forged)))
            paths += list(writer.forged)
            pairs += [(i, j, 1) for i, j in combinations(genuine, 2)]
            pairs += [(i, j, 0) for i in genuine for j in forged]
        return paths, pairs

    def similarity(self, distances: np.ndarray | float) -> np.ndarray:
        """Map embedding distances to similarities in [0, 1] (decreasing)."""
        if self._head is not None:
            offset, scale = self._head
            d = np.asarray(distances, dtype=np.float64)
            return 1.0 / (1.0 + np.exp(-(offset - scale * d)))
        return similarity_from_distance(distances, float(self.meta.threshold or 1.0))


def _similarity_head(meta: RunMeta) -> tuple[float, float] | None:
    if meta.task != SIAMESE_TASK:
        return None
    head = (meta.extra or {}).get("similarity_head")
    if not head:
        raise InkfaceError("the Siamese run's meta.json has no similarity_head")
    return float(head["offset"]), float(head["scale"])


def load_embedder(
    run_dir: str | Path,
    prefer: BackendName = "auto",
    threads: int | None = None,
    precision: Precision = "fp32",
) -> Embedder:
    """The embedder of a verification or Siamese-identification run folder.

    ONNX Runtime on ``model.onnx`` when present (``precision="int8"``:
    ``model.int8.onnx``), else PyTorch; ``threads`` sets either runtime's thread count.
    """
    refusal = (
        "has no embedding to compare writers with "
        "(a closed-set CNN must be retrained to add writers; use a Siamese run)"
    )
    run = open_run(run_dir, EMBEDDING_TASKS, refusal, prefer, threads, precision)
    return Embedder(run.backend, run.meta, run.weights_sha256)
