"""YAML recipes for the face classifiers (smile, expression, mask): one file per experiment.

The face schema extends the shared base (:mod:`inkface.core.recipe`); its files live in
``inkface/recipes/faces/``. A recipe names datasets, not paths: roots come with
``--root genki=DIR`` when a run starts; unknown keys are refused and every error names
the file and the field.

Stages of a run, each optional except ``training``:

* ``pretrain``: train on a source domain (CIFAR-10/100, CINIC-10, ImageNet32,
  CASIA-WebFace), then swap the final layer for the target classes (FER paper §III-C);
* ``training``: train on the face data (stage one; with ``freeze_backbone`` only the new
  head learns, smile report §7.2.2 and the mask report);
* ``finetune``: unfreeze the backbone from a named layer and train on at a lower
  learning rate (smile report §7.2.2, stage two).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from inkface.core.recipe import (
    ModelConfig,
    OptimizerConfig,
    RecipeBase,
    ScheduleConfig,
    StrictConfig,
    builtin_names,
    load_recipe_file,
    recipe_folder,
)

FACE_TASKS = ("smile", "expression", "mask")
FaceDatasetName = Literal["genki", "celeba", "affectnet", "fer2013", "ferplus", "mask", "mask-voc"]
SourceName = Literal["cifar10", "cifar100", "cinic10", "imagenet32", "casia-webface"]


class FaceModelConfig(ModelConfig):
    input_size: tuple[int, int] | None = None  # default: the registered input size
    normalization: str | None = None  # default: the registered normalisation
    imagenet_weights: str | None = None  # torchvision state-dict file (smile baselines)


class FaceDatasetConfig(StrictConfig):
    name: FaceDatasetName
    root: str | None = None
    smile_labels: bool = False  # happy -> smile, other classes -> no smile (AffectNet)
    split: Literal["test", "all"] = "test"  # for test sets: the test split or every image


class FaceDataConfig(StrictConfig):
    train: list[FaceDatasetConfig]
    test: list[FaceDatasetConfig] = Field(default_factory=list)
    seed: int = 0
    # For datasets without an official split (mask folders): train / val / test.
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    detector: str | None = "haar"  # None: whole images (or the dataset's boxes)
    margin: float = Field(0.2, ge=0)
    square: bool = True
    # Stored crop side (e.g. 36 for the FER paper's 36 -> 32 crops); default input size.
    resize_to: int | None = Field(None, ge=8)
    random_crop: bool = False  # random input-size crops of the resize_to images
    augment: Literal["smile", "smile-after", "fer", "mask"] | None = None
    balance: bool = False  # augment every class up to the largest (FER paper §III-C)
    max_per_split: int | None = Field(None, ge=1)  # cap (quick runs on big sets)


class StageConfig(StrictConfig):
    optimizer: OptimizerConfig
    schedule: ScheduleConfig = ScheduleConfig()
    batch_size: int = Field(32, ge=1)
    max_epochs: int = Field(10, ge=1)
    patience: int | None = Field(None, ge=1)  # early stopping on val_loss
    max_train_batches: int | float | None = None


class TrainingConfig(StageConfig):
    freeze_backbone: bool = False  # stage one trains only the head


class FinetuneConfig(StageConfig):
    unfreeze_from: str  # a child of ``model.features`` (e.g. "12", "Mixed_6a")


class PretrainConfig(StageConfig):
    source: SourceName
    root: str | None = None
    # cifar: zero-pad 4 then random 32 crop; resize: 36 then random 32 crop (FER §III-C)
    crop: Literal["pad", "resize"] = "pad"
    max_images: int | None = Field(None, ge=1)


class FaceEvaluationConfig(StrictConfig):
    ten_crop: bool = False  # FER paper §III-D
    latency_frames: int = Field(1000, ge=1)  # smile report Tables 7.4 / 7.5


class FaceRecipe(RecipeBase):
    task: Literal["smile", "expression", "mask"]
    head: str = ""  # the pipeline's head name (default: the task)
    model: FaceModelConfig
    data: FaceDataConfig
    pretrain: PretrainConfig | None = None
    training: TrainingConfig
    finetune: FinetuneConfig | None = None
    evaluation: FaceEvaluationConfig = FaceEvaluationConfig()
    accelerator: str = "auto"
    precision: str = "32-true"

    def dataset_names(self) -> set[str]:
        names = super().dataset_names()
        return names | ({self.pretrain.source} if self.pretrain else set())

    def _root_updates(self, roots: dict[str, str | Path]) -> dict[str, Any]:
        if self.pretrain is not None and self.pretrain.source in roots:
            return {
                "pretrain": self.pretrain.model_copy(
                    update={"root": str(roots[self.pretrain.source])}
                )
            }
        return {}


def builtin_face_recipes() -> list[str]:
    """Names of the face recipes shipped in ``inkface/recipes/faces``."""
    return builtin_names(recipe_folder("faces"))


def load_face_recipe(name_or_path: str | Path) -> FaceRecipe:
    """A built-in face recipe by name, or a YAML file by path."""
    return load_recipe_file(name_or_path, recipe_folder("faces"), FaceRecipe, "face recipe")
