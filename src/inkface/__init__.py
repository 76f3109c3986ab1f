"""inkface: lightweight CNNs for signatures and faces, from training to real-time use.

The public API is re-exported lazily so that ``import inkface`` stays fast and never
imports torch unless a model is actually needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "InkfaceError": "inkface.errors",
    "DatasetError": "inkface.errors",
    "ImageError": "inkface.errors",
    "load_signature_dataset": "inkface.data.signature_readers",
    "read_cedar": "inkface.data.signature_readers",
    "read_bhsig260": "inkface.data.signature_readers",
    "read_folder_per_writer": "inkface.data.signature_readers",
    "generate_signatures": "inkface.data.synth_signatures",
    "preprocess_signature": "inkface.signatures.preprocess",
    "load_preprocessed": "inkface.data.cache",
    "split_writers": "inkface.data.pairs",
    "make_pairs": "inkface.data.pairs",
    "plan_pairs": "inkface.data.experiments",
    "load_recipe": "inkface.training.recipes",
    "train_verifier": "inkface.training.verification_run",
    "load_verifier": "inkface.signatures.verifier",
    "load_embedder": "inkface.signatures.embedder",
    "open_gallery": "inkface.signatures.gallery",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'inkface' has no attribute {name!r}")
    return getattr(import_module(module), name)
