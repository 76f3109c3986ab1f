"""ONNX Runtime inference on an exported run (``model.onnx`` / ``model.int8.onnx``).

The exported file carries the run's ``meta.json`` in its ``metadata_props``
(``inkface_meta``), the digest of the ``model.pt`` it was exported from
(``inkface_weights_sha256``) and a format version, so a file copied away from its run
folder still says how to preprocess its inputs, and a stale export (weights retrained
after exporting) is refused instead of silently giving other answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from inkface.core.errors import InkfaceError
from inkface.core.input_gate import read_input_bytes
from inkface.models.run import WEIGHTS_FILE

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
ONNX_FORMAT = 1
META_KEY = "inkface_meta"
FORMAT_KEY = "inkface_format"
WEIGHTS_KEY = "inkface_weights_sha256"
PRECISION_KEY = "inkface_precision"
Precision = Literal["fp32", "int8"]
PROVIDER_ALIASES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
MAX_ONNX_BYTES = 2**31  # protobuf's own limit for a single-file model


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ort_errors() -> tuple[type[BaseException], ...]:
    """ONNX Runtime's own exception types (they do not derive from RuntimeError)."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoModel")
    names += ("NoSuchFile", "NotImplemented", "RuntimeException", "EPFail")
    return (RuntimeError, OSError, *(getattr(state, n) for n in names if hasattr(state, n)))


def _resolve_providers(providers: Sequence[str] | None) -> list[str]:
    import onnxruntime as ort

    if not providers:
        return ["CPUExecutionProvider"]
    available = ort.get_available_providers()
    wanted = [PROVIDER_ALIASES.get(p.lower(), p) for p in providers]
    missing = [p for p in wanted if p not in available]
    if missing:
        raise InkfaceError(
            f"ONNX Runtime provider(s) {', '.join(missing)} not available "
            f"(available: {', '.join(available)})"
        )
    return wanted


class OnnxBackend:
    """``float32 (N, C, H, W) -> float32 (N, ...)`` with an ONNX Runtime session.

    ``threads`` sets ``intra_op_num_threads`` (None: ONNX Runtime's default, one per
    core); ``providers`` defaults to the CPU provider (``["cuda", "cpu"]`` asks for CUDA
    with a CPU fallback, when the installed ONNX Runtime has it). The file is read here,
    through the input gate, and ONNX Runtime gets its bytes: its binding takes only
    UTF-8 paths, so a folder named with other bytes (a lone surrogate in Python) fails
    inside it, and inkface exports are single files with no external data to find.
    """

    name = "onnx"

    def __init__(
        self,
        path: str | Path,
        threads: int | None = None,
        providers: Sequence[str] | None = None,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise InkfaceError(f"{self.path}: ONNX model not found")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        model = read_input_bytes(self.path, "ONNX model", MAX_ONNX_BYTES)
        try:
            self.session = ort.InferenceSession(
                model, sess_options=options, providers=_resolve_providers(providers)
            )
        except _ort_errors() as exc:
            first = (str(exc).splitlines() or [exc.__class__.__name__])[0]
            raise InkfaceError(f"{self.path}: cannot load ONNX model ({first})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.threads = threads
        self._props = dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        feed = {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        return self.session.run(None, feed)[0]

    @property
    def meta(self) -> dict[str, Any]:
        """The run's ``meta.json`` as embedded at export time (empty if absent)."""
        text = self._props.get(META_KEY)
        if not text:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise InkfaceError(f"{self.path}: embedded {META_KEY} is not valid JSON") from None
        return data if isinstance(data, dict) else {}

    @property
    def weights_sha256(self) -> str | None:
        """Digest of the ``model.pt`` this file was exported from (None if unrecorded)."""
        return self._props.get(WEIGHTS_KEY) or None

    @property
    def precision(self) -> str:
        return self._props.get(PRECISION_KEY, "fp32")


def onnx_path_for(run_dir: str | Path, precision: Precision = "fp32") -> Path:
    """``model.onnx`` or ``model.int8.onnx`` of a run folder."""
    if precision not in ("fp32", "int8"):
        raise InkfaceError(f"precision: expected fp32 or int8, got {precision!r}")
    return Path(run_dir) / (INT8_FILE if precision == "int8" else ONNX_FILE)


def open_run_onnx(
    run_dir: str | Path,
    precision: Precision = "fp32",
    threads: int | None = None,
    providers: Sequence[str] | None = None,
) -> OnnxBackend:
    """The run's exported model, refused when it was exported from other weights."""
    run_dir = Path(run_dir)
    path = onnx_path_for(run_dir, precision)
    if not path.is_file():
        flag = " --int8 --calibration DIR" if precision == "int8" else ""
        raise InkfaceError(f"{path}: not found; run `inkface export --run {run_dir}{flag}`")
    backend = OnnxBackend(path, threads=threads, providers=providers)
    weights = run_dir / WEIGHTS_FILE
    recorded = backend.weights_sha256
    if recorded and weights.is_file() and file_sha256(weights) != recorded:
        raise InkfaceError(
            f"{path}: exported from other weights than {weights}; "
            f"run `inkface export --run {run_dir}` again"
        )
    return backend
