"""Every built-in recipe, one test case each: it loads and validates, names a registered
model of the right kind whose builder takes the recipe's options and input size, and
survives ``to_yaml`` -> parse unchanged (also with dataset roots filled in, as a run folder
saves it). Parametrised over the recipe folders, so a new YAML file is tested without
editing this one, and one broken recipe does not hide the others.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inkface.faces.classification.recipe import (
    FACE_TASKS,
    builtin_face_recipes,
    load_face_recipe,
)
from inkface.models import ModelSpec, get_model, list_models, model_info
from inkface.models.transfer import freeze_backbone, unfreeze_from
from inkface.signatures.data.preprocess import resolve_size
from inkface.signatures.verification.recipe import builtin_recipes, load_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _accepts(spec: ModelSpec, size: tuple[int, int]) -> bool:
    """Whether the architecture takes ``size`` according to its registered metadata (the
    forward tests in ``test_models.py`` check that metadata against the model)."""
    if spec.min_input_size is None:
        return size == spec.input_size
    return all(low <= side for low, side in zip(spec.min_input_size, size, strict=True))


def test_there_are_recipes_of_both_kinds() -> None:
    assert {"deepsign-combined", "signet-combined", "mobilenetv2-combined"} <= set(
        builtin_recipes()
    )
    assert {"smile-proposed", "fer-resnet32-cifar10", "mask-mobilenetv2"} <= set(
        builtin_face_recipes()
    )


@pytest.mark.parametrize("name", builtin_recipes())
def test_verification_recipe(name: str, tmp_path: Path) -> None:
    recipe = load_recipe(name)
    assert recipe.name == name
    assert recipe.model.name in list_models(kind="embedding")
    spec = model_info(recipe.model.name)
    model = get_model(recipe.model.name, **recipe.model.kwargs)
    assert sum(p.numel() for p in model.parameters()) > 0
    size = resolve_size(recipe.data.input_size) if recipe.data.input_size else spec.input_size
    assert _accepts(spec, size), f"{recipe.model.name} does not take {size}"
    assert load_recipe(_saved(recipe.to_yaml(), tmp_path / "recipe.yaml")) == recipe
    rooted = recipe.with_roots({d: str(tmp_path / d) for d in recipe.dataset_names()})
    assert load_recipe(_saved(rooted.to_yaml(), tmp_path / "rooted.yaml")) == rooted


@pytest.mark.parametrize("name", builtin_face_recipes())
def test_face_recipe(name: str, tmp_path: Path) -> None:
    recipe = load_face_recipe(name)
    assert recipe.name == name and recipe.task in FACE_TASKS
    assert recipe.model.name in list_models(kind="classifier")
    spec = model_info(recipe.model.name)
    model = get_model(recipe.model.name, **recipe.model.kwargs)
    assert sum(p.numel() for p in model.parameters()) > 0
    size = tuple(recipe.model.input_size or spec.input_size)
    assert _accepts(spec, size), f"{recipe.model.name} does not take {size}"
    if recipe.finetune is not None:  # stage two names a layer of this backbone
        frozen = freeze_backbone(model)
        assert unfreeze_from(model, recipe.finetune.unfreeze_from) > frozen
    assert load_face_recipe(_saved(recipe.to_yaml(), tmp_path / "recipe.yaml")) == recipe
    rooted = recipe.with_roots({d: str(tmp_path / d) for d in recipe.dataset_names()})
    assert load_face_recipe(_saved(rooted.to_yaml(), tmp_path / "rooted.yaml")) == rooted


def _saved(text: str, path: Path) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
