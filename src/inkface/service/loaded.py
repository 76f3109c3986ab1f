"""The models a service holds: run folders loaded once, by role, warmed up.

``load_models({"mask": "runs/mask", "sig": "runs/deepsign"}, gallery="g.db")`` loads
each run through :func:`inkface.load_predictor` and sorts it by what it can do:

* ``face-head``: a face classifier (smile, expression, mask...), named by its key;
* ``verifier``: a signature verifier (its embedder can also serve a gallery);
* ``identifier``: the closed-set writer CNN;
* ``embedder``: the identification paper's Siamese network (serves a gallery).

Inference threads: every model runs one intra-op thread per call and the service runs
``threads`` calls side by side, so loaded models never oversubscribe the cores.

A gallery is checked at start-up (:func:`check_gallery`), not on the first request: an
existing file must open as the embedding run's gallery, a new path must be creatable.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inkface.core.atomic import check_output_path
from inkface.core.errors import InkfaceError
from inkface.core.input_gate import check_input_file
from inkface.faces.classification.classifier import FaceClassifier
from inkface.faces.detection.detectors import FaceDetector, auto_detector_name, get_detector
from inkface.inference import load_predictor
from inkface.runtime.backends import BackendName
from inkface.runtime.predictor import Predictor
from inkface.service.errors import ApiError
from inkface.signatures.identification.gallery import open_gallery
from inkface.signatures.identification.predictor import WriterClassifier
from inkface.signatures.verification.embedder import Embedder
from inkface.signatures.verification.verifier import Verifier

ROLES = ("face-head", "verifier", "identifier", "embedder")


@dataclass(frozen=True)
class LoadedModel:
    """One run folder as the service holds it."""

    name: str
    role: str
    predictor: Predictor
    run_dir: Path

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, **self.predictor.describe()}


def role_of(predictor: Predictor) -> str:
    if isinstance(predictor, FaceClassifier):
        return "face-head"
    if isinstance(predictor, Verifier):
        return "verifier"
    if isinstance(predictor, WriterClassifier):
        return "identifier"
    if isinstance(predictor, Embedder):
        return "embedder"
    raise InkfaceError(f"{predictor.meta.task}: the service cannot serve this kind of run")


class LoadedModels:
    """Models by name, the face detector (one instance per worker thread) and the
    gallery's file and embedding model, if any."""

    def __init__(
        self,
        models: Mapping[str, LoadedModel],
        detector: str = "haar",
        detector_options: Mapping[str, Any] | None = None,
        gallery: Path | None = None,
        gallery_model: str | None = None,
        detector_weights: Path | None = None,
    ) -> None:
        self.models = dict(models)
        # ``auto`` is resolved once, so every worker thread builds the same detector.
        self.detector_name = auto_detector_name() if detector == "auto" else detector
        self.detector_options = dict(detector_options or {})
        self.detector_weights = detector_weights
        self.gallery_path = gallery
        self.gallery_model = gallery_model
        self._local = threading.local()
        self.warmup_ms: float | None = None
        if self.face_heads():
            self.detector()  # fail at start, not on the first request

    # -- lookups ------------------------------------------------------------------------
    def by_role(self, role: str) -> dict[str, LoadedModel]:
        return {n: m for n, m in self.models.items() if m.role == role}

    def face_heads(self) -> dict[str, FaceClassifier]:
        return {n: m.predictor for n, m in self.by_role("face-head").items()}  # type: ignore[misc]

    def pick(self, roles: tuple[str, ...], name: str | None, what: str, hint: str) -> LoadedModel:
        """The model called ``name`` (or the only one) among ``roles``; 404 otherwise."""
        candidates = {n: m for n, m in self.models.items() if m.role in roles}
        if name is not None:
            if name not in candidates:
                known = ", ".join(candidates) or "none"
                raise ApiError(404, f"model: no {what} named {name!r} (loaded: {known})")
            return candidates[name]
        if not candidates:
            raise ApiError(404, f"no {what} is loaded; start the server with {hint}")
        if len(candidates) > 1:
            raise ApiError(
                422, f"model: several {what}s are loaded ({', '.join(candidates)}); name one"
            )
        return next(iter(candidates.values()))

    def detector(self) -> FaceDetector:
        """This thread's detector (OpenCV detectors are not shared across threads)."""
        detector = getattr(self._local, "detector", None)
        if detector is None:
            detector = get_detector(
                self.detector_name, self.detector_weights, **self.detector_options
            )
            self._local.detector = detector
        return detector

    def gallery_embedder(self) -> Embedder | None:
        """The embedder that built (or will build) the gallery, when one is configured."""
        if self.gallery_path is None or self.gallery_model is None:
            return None
        predictor = self.models[self.gallery_model].predictor
        return predictor.embedder if isinstance(predictor, Verifier) else predictor  # type: ignore[return-value]

    def describe(self) -> list[dict[str, Any]]:
        return [m.describe() for m in self.models.values()]

    # -- warm-up ------------------------------------------------------------------------
    def warm_up(self) -> float:
        """Run every model once on a blank input (first calls allocate and JIT);
        returns the time it took in ms."""
        start = time.perf_counter()
        for model in self.models.values():
            predictor = model.predictor
            if isinstance(predictor, FaceClassifier):
                predictor.predict_proba([np.full((64, 64, 3), 128, np.uint8)])
            else:
                page = np.full((120, 200), 255, np.uint8)
                page[55:65, 20:180] = 0
                predictor.forward([page])
        if self.face_heads():
            self.detector().detect(np.zeros((240, 320, 3), np.uint8))
        self.warmup_ms = 1e3 * (time.perf_counter() - start)
        return self.warmup_ms


