"""Architectures, the registry that names them, and the run folder (``models.run``:
``model.pt`` + ``meta.json``, loaded without unpickling code).

Importing this package registers every architecture (the imports below run the
``@register_model`` decorators); build models with ``get_model(name, **options)``.

Registered names: ``signet``, ``mobilenetv2_signature`` and ``deepsign`` (the Siamese
towers of DeepSign Tables 1-3, 128-d embeddings), ``mobilenetv2`` (the plain MobileNetV2
1.0 classifier, whose ``features`` is the reusable backbone), ``writer_cnn`` and
``siamese_pixels`` (the identification paper) and the face classifiers (``inkface info``
lists them all).
"""

from __future__ import annotations

from inkface.models import (
    deepsign,
    efficientnet,
    inception_v3,
    mask_mobilenetv2,
    mnasnet,
    mobilenetv2,
    mobilenetv3,
    resnet_cifar,
    siamese_pixels,
    signet,
    smile_cnn,
    vgg,
    writer_cnn,
)
from inkface.models.classifier_info import describe_classifier
from inkface.models.registry import ModelSpec, get_model, list_models, model_info, register_model
from inkface.models.summary import ModelSummary, describe_model, format_summary, summarize

__all__ = [
    "ModelSpec",
    "ModelSummary",
    "deepsign",
    "describe_classifier",
    "describe_model",
    "efficientnet",
    "format_summary",
    "get_model",
    "inception_v3",
    "list_models",
    "mask_mobilenetv2",
    "mnasnet",
    "mobilenetv2",
    "mobilenetv3",
    "model_info",
    "register_model",
    "resnet_cifar",
    "siamese_pixels",
    "signet",
    "smile_cnn",
    "summarize",
    "vgg",
    "writer_cnn",
]
