"""Export a run folder to a single-file ONNX model, checked against PyTorch.

``export_onnx(run_dir)`` writes ``model.onnx`` next to ``model.pt``: any task's model
(signature towers, the writer CNN, face classifiers) at the run's input size with a
dynamic batch axis, the run's ``meta.json`` embedded in the file's ``metadata_props``
and every weight inside the one file. It is written only if ONNX Runtime reproduces
PyTorch on random inputs to ``PARITY_TOLERANCE`` (max abs difference), so
:func:`~inkface.runtime.backends.load_backend` can prefer it without changing answers.

``int8=True`` adds ``model.int8.onnx`` (static QDQ quantisation calibrated on real
images, :mod:`inkface.runtime.quantize`) and measures what it costs on a validation
folder. ``export.json`` records the opset, the parity figure, file sizes and that report.

The exporter is PyTorch's TorchScript-based one (``dynamo=False``): it needs no extra
package and handles every registered architecture.
"""

from __future__ import annotations

import io
import json
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inkface.core.atomic import atomic_path, write_json
from inkface.core.errors import InkfaceError
from inkface.core.images import list_images
from inkface.models.run import META_FILE, WEIGHTS_FILE, RunMeta, load_run_model
from inkface.runtime.onnx_session import (
    FORMAT_KEY,
    INT8_FILE,
    META_KEY,
    ONNX_FILE,
    ONNX_FORMAT,
    PRECISION_KEY,
    WEIGHTS_KEY,
    OnnxBackend,
    file_sha256,
)
from inkface.runtime.predictor import Predictor

PARITY_TOLERANCE = 1e-4
EXPORT_REPORT = "export.json"
DEFAULT_OPSET = 17
MIN_OPSET = 13  # per-channel QDQ quantisation and the ops of every registered model
PARITY_BATCH = 3  # not the export batch (2), so the dynamic batch axis is exercised


@dataclass(frozen=True)
class ExportResult:
    """What ``export_onnx`` wrote and measured (also saved as ``export.json``)."""

    run: str
    task: str
    architecture: str
    opset: int
    input_shape: list[Any]
    onnx_path: str
    onnx_bytes: int
    parity_max_abs_diff: float
    parity_tolerance: float
    int8_path: str | None = None
    int8_bytes: int | None = None
    quantization: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"format": ONNX_FORMAT, **asdict(self)}


def input_channels(meta: RunMeta) -> int:
    """Channels the model reads, from ``meta.json`` (runs without the key are grey)."""
    return int(meta.preprocessing.get("in_channels", 1))


def export_onnx(
    run_dir: str | Path,
    opset: int = DEFAULT_OPSET,
    int8: bool = False,
    calibration: str | Path | None = None,
    validation: str | Path | None = None,
    max_calibration: int = 256,
    progress: bool = True,
    predictor: Predictor | None = None,
) -> ExportResult:
    """Write ``model.onnx`` (and ``model.int8.onnx`` with ``int8``) plus ``export.json``.

    int8 calibration prepares images with the run's own ``predictor``
    (``inkface.load_predictor(run_dir, backend="torch")``), so the calibration inputs are
    exactly what the model sees at inference time.
    """
    run_dir = Path(run_dir)
    if not MIN_OPSET <= opset <= 21:
        raise InkfaceError(f"opset: {opset} unsupported (use {MIN_OPSET}..21)")
    if int8 and calibration is None:
        raise InkfaceError("--int8 needs --calibration DIR (a folder of preprocessable images)")
    if int8 and predictor is None:
        raise InkfaceError(
            "int8 export needs the run's predictor for calibration "
            "(predictor=inkface.load_predictor(run_dir, backend='torch'))"
        )
    model, meta = load_run_model(run_dir)
    shape = (input_channels(meta), *meta.input_size)
    props = {
        FORMAT_KEY: str(ONNX_FORMAT),
        META_KEY: json.dumps(_raw_meta(run_dir), sort_keys=True),
        WEIGHTS_KEY: file_sha256(run_dir / WEIGHTS_FILE),
        PRECISION_KEY: "fp32",
    }
    if int8:  # fail on a bad calibration folder before the export work
        list_images(calibration, "calibration")
    target = run_dir / ONNX_FILE
    _say(progress, f"exporting {meta.architecture} to {target} (opset {opset})")
    with atomic_path(target, suffix=".onnx") as tmp:
        _torch_export(model, shape, tmp, opset)
        finalise_onnx(tmp, props)
        diff = parity_max_abs_diff(model, tmp, shape)
        if not diff <= PARITY_TOLERANCE:
            raise InkfaceError(
                f"{target}: ONNX Runtime differs from PyTorch by {diff:.3g} "
                f"(> {PARITY_TOLERANCE:g}); file not written"
            )
    result = ExportResult(
        run=str(run_dir),
        task=meta.task,
        architecture=meta.architecture,
        opset=opset,
        input_shape=["batch", *shape],
        onnx_path=ONNX_FILE,
        onnx_bytes=target.stat().st_size,
        parity_max_abs_diff=float(diff),
        parity_tolerance=PARITY_TOLERANCE,
    )
    write_json(run_dir / EXPORT_REPORT, result.as_dict())  # true even if int8 fails below
    if int8:
        result = _add_int8(
            result, run_dir, predictor, props, calibration, validation, max_calibration, progress
        )
        write_json(run_dir / EXPORT_REPORT, result.as_dict())
    return result


