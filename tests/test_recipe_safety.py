"""Recipes are small plain YAML: anchors / aliases (the billion-laughs bomb), oversized or
over-deep files, non-plain ``model.kwargs`` and malformed ``input_size`` strings are all
one-line errors naming the file and the field, raised before anything is built."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from inkface.core import recipe as core_recipe
from inkface.core.errors import InkfaceError
from inkface.faces.classification.recipe import load_face_recipe
from inkface.signatures.verification.recipe import load_recipe

BASE = """\
name: safety
model:
  name: deepsign
{kwargs}
data:
  train: [{{name: cedar}}]
  input_size: {size}
optimizer: {{name: adam, lr: 0.001}}
"""


def _write(tmp_path: Path, kwargs: str = "", size: str = "150x180", name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(BASE.format(kwargs=kwargs, size=size), encoding="utf-8")
    return path


def _refused(path: Path, *needles: str) -> str:
    with pytest.raises(InkfaceError) as info:
        load_recipe(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


def test_a_plain_recipe_still_loads(tmp_path: Path) -> None:
    recipe = load_recipe(_write(tmp_path, "  kwargs: {widths: [1, 2], extra: {a: null}}"))
    assert recipe.model.kwargs == {"widths": [1, 2], "extra": {"a": None}}
    assert recipe.data.input_size == "150x180"
    assert load_recipe(_write(tmp_path, size="deepsign", name="n.yaml")).data.input_size


def test_billion_laughs_in_model_kwargs_is_refused_at_once(tmp_path: Path) -> None:
    levels = ['    a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        levels.append(f"    a{i}: &a{i} [{refs}]")
    path = _write(tmp_path, "  kwargs:\n" + "\n".join(levels))  # 9**9 strings once expanded
    started = time.perf_counter()
    _refused(path, "anchors and aliases")
    assert time.perf_counter() - started < 5


def test_any_alias_is_refused(tmp_path: Path) -> None:
    text = BASE.format(kwargs="  kwargs: &k {a: 1}", size="150x180") + "extra: *k\n"
    path = tmp_path / "alias.yaml"
    path.write_text(text)
    _refused(path, "anchors and aliases")


def test_oversized_and_over_deep_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = _write(tmp_path, name="big.yaml")
    with open(big, "a") as handle:
        handle.write("# padding\n" * (core_recipe.MAX_RECIPE_BYTES // 10 + 1))
    _refused(big, "recipe file is", "above the 1,048,576-byte limit")
    deep = _write(tmp_path, "  kwargs: {a: " + "[" * 40 + "]" * 40 + "}", name="deep.yaml")
    _refused(deep, "nested deeper than 32 levels")
    monkeypatch.setattr(core_recipe, "MAX_RECIPE_NODES", 30)
    _refused(_write(tmp_path, "  kwargs: {a: [" + "1, " * 40 + "]}", name="many.yaml"), "values")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ("  kwargs: {a: [" + ", ".join(["1"] * 1001) + "]}", "more than 1000 values"),
        ("  kwargs: {a: " + "x" * 1001 + "}", "longer than 1000 characters"),
        ("  kwargs: {a: " + "{b: " * 9 + "1" + "}" * 9 + "}", "nested deeper than 8"),
        ("  kwargs: {a: {1: x}}", "mapping keys must be strings"),
        ("  kwargs: {a: 2020-01-01}", "date values are not allowed"),
    ],
)
def test_model_kwargs_must_be_plain_and_bounded(tmp_path: Path, kwargs: str, needle: str) -> None:
    _refused(_write(tmp_path, kwargs), "field model.kwargs", needle)


@pytest.mark.parametrize(
    ("size", "needle"),
    [
        ("64x80x3", "expected HxW"),
        ("'64 by 80'", "expected HxW"),
        ("4x4", "must be 8 to 4096 pixels"),
        ("150x99999", "must be 8 to 4096 pixels"),
    ],
)
def test_input_size_text_names_the_field(tmp_path: Path, size: str, needle: str) -> None:
    _refused(_write(tmp_path, size=size), "field data.input_size", needle)


def test_face_recipe_uses_the_same_guards(tmp_path: Path) -> None:
    path = tmp_path / "face.yaml"
    path.write_text("name: f\nmodel: &m {name: smile_cnn}\nother: *m\n")
    with pytest.raises(InkfaceError, match="anchors and aliases"):
        load_face_recipe(path)


def test_special_files_are_not_read_as_recipes(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    _refused(fifo, "recipe file is a FIFO")
    (tmp_path / "dir.yaml").mkdir()
    _refused(tmp_path / "dir.yaml", "recipe file is a folder")
    _refused(tmp_path / "missing.yaml", "recipe file not found")
    (tmp_path / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    _refused(tmp_path / "latin1.yaml", "not UTF-8 text")
