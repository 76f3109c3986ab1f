"""Use a trained verifier: compare a questioned signature with one or more references.

``load_verifier(run_dir).verify([reference, ...], questioned, operating_point="eer")``
preprocesses each image as the model was trained (section 4.1, from ``meta.json``),
embeds it, combines the distances to the k references with the run's rule and decides
with the threshold that operating point has for k references, all fixed on validation
writers (:mod:`inkface.evaluation.policy`). Every result names its operating point and
carries the FAR / FRR validation measured there, and ``p_genuine``, a probability
calibrated on validation (even prior odds). The default operating point is ``eer``.

The similarity ``2 ** (-distance / threshold)`` (``meta.json``'s threshold, the default
operating point's for one reference) stays a display value: 1 for identical embeddings,
0.5 at that threshold, not a probability. A run trained before operating points decides
with its one stored threshold, named ``accuracy``, and says so in ``notes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.evaluation.policy import DecisionPolicy
from inkface.models.run import META_FILE
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
    operating_point: str = "accuracy"
    k: int = 1  # references given
    k_threshold: int = 1  # references the threshold was fixed for (k, or the nearest stored)
    rule: str = "mean"  # how the k distances were combined
    p_genuine: float | None = None  # calibrated on validation, even prior odds
    far: float | None = None  # validation FAR (skilled forgeries) promised at this point
    frr: float | None = None  # validation FRR promised at this point
    far_random: float | None = None  # validation FAR on random forgeries
    notes: list[str] = field(default_factory=list)

    @property
    def is_genuine(self) -> bool:
        return self.decision == "genuine"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Verifier(Predictor):
    """A trained embedder plus its decision threshold (fixed on validation data).

    ``predict`` takes verification cases: ``(references, questioned)`` pairs, or
    mappings with those two keys (and optionally ``operating_point``); references may
    be one image or a list.
    """

    output_kind = "embedding"

    def __init__(self, embedder: Embedder, source: str | Path = META_FILE) -> None:
        """``source``: the run's ``meta.json``, named in errors about its policy."""
        threshold = embedder.meta.threshold
        if threshold is None or threshold <= 0:
            raise InkfaceError(f"{source}: the run has no positive decision threshold")
        super().__init__(embedder.backend, embedder.meta, embedder.weights_sha256)
        self.embedder = embedder
        self.policy = DecisionPolicy.from_meta(embedder.meta.extra, threshold, source)

    def describe(self) -> dict[str, Any]:
        """The predictor's description plus its operating points (with their k=1
        thresholds and validation FAR / FRR), default, combination rule and calibration."""
        return {**super().describe(), **self.policy.describe()}

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

    @property
    def operating_points(self) -> list[str]:
        """The operating points this run stores (``verify(..., operating_point=...)``)."""
        return self.policy.operating_points

    def verify(
        self,
        references: Sequence[ImageInput],
        questioned: ImageInput,
        operating_point: str | None = None,
    ) -> VerificationResult:
        """Distances from ``questioned`` to each reference, combined by the run's rule,
        decided at ``operating_point`` (None: the run's default) for that many references."""
        if isinstance(references, str | Path | np.ndarray):
            references = [references]
        if not references:
            raise InkfaceError("verify needs at least one reference signature")
        self.policy.decision(operating_point, len(references))  # a bad point fails early
        embeddings = self.embedder.embed([*references, questioned])
        return self.decide(
            embeddings[:-1],
            embeddings[-1],
            [_name(r) for r in references],
            _name(questioned),
            operating_point,
        )

    def decide(
        self,
        references: np.ndarray,
        questioned: np.ndarray,
        reference_names: Sequence[str],
        questioned_name: str,
        operating_point: str | None = None,
    ) -> VerificationResult:
        """The decision from embeddings already computed: ``references`` (k, D) and
        ``questioned`` (D,). Batch scoring embeds each distinct image once and decides
        every pair here, exactly as :meth:`verify` does."""
        decision = self.policy.decision(operating_point, len(references))
        distances = np.linalg.norm(np.asarray(references) - np.asarray(questioned), axis=1)
        combined = self.policy.combine(distances)
        return VerificationResult(
            questioned=questioned_name,
            references=list(reference_names),
            distances=[float(d) for d in distances],
            distance=combined,
            similarity=float(self.embedder.similarity(combined)),
            threshold=decision.threshold,
            decision="genuine" if combined <= decision.threshold else "forged",
            operating_point=decision.operating_point,
            k=decision.k,
            k_threshold=decision.k_threshold,
            rule=self.policy.rule,
            p_genuine=self.policy.p_genuine(combined, decision.k_threshold),
            far=decision.far,
            frr=decision.frr,
            far_random=decision.far_random,
            notes=list(decision.notes),
        )


VerificationCase = tuple[ImageInput | Sequence[ImageInput], ImageInput] | Mapping[str, Any]


def _unpack(case: VerificationCase) -> tuple[Sequence[ImageInput], ImageInput, str | None]:
    if isinstance(case, Mapping):
        try:
            return case["references"], case["questioned"], case.get("operating_point")
        except KeyError as exc:
            raise InkfaceError(f"verification case: missing {exc.args[0]!r}") from None
    if isinstance(case, tuple | list) and len(case) == 2:
        return case[0], case[1], None
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
    return Verifier(embedder, Path(run_dir) / META_FILE)
