"""Train and evaluate the identification paper's two models into run folders.

* ``train_writer_cnn``: the closed-set CNN (section III.A), Adam (Keras default 1e-3),
  batch 32, up to 25 epochs (the paper's maximum), best epoch kept by validation
  accuracy. Validation = clean held-out samples, test = heavily distorted held-out
  samples (the paper's "testing set containing images with heavier distortions").
* ``train_siamese_identifier``: the pixel Siamese network (section III.B) on about
  6,000 random pairs of (Keras-style distorted) training images, like the CNN's
  augmented data; a probe is identified as the writer of its most similar training
  sample (the enrolled references). Its decision threshold on similarity is the
  accuracy-maximising one on validation pairs. The paper gives no learning rate for
  it; Adam at Keras' default 1e-3 let the ReLU pixel embedding collapse in our runs
  (every probe equally similar to every writer), so the default here is 1e-4.

Both resume an interrupted run from its last checkpoint, keep a finished run as it is
unless asked (``resume="continue"`` trains on, ``resume=False`` retrains) and refuse a
folder holding another model (:mod:`inkface.training.run_folder`). With a
``distribution`` of several processes (Lightning DDP, :mod:`inkface.training.distributed`)
each loads its share of every batch; global rank 0 alone writes the run folder and
evaluates, the other ranks return an empty result after fitting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import yaml
from torch.nn import functional as F
from torch.utils.data import DataLoader

from inkface.core.atomic import write_json
from inkface.core.errors import InkfaceError
from inkface.evaluation.identification import closed_set_metrics, cmc_curve, open_set_rates
from inkface.evaluation.thresholds import accuracy_threshold
from inkface.models.run import RunMeta, save_run_model
from inkface.signatures.data.augment import TRAIN_RANGES
from inkface.signatures.identification.augmented import (
    PAPER_SAMPLES_PER_WRITER,
    AugmentedImages,
    loader_options,
)
from inkface.signatures.identification.data import IdentificationData
from inkface.signatures.identification.pair_similarity import (
    ImagePairs,
    PairSimilarityModule,
    random_pairs,
)
from inkface.signatures.identification.predictor import CNN_TASK
from inkface.signatures.verification.embedder import SIAMESE_TASK
from inkface.training.classifier import ClassifierModule
from inkface.training.distributed import Distribution, is_global_zero
from inkface.training.fit import FitResult, fit
from inkface.training.run_folder import RunIdentity, RunPlan, begin_run, check_count, plan_run


def cnn_identity(conv_layers: int, n_writers: int | None = None) -> RunIdentity:
    """The model a writer-CNN run folder holds (writers unknown before the data is read)."""
    kwargs = {"conv_layers": conv_layers}
    return RunIdentity(
        "writer_cnn",
        kwargs if n_writers is None else {"num_classes": n_writers, **kwargs},
        CNN_TASK,
    )


def siamese_identity(conv_features: bool = False) -> RunIdentity:
    """The model a pixel-Siamese run folder holds."""
    return RunIdentity("siamese_pixels", {"conv_features": conv_features}, SIAMESE_TASK)


def _plan(
    out_dir: Path,
    identity: RunIdentity,
    data: IdentificationData,
    resume: bool | str,
    **training: Any,
) -> RunPlan:
    """Where the run folder stands (:func:`inkface.training.run_folder.plan_run`), with a
    ``recipe.yaml`` recording the model, the data and the training settings (the paper
    has no recipe files; a rerun with other settings is compared against it)."""
    for name in ("epochs", "batch_size"):
        check_count(name, training[name])
    recipe = {
        "name": f"identification-{identity.architecture}",
        "model": {"name": identity.architecture, "kwargs": identity.model_kwargs},
        "data": {"writers": data.n_writers, "images": len(data.labels), "style": data.style},
        "training": training,
    }
    return plan_run(out_dir, identity, resume, yaml.safe_dump(recipe, sort_keys=False))


def saved_result(run_dir: str | Path) -> dict[str, Any]:
    """The result a finished run wrote to ``metrics.json`` (one line if unreadable)."""
    path = Path(run_dir) / "metrics.json"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        result = None
    if not isinstance(result, dict):
        raise InkfaceError(f"{path}: missing or unreadable; rerun with --force to retrain")
    return result


def _fit_best(
    module: L.LightningModule,
    run_dir: Path,
    train_loader: DataLoader,
    val_loader: DataLoader,
    epochs: int,
    progress: bool,
    accelerator: str,
    resume: bool,
    distribution: Distribution,
) -> FitResult:
    """Fit, keeping the epoch with the best validation accuracy (no early stopping;
    ``resume`` continues from ``checkpoints/last.ckpt``)."""
    return fit(
        module,
        train_loader,
        val_loader,
        run_dir,
        max_epochs=epochs,
        monitor="val_accuracy",
        mode="max",
        accelerator=accelerator,
        distribution=distribution,
        progress=progress,
        resume=resume,
    )


def train_writer_cnn(
    data: IdentificationData,
    out_dir: str | Path,
    conv_layers: int = 3,
    epochs: int = 25,
    batch_size: int = 32,
    lr: float = 1e-3,
    samples_per_writer: int = PAPER_SAMPLES_PER_WRITER,
    seed: int = 0,
    progress: bool = True,
    accelerator: str = "auto",
    resume: bool | str = True,
    workers: int = 0,
    distribution: Distribution | None = None,
) -> dict[str, Any]:
    """Train one CNN depth; returns history, validation and (distorted) test accuracy.

    Each epoch sees ``samples_per_writer`` training samples per writer (the paper's
    2,000 by default, section III.A), distorted on the fly in ``workers`` DataLoader
    processes (0: in this one; the samples are the same either way, see
    :mod:`inkface.signatures.identification.augmented`). ``resume``: see the module
    docstring; a kept finished run returns its saved result.
    """
    run_dir = Path(out_dir)
    check_count("samples_per_writer", samples_per_writer)
    workers_options = loader_options(workers)
    identity = cnn_identity(conv_layers, data.n_writers)
    settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed}
    plan = _plan(run_dir, identity, data, resume, samples_per_writer=samples_per_writer, **settings)
    if plan.keep:
        return saved_result(run_dir)
    distribution = distribution or Distribution()
    if is_global_zero():  # DDP: rank 0 writes, the other ranks train alongside
        begin_run(plan)
    L.seed_everything(seed, workers=True, verbose=False)
    train_images, train_labels = data.images[data.train], data.labels[data.train]
    train_set = AugmentedImages(train_images, train_labels, samples_per_writer, seed=seed)
    val_set = AugmentedImages(data.images[data.val], data.labels[data.val], None, None)
    module = ClassifierModule(
        "writer_cnn",
        {"num_classes": data.n_writers, "conv_layers": conv_layers},
        {"name": "adam", "lr": lr},
        class_names=data.writer_names,
    )
    generator = torch.Generator().manual_seed(seed)
    fitted = _fit_best(
        module,
        run_dir,
        DataLoader(
            train_set,
            batch_size=distribution.per_rank_batch(batch_size, accelerator),
            shuffle=True,
            generator=generator,
            **workers_options,
        ),
        DataLoader(val_set, batch_size=256),
        epochs,
        progress,
        accelerator,
        plan.resume,
        distribution,
    )
    if not is_global_zero():
        return {}
    model = module.model.cpu().eval()
    val_scores = _softmax_scores(model, data.images[data.val])
    test_scores = _softmax_scores(model, data.hard_test_images)
    result = {
        "model": f"CNN ({conv_layers} conv layers)",
        "conv_layers": conv_layers,
        "validation": closed_set_metrics(val_scores, data.labels[data.val]),
        "test": closed_set_metrics(test_scores, data.labels[data.test]),
        "cmc_test": cmc_curve(test_scores, data.labels[data.test]).tolist(),
        "history": fitted.history,
        "train_images_per_epoch": len(train_set),
    }
    write_json(run_dir / "metrics.json", result)
    meta = RunMeta(
        architecture="writer_cnn",
        model_kwargs={"num_classes": data.n_writers, "conv_layers": conv_layers},
        input_size=tuple(data.images.shape[1:]),  # type: ignore[arg-type]
        preprocessing={"style": data.style},
        threshold=None,
        task=CNN_TASK,
        extra={"class_names": list(data.writer_names)},
    )
    save_run_model(run_dir, model, meta)
    return result


@torch.no_grad()
def _softmax_scores(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).float() / 255.0
    return torch.cat([F.softmax(model(chunk), dim=1) for chunk in tensor.split(256)]).numpy()


@torch.no_grad()
def embed_images(tower: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """Embeddings of uint8 (N, H, W) images through any signature tower."""
    tower.eval()
    tensor = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).float() / 255.0
    return torch.cat([tower(chunk) for chunk in tensor.split(256)]).numpy()


def writer_scores(
    gallery: np.ndarray, gallery_labels: np.ndarray, probes: np.ndarray, n_writers: int
) -> np.ndarray:
    """Negative smallest distance from each probe to each writer's references."""
    d = np.sqrt(np.maximum(((probes[:, None, :] - gallery[None, :, :]) ** 2).sum(-1), 0.0))
    best = np.full((len(probes), n_writers), np.inf)
    for w in range(n_writers):
        mask = gallery_labels == w
        if mask.any():
            best[:, w] = d[:, mask].min(axis=1)
    return -best