def _add_int8(
    result: ExportResult,
    run_dir: Path,
    predictor: Predictor,
    props: dict[str, str],
    calibration: str | Path | None,
    validation: str | Path | None,
    max_calibration: int,
    progress: bool,
) -> ExportResult:
    # onnxruntime.quantization is slow to import and only int8 exports need it.
    from inkface.runtime.quantize import compare_precisions, quantize_int8

    fp32 = run_dir / ONNX_FILE
    target = run_dir / INT8_FILE
    _say(progress, f"quantising to int8 with images from {calibration}")
    with atomic_path(target, suffix=".onnx") as tmp:
        report = quantize_int8(
            fp32, tmp, predictor.prepare, Path(calibration), max_calibration, progress
        )
        finalise_onnx(tmp, {**props, PRECISION_KEY: "int8"})
        folder, kind = (Path(validation), "validation") if validation else (None, "calibration")
        _say(progress, f"comparing int8 with fp32 on the {kind} images")
        report["set"] = kind
        report["comparison"] = compare_precisions(
            fp32, tmp, predictor, folder or Path(calibration), progress
        )
    size = target.stat().st_size
    report["size_ratio"] = round(size / max(result.onnx_bytes, 1), 4)
    return ExportResult(
        **{**asdict(result), "int8_path": INT8_FILE, "int8_bytes": size, "quantization": report}
    )


def _raw_meta(run_dir: Path) -> dict[str, Any]:
    """``meta.json`` exactly as saved (``load_run_model`` has already validated it)."""
    return json.loads((run_dir / META_FILE).read_text(encoding="utf-8"))


def _torch_export(model: torch.nn.Module, shape: tuple[int, ...], path: Path, opset: int) -> None:
    dummy = torch.zeros(2, *shape)
    with warnings.catch_warnings():
        # The TorchScript exporter announces its deprecation; it is the one we want here.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding")
        buffer = io.BytesIO()  # written by Python: native writers need UTF-8 names
        try:
            torch.onnx.export(
                model.eval(),
                (dummy,),
                buffer,
                dynamo=False,
                opset_version=opset,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                do_constant_folding=True,
            )
        except (RuntimeError, torch.onnx.errors.OnnxExporterError) as exc:
            first = (str(exc).splitlines() or [exc.__class__.__name__])[0]
            raise InkfaceError(f"cannot export to ONNX opset {opset}: {first}") from None
    path.write_bytes(buffer.getvalue())


def finalise_onnx(path: Path, props: dict[str, str]) -> None:
    """Embed ``props`` as ``metadata_props``, check the model, save it as one file."""
    import onnx

    proto = onnx.load_model_from_string(path.read_bytes())  # any file name, not only UTF-8
    kept = [p for p in proto.metadata_props if p.key not in props]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "inkface"
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        first = (str(exc).splitlines() or [exc.__class__.__name__])[0]
        raise InkfaceError(f"{path}: exported ONNX model fails onnx.checker ({first})") from None
    path.write_bytes(proto.SerializeToString())  # one file: no external data


def parity_max_abs_diff(
    model: torch.nn.Module, onnx_path: Path, shape: tuple[int, ...], seed: int = 0
) -> float:
    """Max abs difference of ONNX Runtime vs PyTorch outputs on seeded random inputs."""
    generator = torch.Generator().manual_seed(seed)
    batch = torch.rand(PARITY_BATCH, *shape, generator=generator)
    with torch.no_grad():
        expected = model.eval()(batch).numpy()
    got = OnnxBackend(onnx_path)(batch.numpy())
    if got.shape != expected.shape:
        raise InkfaceError(f"{onnx_path}: output shape {got.shape} != PyTorch {expected.shape}")
    return float(np.max(np.abs(got.astype(np.float64) - expected))) if expected.size else 0.0


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr)
