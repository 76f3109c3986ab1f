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
import torch

from inkface.data.images import read_grey
from inkface.errors import InkfaceError
from inkface.runs import RunMeta, load_run_model
from inkface.signatures.preprocess import preprocess_signature

ImageInput = str | Path | np.ndarray


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


def similarity_from_distance(distance: float, threshold: float) -> float:
    """``2 ** (-distance / threshold)``: 0.5 at the threshold, in (0, 1]."""
    return float(2.0 ** (-max(distance, 0.0) / threshold))


class Verifier:
    """A trained embedding tower plus its preprocessing and threshold."""

    def __init__(self, model: torch.nn.Module, meta: RunMeta) -> None:
        if meta.threshold is None or meta.threshold <= 0:
            raise InkfaceError("the run has no positive decision threshold in meta.json")
        self.model = model.eval()
        self.meta = meta

    @property
    def threshold(self) -> float:
        return float(self.meta.threshold)  # type: ignore[arg-type]

    def preprocess(self, image: ImageInput) -> np.ndarray:
        """uint8 (H, W), ink = 255, exactly as the training images were cached."""
        grey = read_grey(image) if not isinstance(image, np.ndarray) else image
        style = self.meta.preprocessing.get("style", "cedar")
        return preprocess_signature(grey, self.meta.input_size, style)

    @torch.no_grad()
    def embed(self, images: Sequence[ImageInput]) -> np.ndarray:
        """(N, D) embeddings of images given as paths or grey uint8 arrays."""
        batch = np.stack([self.preprocess(im) for im in images])
        tensor = torch.from_numpy(batch).unsqueeze(1).float().div_(255.0)
        return self.model(tensor).numpy()

    def verify(
        self, references: Sequence[ImageInput], questioned: ImageInput
    ) -> VerificationResult:
        """Distances from ``questioned`` to each reference, combined by their mean."""
        if isinstance(references, str | Path | np.ndarray):
            references = [references]
        if not references:
            raise InkfaceError("verify needs at least one reference signature")
        embeddings = self.embed([*references, questioned])
        distances = np.linalg.norm(embeddings[:-1] - embeddings[-1], axis=1)
        combined = float(distances.mean())
        return VerificationResult(
            questioned=_name(questioned),
            references=[_name(r) for r in references],
            distances=[float(d) for d in distances],
            distance=combined,
            similarity=similarity_from_distance(combined, self.threshold),
            threshold=self.threshold,
            decision="genuine" if combined <= self.threshold else "forged",
        )


def _name(image: ImageInput) -> str:
    return "<array>" if isinstance(image, np.ndarray) else str(image)


def load_verifier(run_dir: str | Path) -> Verifier:
    """The verifier saved in a run folder (weights loaded without unpickling code)."""
    model, meta = load_run_model(run_dir)
    if meta.task != "signature-verification":
        raise InkfaceError(f"{run_dir}: run is a {meta.task} model, not a signature verifier")
    return Verifier(model, meta)