def train_siamese_identifier(
    data: IdentificationData,
    out_dir: str | Path,
    n_pairs: int = 6000,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 1e-4,
    conv_features: bool = False,
    seed: int = 0,
    progress: bool = True,
    accelerator: str = "auto",
    resume: bool | str = True,
    workers: int = 0,
    distribution: Distribution | None = None,
) -> dict[str, Any]:
    """Train the pixel Siamese network; identification by the most similar reference.

    ``workers``: DataLoader processes distorting the pairs (0: this one; same pairs).
    ``resume``: see the module docstring; a kept finished run returns its saved result.
    """
    run_dir = Path(out_dir)
    check_count("n_pairs", n_pairs)
    workers_options = loader_options(workers)
    settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed}
    plan = _plan(
        run_dir, siamese_identity(conv_features), data, resume, n_pairs=n_pairs, **settings
    )
    if plan.keep:
        return saved_result(run_dir)
    distribution = distribution or Distribution()
    if is_global_zero():  # DDP: rank 0 writes, the other ranks train alongside
        begin_run(plan)
    L.seed_everything(seed, workers=True, verbose=False)
    train_images, train_labels = data.images[data.train], data.labels[data.train]
    val_images, val_labels = data.images[data.val], data.labels[data.val]
    module = PairSimilarityModule({"conv_features": conv_features}, {"name": "adam", "lr": lr})
    val_pairs = random_pairs(val_labels, max(200, n_pairs // 10), seed + 1)
    generator = torch.Generator().manual_seed(seed)
    train_pairs = random_pairs(train_labels, n_pairs, seed)
    fitted = _fit_best(
        module,
        run_dir,
        DataLoader(
            ImagePairs(train_images, train_pairs, TRAIN_RANGES, seed),
            batch_size=distribution.per_rank_batch(batch_size, accelerator),
            shuffle=True,
            generator=generator,
            **workers_options,
        ),
        DataLoader(ImagePairs(val_images, val_pairs), batch_size=256),
        epochs,
        progress,
        accelerator,
        plan.resume,
        distribution,
    )
    if not is_global_zero():
        return {}
    net = module.net.cpu().eval()
    threshold = _similarity_threshold(net, val_images, val_pairs)
    gallery = embed_images(net.tower, train_images)

    def scores(images: np.ndarray) -> np.ndarray:
        return writer_scores(gallery, train_labels, embed_images(net.tower, images), data.n_writers)

    test_scores = scores(data.hard_test_images)
    offset = float(net.head.offset.detach())
    scale = float(F.softplus(net.head.raw_scale.detach()))
    result = {
        "model": "Siamese (pixels)" if not conv_features else "Siamese (conv features)",
        "validation": closed_set_metrics(scores(val_images), val_labels),
        "test": closed_set_metrics(test_scores, data.labels[data.test]),
        "cmc_test": cmc_curve(test_scores, data.labels[data.test]).tolist(),
        "open_set_test": open_set_evaluation(test_scores, data.labels[data.test]),
        "similarity_threshold": threshold,
        "history": fitted.history,
    }
    write_json(run_dir / "metrics.json", result)
    meta = RunMeta(
        architecture="siamese_pixels",
        model_kwargs={"conv_features": conv_features},
        input_size=tuple(data.images.shape[1:]),  # type: ignore[arg-type]
        preprocessing={"style": data.style},
        threshold=None,
        task=SIAMESE_TASK,
        extra={
            "similarity_head": {"offset": offset, "scale": scale},
            "similarity_threshold": threshold,
        },
    )
    save_run_model(run_dir, net.tower, meta)
    return result


def open_set_evaluation(
    scores: np.ndarray, truth: np.ndarray, unknown_fraction: float = 0.25
) -> dict[str, Any]:
    """Open-set rates with the last quarter of the writers left out of the gallery.

    Their probes are the non-mated searches that fix the alarm threshold at each
    false-alarm rate. (The Siamese network saw those writers during training; a
    gallery's writers need not be, which ``tests/test_identification.py`` shows.)
    """
    n_writers = scores.shape[1]
    n_unknown = max(1, round(unknown_fraction * n_writers))
    if n_writers - n_unknown < 2:
        return {"error": "too few writers for an open-set split"}
    enrolled = n_writers - n_unknown
    mated = truth < enrolled
    rows = open_set_rates(
        scores[mated][:, :enrolled], truth[mated], scores[~mated][:, :enrolled].max(axis=1)
    )
    return {"enrolled_writers": enrolled, "unknown_writers": n_unknown, "rates": rows}


@torch.no_grad()
def _similarity_threshold(net: torch.nn.Module, images: np.ndarray, pairs: np.ndarray) -> float:
    """Similarity threshold maximising same/different accuracy on validation pairs (the
    verifier's rule, with "same writer" above the threshold)."""
    module_input = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).float() / 255.0
    sims = net(module_input[pairs[:, 0]], module_input[pairs[:, 1]]).numpy()
    return accuracy_threshold(sims, pairs[:, 2], accept="above").threshold