def load_models(
    runs: Mapping[str, str | Path],
    gallery: str | Path | None = None,
    gallery_model: str | None = None,
    detector: str = "haar",
    detector_options: Mapping[str, Any] | None = None,
    detector_weights: str | Path | None = None,
    backend: BackendName = "auto",
    intra_threads: int = 1,
    loader: Callable[..., Predictor] = load_predictor,
) -> LoadedModels:
    """Load every run (name -> folder); errors name the run. ``detector`` (a name of
    :func:`~inkface.faces.detection.detectors.get_detector`, or ``auto``), its weight
    file and options serve the face routes. See the module docstring."""
    if detector == "auto" and (detector_weights is not None or detector_options):
        raise InkfaceError("--detector auto: takes no weights or options; name the detector")
    if not runs and gallery is None:
        raise InkfaceError("--run: give at least one NAME=RUN_DIR to serve")
    models: dict[str, LoadedModel] = {}
    for name, run_dir in runs.items():
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise InkfaceError(f"--run {name}=...: names are letters, digits, - and _")
        predictor = loader(run_dir, backend=backend, threads=intra_threads)
        models[name] = LoadedModel(name, role_of(predictor), predictor, Path(run_dir))
    gallery_path = Path(gallery) if gallery is not None else None
    chosen = None
    if gallery_path is not None:
        embedders = [n for n, m in models.items() if m.role in ("verifier", "embedder")]
        if gallery_model is not None:
            if gallery_model not in embedders:
                raise InkfaceError(
                    f"--gallery-model {gallery_model}: not a loaded signature embedding run "
                    f"(loaded: {', '.join(embedders) or 'none'})"
                )
            chosen = gallery_model
        elif len(embedders) == 1:
            chosen = embedders[0]
        elif not embedders:
            raise InkfaceError(
                "--gallery: also load the embedding run that builds it (--run NAME=RUN_DIR)"
            )
        else:
            raise InkfaceError(
                f"--gallery: several embedding runs loaded ({', '.join(embedders)}); "
                "choose one with --gallery-model NAME"
            )
    weights = Path(detector_weights) if detector_weights is not None else None
    loaded = LoadedModels(models, detector, detector_options, gallery_path, chosen, weights)
    embedder = loaded.gallery_embedder()
    if gallery_path is not None and embedder is not None:
        check_gallery(gallery_path, embedder)
    return loaded


def check_gallery(path: Path, embedder: Embedder) -> None:
    """Refuse at start-up a gallery the first request would fail on: an existing one must
    be a regular file that opens as this embedder's gallery; a new one (enrolment creates
    it) must be a path a file can be created at."""
    if not os.path.lexists(path):
        check_output_path(path, "--gallery")
        return
    check_input_file(path, "--gallery")
    if path.stat().st_size:
        open_gallery(path, embedder, create=False).close()
