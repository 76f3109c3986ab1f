"""Identification runs behind the one inference interface.

* :class:`WriterClassifier`: the identification paper's closed-set CNN
  (``task: signature-identification-cnn``): softmax over the writers it was trained on.
* :class:`GalleryIdentifier`: any embedding run (a verifier or the pixel Siamese
  network) searching an enrolment gallery: writers are added or removed without
  retraining, and a questioned signature below the threshold is ``unknown``.

Both take signature images (paths or grey uint8 arrays) and return ranked candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.models.run import RunMeta
from inkface.runtime.backends import (
    BackendName,
    InferenceBackend,
    open_run,
)
from inkface.runtime.predictor import ImageInput, Predictor, softmax
from inkface.signatures.data.preprocess import prepare_signatures
from inkface.signatures.identification.gallery import Gallery, Identification, open_gallery
from inkface.signatures.verification.embedder import load_embedder

CNN_TASK = "signature-identification-cnn"


@dataclass(frozen=True)
class WriterCandidate:
    writer: str
    probability: float


@dataclass(frozen=True)
class WriterPrediction:
    """The closed-set CNN's ranked writers for one questioned signature."""

    questioned: str
    writer: str
    candidates: list[WriterCandidate]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class WriterClassifier(Predictor):
    """Closed-set writer identification with the paper's CNN (section 3.1)."""

    output_kind = "logits"

    def __init__(
        self, backend: InferenceBackend, meta: RunMeta, weights_sha256: str = "", top_k: int = 5
    ) -> None:
        if meta.task != CNN_TASK:
            raise InkfaceError(f"run is a {meta.task} model, not a writer CNN")
        super().__init__(backend, meta, weights_sha256)
        self.top_k = max(1, int(top_k))

    def prepare(self, images: Sequence[ImageInput]) -> np.ndarray:
        style = self.meta.preprocessing.get("style", "cedar")
        return prepare_signatures(images, self.input_size, style)

    def predict(self, batch: Sequence[ImageInput]) -> list[WriterPrediction]:
        if not len(batch):
            return []
        probs = softmax(self.forward(batch))
        names = self.class_names or [str(i) for i in range(probs.shape[1])]
        out = []
        for image, row in zip(batch, probs, strict=True):
            order = np.argsort(-row, kind="stable")[: self.top_k]
            candidates = [WriterCandidate(names[i], float(row[i])) for i in order]
            out.append(WriterPrediction(_source(image), candidates[0].writer, candidates))
        return out


class GalleryIdentifier(Predictor):
    """Open-set identification against the writers enrolled in a gallery."""

    output_kind = "embedding"

    def __init__(self, gallery: Gallery, top_k: int = 5) -> None:
        embedder = gallery.embedder
        super().__init__(embedder.backend, embedder.meta, embedder.weights_sha256)
        self.gallery = gallery
        self.top_k = max(1, int(top_k))

    def prepare(self, images: Sequence[ImageInput]) -> np.ndarray:
        return self.gallery.embedder.prepare(images)

    def predict(self, batch: Sequence[ImageInput]) -> list[Identification]:
        return [self.gallery.identify(image, top_k=self.top_k) for image in batch]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "gallery": str(self.gallery.path)}


def load_writer_classifier(
    run_dir: str | Path, prefer: BackendName = "auto", threads: int | None = None
) -> WriterClassifier:
    """The writer CNN of ``run_dir`` on ONNX Runtime (if exported) or PyTorch."""
    run = open_run(run_dir, {CNN_TASK}, "is not a writer CNN", prefer, threads)
    return WriterClassifier(run.backend, run.meta, run.weights_sha256)


def load_gallery_identifier(
    run_dir: str | Path,
    gallery: str | Path,
    prefer: BackendName = "auto",
    threads: int | None = None,
) -> GalleryIdentifier:
    """An embedding run searching the gallery file ``gallery`` (which must exist)."""
    embedder = load_embedder(run_dir, prefer=prefer, threads=threads)
    return GalleryIdentifier(open_gallery(gallery, embedder, create=False))


def _source(image: ImageInput) -> str:
    return "<array>" if isinstance(image, np.ndarray) else str(image)
