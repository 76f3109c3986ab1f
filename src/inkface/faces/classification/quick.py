"""Small synthetic stand-ins for the face experiments (dry runs without datasets).

Without dataset roots the reproductions and the demo train on faces from
:func:`inkface.faces.synth.generator.generate_faces` and, for the FER pre-training, on a
generated CIFAR-10-layout folder. :func:`quick_recipe` shrinks a recipe accordingly:
small inputs, few epochs, whatever datasets it names replaced by the generated one of
its task. The numbers then only show that the protocol runs end to end.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from inkface.core.atomic import atomic_path
from inkface.faces.classification.recipe import FaceRecipe
from inkface.faces.synth.generator import generate_faces

TASK_DATASET = {
    "smile": ("smile", "genki"),
    "expression": ("expression", "ferplus"),
    "mask": ("mask", "mask"),
}
QUICK_SIZES = {
    "inception_v3": (80, 80),
    "mask_mobilenetv2": (224, 224),
    "resnet20": (32, 32),
    "resnet32": (32, 32),
}


def synthetic_faces(root: Path, task: str, n: int = 96, seed: int = 0) -> Path:
    """Generated faces of ``task`` in ``root/<task>`` (reused when already there)."""

    folder = root / TASK_DATASET[task][0]
    if not (folder / "boxes.json").is_file():
        size = 96 if task != "expression" else 64
        generate_faces(folder, task, n, seed=seed, size=size, progress=False)
    return folder


def write_synthetic_cifar10(root: Path, n: int = 300, seed: int = 0) -> Path:
    """A CIFAR-10 python-layout folder of class-coloured noise images (pre-training stand-in)."""
    if (root / "batches.meta").is_file():
        return root
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (10, 3))

    def batch(count: int) -> dict:
        labels = rng.integers(0, 10, count)
        base = colours[labels][:, :, None, None] * np.ones((1, 1, 32, 32))
        noisy = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
        return {b"data": noisy.reshape(count, -1), b"labels": labels.tolist()}

    root.mkdir(parents=True, exist_ok=True)
    files = {f"data_batch_{i}": batch(max(1, n // 5)) for i in range(1, 6)}
    files["test_batch"] = batch(max(10, n // 5))
    files["batches.meta"] = {b"label_names": [f"class{i}".encode() for i in range(10)]}
    for name, content in files.items():
        with atomic_path(root / name) as tmp, open(tmp, "wb") as handle:
            pickle.dump(content, handle)
    return root


def quick_recipe(
    recipe: FaceRecipe, data_root: Path, epochs: int = 1, source_root: Path | None = None
) -> FaceRecipe:
    """``recipe`` on the generated data of its task, at a small size, for ``epochs``."""
    name = TASK_DATASET[recipe.task][1]
    dataset = {"name": name, "root": str(data_root), "smile_labels": False, "split": "test"}
    train = [recipe.data.train[0].model_copy(update=dataset)]
    data = recipe.data.model_copy(
        update={
            "train": train,
            "test": [],
            "detector": None,
            "max_per_split": None,
            "fractions": (0.7, 0.15, 0.15),
        }
    )
    size = QUICK_SIZES.get(recipe.model.name, (64, 64))
    model = recipe.model.model_copy(update={"input_size": size, "imagenet_weights": None})
    update: dict = {"data": data, "model": model, "accelerator": "cpu"}
    quick = {"max_epochs": epochs, "batch_size": 16, "patience": None}
    update["training"] = recipe.training.model_copy(update=quick)
    if recipe.finetune is not None:
        update["finetune"] = recipe.finetune.model_copy(update=quick)
    if recipe.pretrain is not None:
        update["pretrain"] = recipe.pretrain.model_copy(
            update={**quick, "source": "cifar10", "root": str(source_root), "max_images": 200}
        )
    return recipe.model_copy(update=update)
