"""YAML recipes for the face classifiers (smile, expression, mask): one file per experiment.

The face schema is separate from the signature one (:mod:`inkface.core.recipe`) and
its files live in ``inkface/recipes/faces/``. As there, a recipe names datasets, not
paths: roots come with ``--root genki=DIR`` when a run starts; unknown keys are refused
and every error names the file and the field.

Stages of a run, each optional except ``training``:

* ``pretrain``: train on a source domain (CIFAR-10/100, CINIC-10, ImageNet32,
  CASIA-WebFace), then swap the final layer for the target classes (FER paper §III-C);
* ``training``: train on the face data (stage one; with ``freeze_backbone`` only the new
  head learns, smile report §7.2.2 and the mask report);
* ``finetune``: unfreeze the backbone from a named layer and train on at a lower
  learning rate (smile report §7.2.2, stage two).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from inkface.core.errors import InkfaceError
from inkface.core.recipe import parse_recipe

FACE_TASKS = ("smile", "expression", "mask")
FaceDatasetName = Literal["genki", "celeba", "affectnet", "fer2013", "ferplus", "mask", "mask-voc"]
SourceName = Literal["cifar10", "cifar100", "cinic10", "imagenet32", "casia-webface"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaceModelConfig(_Strict):
    name: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    input_size: tuple[int, int] | None = None  # default: the registered input size
    normalization: str | None = None  # default: the registered normalisation
    imagenet_weights: str | None = None  # torchvision state-dict file (smile baselines)


class FaceDatasetConfig(_Strict):
    name: FaceDatasetName
    root: str | None = None
    smile_labels: bool = False  # happy -> smile, other classes -> no smile (AffectNet)
    split: Literal["test", "all"] = "test"  # for test sets: the test split or every image


class FaceDataConfig(_Strict):
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


class FaceOptimizerConfig(_Strict):
    name: Literal["adam", "rmsprop", "sgd"]
    lr: float = Field(gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.0
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    nesterov: bool = False


class ScheduleConfig(_Strict):
    name: Literal["none", "plateau", "multistep", "inverse_time"] = "none"
    factor: float = Field(0.1, gt=0, lt=1)
    patience: int = Field(2, ge=0)
    min_lr: float = Field(1e-7, ge=0)
    milestones: list[int] = Field(default_factory=lambda: [4, 6])
    gamma: float = Field(0.1, gt=0)
    decay: float = Field(0.0, ge=0)  # inverse_time: Keras ``decay``


class StageConfig(_Strict):
    optimizer: FaceOptimizerConfig
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


class FaceEvaluationConfig(_Strict):
    ten_crop: bool = False  # FER paper §III-D
    latency_frames: int = Field(1000, ge=1)  # smile report Tables 7.4 / 7.5


class FaceRecipe(_Strict):
    name: str
    task: Literal["smile", "expression", "mask"]
    description: str = ""
    paper: str = ""
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
        names = {d.name for d in (*self.data.train, *self.data.test)}
        return names | ({self.pretrain.source} if self.pretrain else set())

    def with_roots(self, roots: dict[str, str | Path]) -> FaceRecipe:
        """A copy taking dataset (and source-domain) roots from ``roots`` (name -> dir)."""
        unknown = set(roots) - self.dataset_names()
        if unknown:
            raise InkfaceError(
                f"--root given for {sorted(unknown)}, which recipe {self.name} does not use "
                f"(it uses {', '.join(sorted(self.dataset_names()))})"
            )

        def fill(items: list[FaceDatasetConfig]) -> list[FaceDatasetConfig]:
            return [
                d.model_copy(update={"root": str(roots[d.name])}) if d.name in roots else d
                for d in items
            ]

        update: dict[str, Any] = {
            "data": self.data.model_copy(
                update={"train": fill(self.data.train), "test": fill(self.data.test)}
            )
        }
        if self.pretrain is not None and self.pretrain.source in roots:
            update["pretrain"] = self.pretrain.model_copy(
                update={"root": str(roots[self.pretrain.source])}
            )
        return self.model_copy(update=update)

    def updated(self, section: str, **values: Any) -> FaceRecipe:
        """A copy with fields of one section replaced (CLI overrides, quick runs)."""
        block = getattr(self, section)
        if block is None:
            return self
        return self.model_copy(update={section: block.model_copy(update=values)})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _folder() -> Any:
    return resources.files("inkface") / "recipes" / "faces"


def builtin_face_recipes() -> list[str]:
    """Names of the face recipes shipped in ``inkface/recipes/faces``."""
    return sorted(
        p.name.removesuffix(".yaml") for p in _folder().iterdir() if p.name.endswith(".yaml")
    )


def load_face_recipe(name_or_path: str | Path) -> FaceRecipe:
    """A built-in face recipe by name, or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InkfaceError(f"{path}: recipe file not found")
        text, origin = path.read_text(encoding="utf-8"), str(path)
    else:
        resource = _folder() / f"{name_or_path}.yaml"
        if not resource.is_file():
            raise InkfaceError(
                f"unknown face recipe {name_or_path!r} "
                f"(built-in: {', '.join(builtin_face_recipes())})"
            )
        text, origin = resource.read_text(encoding="utf-8"), f"recipe {name_or_path}"
    return parse_recipe(text, origin, FaceRecipe)
