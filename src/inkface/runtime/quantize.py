"""Static int8 quantisation of an exported run, and what it costs in accuracy.

Calibration feeds real images through the fp32 model to fix each activation's int8
range (ONNX Runtime ``quantize_static``, MinMax, QDQ format, signed int8 activations
and per-channel weights: the CPU setting ONNX Runtime recommends). The images are
prepared exactly as the model's inputs at inference time: signatures with DeepSign
section 4.1 preprocessing (the run's style and size) then ``/ 255``; face crops with
the face classifier's ``prepare_crops`` + ``normalize``.

``compare_precisions`` then runs both files on a validation folder:

* classifiers (faces, the writer CNN): ``<root>/<class_name>/*`` with the run's class
  names gives fp32 and int8 accuracy and their change; any folder gives the rate at
  which both precisions predict the same class;
* embedders: the distance between fp32 and int8 embeddings of each image (drift); on a
  CEDAR-layout folder (``full_org``/``full_forg``) of a verification run, also the pair
  accuracy (genuine-genuine and genuine-forged pairs of each writer) at the run's
  distance threshold, with both precisions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import cv2
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

from inkface.core.errors import ImageError, InkfaceError
from inkface.core.images import is_image_file, read_grey
from inkface.models.run import RunMeta
from inkface.runtime.onnx_session import OnnxBackend

CLASSIFIER_TASKS = ("face-classification", "signature-identification-cnn")
BATCH = 16


def list_images(folder: str | Path | None, what: str) -> list[Path]:
    """Every image under ``folder`` (recursively, sorted); an error when there is none."""
    if folder is None:
        raise InkfaceError(f"{what} folder not given")
    root = Path(folder)
    if not root.is_dir():
        raise InkfaceError(f"{root}: {what} folder not found")
    files = (p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    paths = sorted(p for p in files if is_image_file(p))
    if not paths:
        raise InkfaceError(f"{root}: {what} folder holds no images")
    return paths


def _read_bgr(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f"{path}: cannot decode image")
    return image


def model_inputs(paths: list[Path], meta: RunMeta) -> np.ndarray:
    """float32 (N, C, H, W): ``paths`` prepared exactly as the run's model expects."""
    if meta.task == "face-classification":
        from inkface.faces.classification.classifier import normalize, prepare_crops

        channels = int(meta.preprocessing.get("in_channels", 3))
        crops = prepare_crops([_read_bgr(p) for p in paths], meta.input_size, channels)
        norm = str(meta.preprocessing.get("normalization", "unit"))
        return normalize(crops, norm, meta.preprocessing.get("mean"))
    from inkface.signatures.data.preprocess import preprocess_signature, to_model_input

    style = meta.preprocessing.get("style", "cedar")
    images = [preprocess_signature(read_grey(p), meta.input_size, style) for p in paths]
    return to_model_input(np.stack(images))


class FolderCalibrationReader(CalibrationDataReader):
    """Feeds ``paths`` to the calibrator in batches of ``BATCH``, preprocessed lazily."""

    def __init__(
        self, paths: list[Path], meta: RunMeta, input_name: str, progress: bool = False
    ) -> None:
        self.paths, self.meta, self.input_name = paths, meta, input_name
        self.progress = progress
        self._batches: Iterator[dict[str, np.ndarray]] = iter(())
        self.rewind()

    def _generate(self) -> Iterator[dict[str, np.ndarray]]:
        starts = range(0, len(self.paths), BATCH)
        for start in tqdm(starts, desc="calibration", unit="batch", disable=not self.progress):
            yield {self.input_name: model_inputs(self.paths[start : start + BATCH], self.meta)}

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
    meta: RunMeta,
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
    with tempfile.TemporaryDirectory(prefix="inkface-quant-") as scratch:
        source = Path(scratch) / "pre.onnx"
        try:
            quant_pre_process(str(fp32_path), str(source), skip_symbolic_shape=True)
            report["pre_process"] = "applied"
        except Exception as exc:  # optional optimisation: the reason is recorded, not hidden
            source = fp32_path
            report["pre_process"] = f"skipped ({exc.__class__.__name__})"
        quantize_static(
            str(source),
            str(out_path),
            FolderCalibrationReader(paths, meta, input_name, progress),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            use_external_data_format=False,
        )
    return report


def _run(backend: OnnxBackend, paths: list[Path], meta: RunMeta) -> np.ndarray:
    outs = [backend(model_inputs(paths[s : s + BATCH], meta)) for s in range(0, len(paths), BATCH)]
    return np.concatenate(outs).astype(np.float64)


def compare_precisions(
    fp32_path: Path,
    int8_path: Path,
    meta: RunMeta,
    folder: Path,
    progress: bool = False,
    limit: int = 2000,
) -> dict[str, Any]:
    """fp32 vs int8 on the images of ``folder`` (see the module docstring)."""
    fp32, int8 = OnnxBackend(fp32_path), OnnxBackend(int8_path)
    if meta.task in CLASSIFIER_TASKS:
        return _compare_classifier(fp32, int8, meta, folder, limit)
    return _compare_embedder(fp32, int8, meta, folder, limit)


def _compare_classifier(
    fp32: OnnxBackend, int8: OnnxBackend, meta: RunMeta, folder: Path, limit: int
) -> dict[str, Any]:
    names = list((meta.extra or {}).get("class_names") or [])
    labelled = [(p, i) for i, n in enumerate(names) for p in _images_in(folder / n)]
    if labelled:
        paths, labels = [p for p, _ in labelled], np.array([i for _, i in labelled])
    else:
        paths, labels = _sample(list_images(folder, "validation"), limit), None
    a, b = _run(fp32, paths, meta), _run(int8, paths, meta)
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
    fp32: OnnxBackend, int8: OnnxBackend, meta: RunMeta, folder: Path, limit: int
) -> dict[str, Any]:
    cedar = (folder / "full_org").is_dir() and (folder / "full_forg").is_dir()
    pairs: list[tuple[int, int, int]] = []
    if cedar:
        from inkface.signatures.data.readers import read_cedar

        paths = []
        for writer in read_cedar(folder, strict=False).writers:
            gen = list(range(len(paths), len(paths) + len(writer.genuine)))
            paths += list(writer.genuine)
            forged = list(range(len(paths), len(paths) + len(writer.forged)))
            paths += list(writer.forged)
            pairs += [(i, j, 1) for i, j in combinations(gen, 2)]
            pairs += [(i, j, 0) for i in gen for j in forged]
    else:
        paths = _sample(list_images(folder, "validation"), limit)
    a, b = _run(fp32, paths, meta), _run(int8, paths, meta)
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
    if pairs and meta.task == "signature-verification" and meta.threshold:
        left, right, truth = (np.array(c) for c in zip(*pairs, strict=True))
        same32 = np.linalg.norm(a[left] - a[right], axis=1) <= meta.threshold
        same8 = np.linalg.norm(b[left] - b[right], axis=1) <= meta.threshold
        acc32, acc8 = float(np.mean(same32 == truth)), float(np.mean(same8 == truth))
        report |= {
            "pairs": len(pairs),
            "threshold": meta.threshold,
            "fp32_pair_accuracy": acc32,
            "int8_pair_accuracy": acc8,
            "accuracy_change": acc8 - acc32,
            "decision_agreement": float(np.mean(same32 == same8)),
        }
    return report
