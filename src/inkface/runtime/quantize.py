"""Static int8 quantisation of an exported run, and what it costs in accuracy.

Calibration feeds real images through the fp32 model to fix each activation's int8
range (ONNX Runtime ``quantize_static``, MinMax, QDQ format, signed int8 activations
and per-channel weights: the CPU setting ONNX Runtime recommends). The images are
prepared exactly as the model's inputs at inference time, by the run's own predictor
(:mod:`inkface.runtime.predictor`): the runtime never chooses preprocessing by task.

``compare_precisions`` then runs both files on a validation folder:

* classifiers (faces, the writer CNN): ``<root>/<class_name>/*`` with the run's class
  names gives fp32 and int8 accuracy and their change; any folder gives the rate at
  which both precisions predict the same class;
* embedders: the distance between fp32 and int8 embeddings of each image (drift); on a
  folder whose layout the predictor knows pairs in (a CEDAR-layout folder for a
  verifier: genuine-genuine and genuine-forged pairs of each writer), also the pair
  accuracy at the run's distance threshold, with both precisions.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)
from tqdm import tqdm

from inkface.core.errors import InkfaceError
from inkface.core.images import is_image_file, list_images
from inkface.core.input_gate import read_input_bytes
from inkface.core.progress import show_bars
from inkface.runtime.onnx_session import MAX_ONNX_BYTES, OnnxBackend
from inkface.runtime.predictor import Predictor

Prepare = Callable[[Sequence[Path]], np.ndarray]  # image paths -> the model's input batch
BATCH = 16


class FolderCalibrationReader(CalibrationDataReader):
    """Feeds ``paths`` to the calibrator in batches of ``BATCH``, preprocessed lazily."""

    def __init__(
        self, paths: list[Path], prepare: Prepare, input_name: str, progress: bool = False
    ) -> None:
        self.paths, self.prepare, self.input_name = paths, prepare, input_name
        self.progress = progress
        self._batches: Iterator[dict[str, np.ndarray]] = iter(())
        self.rewind()

    def _generate(self) -> Iterator[dict[str, np.ndarray]]:
        starts = range(0, len(self.paths), BATCH)
        for start in tqdm(
            starts, desc="calibration", unit="batch", disable=not show_bars(self.progress)
        ):
            yield {self.input_name: self.prepare(self.paths[start : start + BATCH])}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)

    def rewind(self) -> None:
        self._batches = self._generate()


def _sample(paths: list[Path], limit: int, seed: int = 0) -> list[Path]:
    """At most ``limit`` paths, a seeded random subset kept in sorted order."""
    if limit < 1:
        raise InkfaceError(f"max_calibration: must be >= 1, got {limit}")
    if len(paths) <= limit:
        return paths
    keep = np.random.default_rng(seed).choice(len(paths), size=limit, replace=False)
    return [paths[i] for i in sorted(keep)]


def quantize_int8(
    fp32_path: Path,
    out_path: Path,
    prepare: Prepare,
    calibration: Path,
    max_calibration: int = 256,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the QDQ int8 model to ``out_path``; returns how it was calibrated."""
    paths = _sample(list_images(calibration, "calibration"), max_calibration)
    input_name = OnnxBackend(fp32_path).input_name
    report: dict[str, Any] = {
        "method": "static QDQ, MinMax calibration, int8 activations, per-channel int8 weights",
        "calibration": {"folder": str(calibration), "images": len(paths)},
    }
    with tempfile.TemporaryDirectory(prefix="inkface-quant-") as folder:
        # ONNX Runtime and onnx take paths as UTF-8 only: the models are handled in a
        # scratch folder of plain names and copied out by Python, so a run folder named
        # with other bytes works.
        scratch = _native_folder(Path(folder))
        fp32 = scratch / "fp32.onnx"
        fp32.write_bytes(read_input_bytes(fp32_path, "ONNX model", MAX_ONNX_BYTES))
        source, quantized = scratch / "pre.onnx", scratch / "int8.onnx"
        try:
            quant_pre_process(str(fp32), str(source), skip_symbolic_shape=True)
            report["pre_process"] = "applied"
        except Exception as exc:  # optional optimisation: the reason is recorded, not hidden
            source = fp32
            report["pre_process"] = f"skipped ({exc.__class__.__name__})"
        quantize_static(
            str(source),
            str(quantized),
            FolderCalibrationReader(paths, prepare, input_name, progress),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            use_external_data_format=False,
        )
        shutil.copyfile(quantized, out_path)
    return report


