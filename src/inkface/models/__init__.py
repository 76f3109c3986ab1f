"""Architectures and the registry that names them.

Importing this package registers every architecture (the imports below run the
``@register_model`` decorators); build models with ``get_model(name, **options)``.

Registered names: ``signet``, ``mobilenetv2_signature`` and ``deepsign`` (the Siamese
towers of DeepSign Tables 1-3, 128-d embeddings) and ``mobilenetv2`` (the plain MobileNetV2
1.0 classifier, whose ``features`` is the reusable backbone).
"""

from __future__ import annotations

from inkface.models import deepsign, mobilenetv2, signet
from inkface.models.registry import ModelSpec, get_model, list_models, model_info, register_model
from inkface.models.summary import ModelSummary, describe_model, format_summary, summarize

__all__ = [
    "ModelSpec",
    "ModelSummary",
    "deepsign",
    "describe_model",
    "format_summary",
    "get_model",
    "list_models",
    "mobilenetv2",
    "model_info",
    "register_model",
    "signet",
    "summarize",
]
