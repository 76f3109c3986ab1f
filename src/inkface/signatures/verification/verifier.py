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

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.runtime.backends import BackendName
from inkface.runtime.predictor import ImageInput, Predictor
from inkface.signatures.verification.embedder import VERIFICATION_TASK, Embedder, load_embedder


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


class Verifier(Predictor):
    """A trained embedder plus its decision threshold (fixed on validation data).

    ``predict`` takes verification cases: ``(references, questioned)`` pairs, or
    mappings with those two keys; references may be one image or a list.
    """

    output_kind = "embedding"

    def __init__(self, embedder: Embedder) -> None:
        threshold = embedder.meta.threshold
        if threshold is None or threshold <= 0:
            raise InkfaceError("the run has no positive decision threshold in meta.json")
        super().__init__(embedder.backend, embedder.meta, embedder.weights_sha256)
        self.embedder = embedder

    def prepare(self, images: Sequence[ImageInput]) -> np.ndarray:
        return self.embedder.prepare(images)

    @property
    def pair_threshold(self) -> float | None:
        return self.threshold

    def labelled_pairs(self, folder: Path) -> tuple[list[Path], list[tuple[int, int, int]]]:
        return self.embedder.labelled_pairs(folder)

    def predict(self, batch: Sequence[VerificationCase]) -> list[VerificationResult]:
        """One decision per case of ``batch``."""
        return [self.verify(*_unpack(case)) for case in batch]

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


VerificationCase = tuple[ImageInput | Sequence[ImageInput], ImageInput] | Mapping[str, Any]


def _unpack(case: VerificationCase) -> tuple[Sequence[ImageInput], ImageInput]:
    if isinstance(case, Mapping):
        try:
            return case["references"], case["questioned"]
        except KeyError as exc:
            raise InkfaceError(f"verification case: missing {exc.args[0]!r}") from None
    if isinstance(case, tuple | list) and len(case) == 2:
        return case[0], case[1]
    raise InkfaceError(
        "verification case: expected (references, questioned) or a mapping with those keys"
    )


def _name(image: ImageInput) -> str:
    return "<array>" if isinstance(image, np.ndarray) else str(image)


def load_verifier(
    run_dir: str | Path, threads: int | None = None, prefer: BackendName = "auto"
) -> Verifier:
    """The verifier saved in a run folder: ONNX Runtime when ``model.onnx`` is there
    (``inkface export``), PyTorch otherwise; weights are never unpickled."""
    embedder = load_embedder(run_dir, prefer=prefer, threads=threads)
    if embedder.meta.task != VERIFICATION_TASK:
        raise InkfaceError(f"{run_dir}: run is a {embedder.meta.task} model, not a verifier")
    return Verifier(embedder)
