"""One inference interface for PyTorch and ONNX Runtime.

A backend is a callable ``float32 (N, C, H, W) -> float32 (N, ...)``. ``load_backend``
prefers ``model.onnx`` in the run folder when present (ONNX Runtime, fast on CPUs) and
falls back to the PyTorch weights otherwise; ``prefer`` forces one of them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import torch

from inkface.core.errors import InkfaceError
from inkface.models.run import WEIGHTS_FILE, RunMeta, load_run_model, read_meta
from inkface.runtime.onnx_session import INT8_FILE, ONNX_FILE, file_sha256, open_run_onnx

BackendName = Literal["auto", "torch", "onnx"]


class InferenceBackend(Protocol):
    name: str

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


class TorchBackend:
    """PyTorch eager inference (no grad, eval mode, optional thread count)."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, threads: int | None = None) -> None:
        self.model = model.eval()
        self.threads = threads

    @torch.no_grad()
    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if self.threads:
            torch.set_num_threads(self.threads)
        device = next(self.model.parameters()).device
        return self.model(torch.from_numpy(np.ascontiguousarray(batch)).to(device)).cpu().numpy()


def load_backend(
    run_dir: str | Path,
    prefer: BackendName = "auto",
    threads: int | None = None,
    precision: Literal["fp32", "int8"] = "fp32",
) -> InferenceBackend:
    """ONNX Runtime on ``model.onnx`` when present (or asked for), else PyTorch.

    ``precision="int8"`` picks ``model.int8.onnx`` (ONNX Runtime only); ``model.onnx``
    stays the default when both files exist.
    """
    run_dir = Path(run_dir)
    onnx_path = run_dir / (INT8_FILE if precision == "int8" else ONNX_FILE)
    if precision == "int8" and prefer == "torch":
        raise InkfaceError("int8 precision needs the ONNX Runtime backend, not torch")
    if prefer == "onnx" or precision == "int8" or (prefer == "auto" and onnx_path.is_file()):
        return open_run_onnx(run_dir, precision, threads=threads)
    model, _ = load_run_model(run_dir)
    return TorchBackend(model, threads=threads)


def run_weights_sha256(run_dir: str | Path, backend: InferenceBackend) -> str:
    """The identity of the weights a backend runs: the ``model.pt`` digest, or for an
    ONNX-only deployment the digest recorded at export (else the ONNX file's own)."""
    weights = Path(run_dir) / WEIGHTS_FILE
    if weights.is_file():
        return file_sha256(weights)
    recorded = getattr(backend, "weights_sha256", None)
    return recorded or file_sha256(backend.path)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class OpenedRun:
    """A run folder ready for a predictor: its backend, metadata and weights identity."""

    backend: InferenceBackend
    meta: RunMeta
    weights_sha256: str


def open_run(
    run_dir: str | Path,
    tasks: Collection[str],
    refusal: str,
    prefer: BackendName = "auto",
    threads: int | None = None,
    precision: Literal["fp32", "int8"] = "fp32",
) -> OpenedRun:
    """Read ``meta.json``, refuse a run whose task is not one of ``tasks`` (the error reads
    "<run>: a <task> run <refusal>"), then open its backend (see :func:`load_backend`)."""
    meta = read_meta(run_dir)
    if meta.task not in tasks:
        raise InkfaceError(f"{run_dir}: a {meta.task} run {refusal}")
    backend = load_backend(run_dir, prefer, threads, precision)
    return OpenedRun(backend, meta, run_weights_sha256(run_dir, backend))
