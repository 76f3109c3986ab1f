"""inkface: lightweight CNNs for signatures and faces, from training to real-time use.

The public API is re-exported lazily so that ``import inkface`` stays fast and never
imports torch unless a model is actually needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from inkface.core.version import __version__

_LAZY = {
    "InkfaceError": "inkface.core.errors",
    "DatasetError": "inkface.core.errors",
    "ImageError": "inkface.core.errors",
    "load_signature_dataset": "inkface.signatures.data.readers",
    "read_cedar": "inkface.signatures.data.readers",
    "read_bhsig260": "inkface.signatures.data.readers",
    "read_folder_per_writer": "inkface.signatures.data.readers",
    "generate_signatures": "inkface.signatures.synth.generator",
    "preprocess_signature": "inkface.signatures.data.preprocess",
    "load_preprocessed": "inkface.signatures.data.cache",
    "split_writers": "inkface.signatures.data.pairs",
    "make_pairs": "inkface.signatures.data.pairs",
    "plan_pairs": "inkface.signatures.data.plans",
    "load_recipe": "inkface.signatures.verification.recipe",
    "train_verifier": "inkface.signatures.verification.train",
    "load_verifier": "inkface.signatures.verification.verifier",
    "load_embedder": "inkface.signatures.verification.embedder",
    "open_gallery": "inkface.signatures.identification.gallery",
    "load_predictor": "inkface.inference",
    "Predictor": "inkface.runtime.predictor",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'inkface' has no attribute {name!r}")
    return getattr(import_module(module), name)
