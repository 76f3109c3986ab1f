"""``load_predictor``: the one way any consumer runs a trained run folder.

The run's ``meta.json`` names its task; this module is the single place that maps a
task to the product's predictor (see :mod:`inkface.runtime.predictor` for the
interface). Every predictor reads its preprocessing from ``meta.json`` and runs on
ONNX Runtime when the run was exported (``inkface export``), PyTorch otherwise.

* ``signature-verification``: :class:`Verifier`; inputs are ``(references,
  questioned)`` pairs, results distances and a decision;
* ``signature-identification-cnn``: :class:`WriterClassifier`; signature images in,
  ranked writers out;
* ``signature-identification-siamese``: :class:`Embedder`; signature images in,
  embeddings out;
* ``face-classification``: :class:`FaceClassifier`; face crops in, label and class
  probabilities out;
* any embedding run with ``gallery=``: :class:`GalleryIdentifier`; signature images in,
  ranked enrolled writers (or ``unknown``) out.

A run is refused, naming its ``meta.json``, when its architecture is not of the kind its
task runs (``TASK_KINDS``: a DeepSign tower labelled a face classifier would otherwise
be served as one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from inkface.core.errors import InkfaceError
from inkface.faces.classification.classifier import TASK as FACE_TASK
from inkface.faces.classification.classifier import load_face_classifier
from inkface.models import model_info
from inkface.models.run import META_FILE, RunMeta, read_meta
from inkface.runtime.backends import BackendName
from inkface.runtime.predictor import Predictor
from inkface.signatures.identification.predictor import (
    CNN_TASK,
    load_gallery_identifier,
    load_writer_classifier,
)
from inkface.signatures.verification.embedder import SIAMESE_TASK, VERIFICATION_TASK, load_embedder
from inkface.signatures.verification.verifier import load_verifier

PREDICTOR_LOADERS: Mapping[str, Callable[..., Predictor]] = MappingProxyType(
    {
        VERIFICATION_TASK: load_verifier,
        CNN_TASK: load_writer_classifier,
        SIAMESE_TASK: load_embedder,
        FACE_TASK: load_face_classifier,
    }
)
# The kind of registered architecture (``inkface info``) each task runs: a meta.json that
# pairs a task with the wrong kind (a DeepSign tower labelled a face classifier) is refused.
TASK_KINDS: Mapping[str, str] = MappingProxyType(
    {
        VERIFICATION_TASK: "embedding",
        SIAMESE_TASK: "embedding",
        CNN_TASK: "classifier",
        FACE_TASK: "classifier",
    }
)
BACKENDS: tuple[BackendName, ...] = ("auto", "torch", "onnx")


def load_predictor(
    run_dir: str | Path,
    backend: BackendName = "auto",
    threads: int | None = None,
    gallery: str | Path | None = None,
) -> Predictor:
    """The predictor for the trained model in ``run_dir``.

    ``backend``: ``auto`` (ONNX Runtime when ``model.onnx`` exists, else PyTorch),
    ``torch`` or ``onnx``. ``threads`` sets the runtime's thread count. With
    ``gallery``, an embedding run identifies writers enrolled in that gallery file.
    """
    if backend not in BACKENDS:
        raise InkfaceError(f"backend: {backend!r} is not one of {', '.join(BACKENDS)}")
    if threads is not None and threads < 1:
        raise InkfaceError(f"threads: must be >= 1, got {threads}")
    meta = read_meta(run_dir)
    check_architecture_kind(run_dir, meta)
    if gallery is not None:
        return load_gallery_identifier(run_dir, gallery, prefer=backend, threads=threads)
    task = meta.task
    loader = PREDICTOR_LOADERS.get(task)
    if loader is None:
        raise InkfaceError(
            f"{run_dir}: no predictor for task {task!r} (known: {', '.join(PREDICTOR_LOADERS)})"
        )
    return loader(run_dir, prefer=backend, threads=threads)


def check_architecture_kind(run_dir: str | Path, meta: RunMeta) -> None:
    """Refuse a run whose architecture is not of the kind its task runs (see
    ``TASK_KINDS``); tasks not listed there are left to their loaders."""
    wanted = TASK_KINDS.get(meta.task)
    found = model_info(meta.architecture).kind
    if wanted is not None and found != wanted:
        raise InkfaceError(
            f"{Path(run_dir) / META_FILE}: a {meta.task} run needs a model of kind {wanted}, "
            f"but {meta.architecture} is of kind {found}"
        )
