"""Use a trained verifier: compare a questioned signature with one or more references.

``load_verifier(run_dir).verify([reference, ...], questioned)`` preprocesses each image
as the model was trained (section 4.1, from ``meta.json``), embeds it, and decides with
the threshold fixed on validation data.

With several references the combined distance is their **mean** (every reference
votes; a single lucky match cannot accept a forgery). The similarity is
``2 ** (-distance / threshold)``: 1 for identical embeddings, 0.5 exactly at the
decision threshold, towards 0 far beyond it. It is a monotone rescaling of the
distance for display, not a calibrated probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.signatures.verification.embedder import Embedder, ImageInput, load_embedder


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of one verification, JSON-ready through :meth:`as_dict`."""

    questioned: str
    references: list[str]
    distances: list[float]
    distance: float
    similarity: float
    threshold: float
    decision: str  # "genuine" or "forged"

    @property
    def is_genuine(self) -> bool:
        return self.decision == "genuine"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Verifier:
    """A trained embedder plus its decision threshold (fixed on validation data)."""

    def __init__(self, embedder: Embedder) -> None:
        threshold = embedder.meta.threshold
        if threshold is None or threshold <= 0:
            raise InkfaceError("the run has no positive decision threshold in meta.json")
        self.embedder = embedder

    @property
    def threshold(self) -> float:
        return float(self.embedder.meta.threshold)  # type: ignore[arg-type]

    def verify(
        self, references: Sequence[ImageInput], questioned: ImageInput
    ) -> VerificationResult:
        """Distances from ``questioned`` to each reference, combined by their mean."""
        if isinstance(references, str | Path | np.ndarray):
            references = [references]
        if not references:
            raise InkfaceError("verify needs at least one reference signature")
        embeddings = self.embedder.embed([*references, questioned])
        distances = np.linalg.norm(embeddings[:-1] - embeddings[-1], axis=1)
        combined = float(distances.mean())
        return VerificationResult(
            questioned=_name(questioned),
            references=[_name(r) for r in references],
            distances=[float(d) for d in distances],
            distance=combined,
            similarity=float(self.embedder.similarity(combined)),
            threshold=self.threshold,
            decision="genuine" if combined <= self.threshold else "forged",
        )


def _name(image: ImageInput) -> str:
    return "<array>" if isinstance(image, np.ndarray) else str(image)


def load_verifier(run_dir: str | Path, threads: int | None = None) -> Verifier:
    """The verifier saved in a run folder: ONNX Runtime when ``model.onnx`` is there
    (``inkface export``), PyTorch otherwise; weights are never unpickled."""
    embedder = load_embedder(run_dir, threads=threads)
    if embedder.meta.task != "signature-verification":
        raise InkfaceError(f"{run_dir}: run is a {embedder.meta.task} model, not a verifier")
    return Verifier(embedder)
