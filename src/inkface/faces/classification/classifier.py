"""A trained face classifier as the pipeline uses it: crops in, class probabilities out.

Everything needed to preprocess a crop is read from the run's ``meta.json``
(``task: face-classification``): input size, colour (``in_channels`` 3 = RGB, 1 = grey),
pixel normalisation and class names, so any registered classifier, trained or not,
plugs into the pipeline the same way.

``preprocessing.normalization``: ``unit`` ([0, 1]), ``minus_one_to_one`` ([-1, 1], the
smile paper and Keras MobileNetV2), ``imagenet`` ([0, 1] then ImageNet mean / std) or
``dataset_mean`` ([0, 1] minus the stored per-channel ``mean``, the FER paper's mean
subtraction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from inkface.core.errors import InkfaceError
from inkface.core.images import read_rgb
from inkface.models import get_model, model_info
from inkface.models.run import RunMeta, save_run_model
from inkface.runtime.backends import (
    BackendName,
    InferenceBackend,
    open_run,
)
from inkface.runtime.predictor import ImageInput, Predictor, softmax

TASK = "face-classification"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
NORMALIZATIONS = ("unit", "minus_one_to_one", "imagenet", "dataset_mean")


def normalize(
    images: np.ndarray, normalization: str, mean: Sequence[float] | None = None
) -> np.ndarray:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) with the model's pixel scaling."""
    x = images.astype(np.float32) / 255.0
    if normalization == "minus_one_to_one":
        x = x * 2.0 - 1.0
    elif normalization == "imagenet":
        x = (x - IMAGENET_MEAN[: x.shape[-1]]) / IMAGENET_STD[: x.shape[-1]]
    elif normalization == "dataset_mean":
        if mean is None:
            raise InkfaceError("dataset_mean normalisation needs preprocessing.mean in meta.json")
        x = x - np.asarray(mean, dtype=np.float32)
    elif normalization != "unit":
        raise InkfaceError(f"unknown normalization {normalization!r} ({', '.join(NORMALIZATIONS)})")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def prepare_crops(
    crops: Sequence[np.ndarray], size: tuple[int, int], in_channels: int
) -> np.ndarray:
    """BGR or grey crops -> uint8 (N, H, W, C), RGB for 3 channels, resized with INTER_AREA."""
    out = []
    for crop in crops:
        if crop.ndim == 2:
            crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        resized = cv2.resize(crop, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        if in_channels == 1:
            out.append(cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY)[:, :, None])
        else:
            out.append(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB))
    return np.stack(out) if out else np.zeros((0, *size, in_channels), np.uint8)


@dataclass(frozen=True)
class FaceClassification:
    """One face crop's label, its probability and every class's probability."""

    label: str
    score: float
    probabilities: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaceClassifier(Predictor):
    """Batch classification of face crops with a run's preprocessing and class names.

    ``predict`` takes face crops: paths, or arrays in OpenCV's BGR order (grey arrays
    are accepted); the whole image is the face.
    """

    task = TASK
    output_kind = "logits"

    def __init__(
        self, backend: InferenceBackend, meta: RunMeta, name: str = "", weights_sha256: str = ""
    ) -> None:
        if meta.task != TASK:
            raise InkfaceError(f"run is a {meta.task} model, not a face classifier")
        super().__init__(backend, meta, weights_sha256)
        self.name = name or str((meta.extra or {}).get("head", meta.architecture))
        self.normalization = str(meta.preprocessing.get("normalization", "unit"))

    @property
    def input_channels(self) -> int:
        return int(self.meta.preprocessing.get("in_channels", 3))

    def preprocess(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """BGR or grey crops -> the model's float32 (N, C, H, W) input."""
        images = prepare_crops(crops, self.input_size, self.input_channels)
        return normalize(images, self.normalization, self.meta.preprocessing.get("mean"))

    def prepare(self, images: Sequence[ImageInput]) -> np.ndarray:
        return self.preprocess([_as_bgr(image) for image in images])

    def predict_proba(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, classes) softmax probabilities; an empty batch gives (0, classes)."""
        if not len(crops):
            return np.zeros((0, len(self.class_names)), np.float32)
        return softmax(self.backend(self.preprocess(crops)))

    def predict(self, batch: Sequence[ImageInput]) -> list[FaceClassification]:
        """The label and class probabilities of each face crop in ``batch``."""
        probs = self.predict_proba([_as_bgr(image) for image in batch])
        names = self.class_names or [str(i) for i in range(probs.shape[1])]
        return [
            FaceClassification(
                label=names[int(row.argmax())],
                score=float(row.max()),
                probabilities={n: float(v) for n, v in zip(names, row, strict=True)},
            )
            for row in probs
        ]


def _as_bgr(image: ImageInput) -> np.ndarray:
    """A path decoded safely to BGR, or an array passed through (BGR or grey)."""
    if isinstance(image, np.ndarray):
        return image
    return np.ascontiguousarray(read_rgb(image)[:, :, ::-1])


def load_face_classifier(
    run_dir: str | Path, prefer: BackendName = "auto", threads: int | None = None
) -> FaceClassifier:
    """The classifier in ``run_dir`` on ONNX Runtime (if exported) or PyTorch."""
    run = open_run(run_dir, {TASK}, "is not a face classifier", prefer, threads)
    return FaceClassifier(run.backend, run.meta, weights_sha256=run.weights_sha256)


def save_face_classifier(
    run_dir: str | Path,
    model: torch.nn.Module,
    architecture: str,
    class_names: Sequence[str],
    input_size: tuple[int, int],
    normalization: str,
    in_channels: int = 3,
    model_kwargs: dict[str, Any] | None = None,
    head: str = "",
    mean: Sequence[float] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write weights + meta.json in the format :func:`load_face_classifier` reads."""
    if normalization not in NORMALIZATIONS:
        raise InkfaceError(f"unknown normalization {normalization!r}")
    preprocessing: dict[str, Any] = {
        "normalization": normalization,
        "in_channels": in_channels,
        "color": "rgb" if in_channels == 3 else "grey",
    }
    if mean is not None:
        preprocessing["mean"] = [float(m) for m in mean]
    meta = RunMeta(
        architecture=architecture,
        model_kwargs=dict(model_kwargs or {}),
        input_size=input_size,
        preprocessing=preprocessing,
        threshold=None,
        task=TASK,
        extra={"class_names": list(class_names), "head": head or architecture, **(extra or {})},
    )
    save_run_model(run_dir, model, meta)
    return Path(run_dir)


def init_untrained_classifier(
    run_dir: str | Path, model_name: str, seed: int = 0, **model_kwargs: Any
) -> Path:
    """A run folder holding an *untrained* registered classifier (for tests and wiring)."""

    spec = model_info(model_name)
    if spec.kind != "classifier":
        raise InkfaceError(f"{model_name} is not a classifier")
    torch.manual_seed(seed)
    model = get_model(model_name, **model_kwargs)
    classes = spec.class_names or tuple(f"class_{i}" for i in range(spec.num_classes or 2))
    n = model_kwargs.get("num_classes")
    if n is not None and n != len(classes):
        classes = tuple(f"class_{i}" for i in range(n))
    return save_face_classifier(
        run_dir,
        model,
        model_name,
        classes,
        spec.input_size,
        spec.normalization,
        spec.in_channels,
        model_kwargs,
        head=model_name,
        # An untrained model has no dataset to take a mean from: mid-grey stands in.
        mean=[0.5] * spec.in_channels if spec.normalization == "dataset_mean" else None,
    )