def _native_folder(folder: Path) -> Path:
    """``folder``, refused in one line unless its name is UTF-8 (what native code takes)."""
    try:
        os.fsencode(folder).decode("utf-8")
    except UnicodeDecodeError:
        raise InkfaceError(
            f"{folder}: temporary folder name is not UTF-8, which ONNX Runtime needs; "
            "set TMPDIR to another folder"
        ) from None
    return folder


def _run(backend: OnnxBackend, paths: list[Path], prepare: Prepare) -> np.ndarray:
    outs = [backend(prepare(paths[s : s + BATCH])) for s in range(0, len(paths), BATCH)]
    return np.concatenate(outs).astype(np.float64)


def compare_precisions(
    fp32_path: Path,
    int8_path: Path,
    predictor: Predictor,
    folder: Path,
    progress: bool = False,
    limit: int = 2000,
) -> dict[str, Any]:
    """fp32 vs int8 on the images of ``folder`` (see the module docstring)."""
    fp32, int8 = OnnxBackend(fp32_path), OnnxBackend(int8_path)
    if predictor.output_kind == "logits":
        return _compare_classifier(fp32, int8, predictor, folder, limit)
    return _compare_embedder(fp32, int8, predictor, folder, limit)


def _compare_classifier(
    fp32: OnnxBackend, int8: OnnxBackend, predictor: Predictor, folder: Path, limit: int
) -> dict[str, Any]:
    names = predictor.class_names
    labelled = [(p, i) for i, n in enumerate(names) for p in _images_in(folder / n)]
    if labelled:
        paths, labels = [p for p, _ in labelled], np.array([i for _, i in labelled])
    else:
        paths, labels = _sample(list_images(folder, "validation"), limit), None
    a, b = _run(fp32, paths, predictor.prepare), _run(int8, paths, predictor.prepare)
    pa, pb = a.argmax(axis=1), b.argmax(axis=1)
    report: dict[str, Any] = {
        "images": len(paths),
        "labelled": labels is not None,
        "agreement": float(np.mean(pa == pb)),
        "max_abs_logit_diff": float(np.max(np.abs(a - b))),
    }
    if labels is not None:
        acc32, acc8 = float(np.mean(pa == labels)), float(np.mean(pb == labels))
        report |= {"fp32_accuracy": acc32, "int8_accuracy": acc8, "accuracy_change": acc8 - acc32}
    return report


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))


def _compare_embedder(
    fp32: OnnxBackend, int8: OnnxBackend, predictor: Predictor, folder: Path, limit: int
) -> dict[str, Any]:
    paths, pairs = predictor.labelled_pairs(folder)
    if not pairs:
        paths = _sample(list_images(folder, "validation"), limit)
    a, b = _run(fp32, paths, predictor.prepare), _run(int8, paths, predictor.prepare)
    drift = np.linalg.norm(a - b, axis=1)
    cosine = np.sum(a * b, axis=1) / np.maximum(
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12
    )
    report: dict[str, Any] = {
        "images": len(paths),
        "embedding_distance_mean": float(drift.mean()),
        "embedding_distance_max": float(drift.max()),
        "cosine_mean": float(cosine.mean()),
        "cosine_min": float(cosine.min()),
    }
    threshold = predictor.pair_threshold
    if pairs and threshold:
        left, right, truth = (np.array(c) for c in zip(*pairs, strict=True))
        same32 = np.linalg.norm(a[left] - a[right], axis=1) <= threshold
        same8 = np.linalg.norm(b[left] - b[right], axis=1) <= threshold
        acc32, acc8 = float(np.mean(same32 == truth)), float(np.mean(same8 == truth))
        report |= {
            "pairs": len(pairs),
            "threshold": threshold,
            "fp32_pair_accuracy": acc32,
            "int8_pair_accuracy": acc8,
            "accuracy_change": acc8 - acc32,
            "decision_agreement": float(np.mean(same32 == same8)),
        }
    return report
