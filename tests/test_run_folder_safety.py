"""Run folders are untrusted input: ``meta.json`` is validated against its schema and
``model.pt`` must be a state dict of the named architecture, every refusal one line
naming the file (API and CLI alike); ``model.pt`` is byte-for-byte reproducible and a
verifier trained twice with the same seed writes identical files."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from layouts import write_cedar

from inkface.cli.main import main
from inkface.core.errors import InkfaceError
from inkface.inference import load_predictor
from inkface.models import get_model
from inkface.models.run import RunMeta, load_run_model, save_run_model, save_state_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = (64, 80)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("runs") / "good"
    meta = RunMeta("deepsign", {}, SIZE, {"style": "cedar"}, 0.5)
    save_run_model(run, get_model("deepsign"), meta)
    return run


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = write_cedar(tmp_path_factory.mktemp("cedar"), 1, 2, 1)
    return str(root / "full_org" / "original_1_1.png")


class _Evil:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple:
        return (os.makedirs, (self.path,))


def _check_refused(run: Path, name: str, words: tuple[str, ...], image: str, capsys) -> None:
    """Refused through the API and through ``inkface verify`` (exit 2, one line)."""
    with pytest.raises(InkfaceError) as exc:
        load_predictor(run)
    message = str(exc.value)
    assert "\n" not in message and str(run / name) in message, message
    for word in words:
        assert word in message, message
    assert main(["verify", "--run", str(run), image, image]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(run / name) in err, err
    assert "Traceback" not in err


def test_model_pt_is_reproducible_byte_for_byte(good_run: Path, tmp_path: Path) -> None:
    model, meta = load_run_model(good_run)
    save_run_model(tmp_path / "again", model, meta)
    assert _sha(tmp_path / "again" / "model.pt") == _sha(good_run / "model.pt")
    save_state_dict(tmp_path / "a.pt", model.state_dict())
    save_state_dict(tmp_path / "b.pt", model.state_dict())
    assert _sha(tmp_path / "a.pt") == _sha(tmp_path / "b.pt")


def _other_architecture(path: Path) -> None:
    torch.save(get_model("signet").state_dict(), path)


def _wrong_shapes(path: Path) -> None:
    state = get_model("deepsign").state_dict()
    torch.save({k: v[:1] if v.ndim else v for k, v in state.items()}, path)


WEIGHTS: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "random bytes": (lambda p: p.write_bytes(os.urandom(512)), ("not a PyTorch zip",)),
    "empty": (lambda p: p.write_bytes(b""), ("not a PyTorch zip",)),
    "plain pickle": (lambda p: p.write_bytes(pickle.dumps([1, 2])), ("not a PyTorch zip",)),
    "list of tensors": (lambda p: torch.save([torch.zeros(2)], p), ("a list",)),
    "other architecture": (_other_architecture, ("of deepsign", "missing:", "unexpected:")),
    "wrong shapes": (_wrong_shapes, ("shape:", "(1, 1, 3, 3) instead of (64, 1, 3, 3)")),
}


@pytest.mark.parametrize("case", list(WEIGHTS))
def test_bad_weights_are_one_line_errors(
    case: str, good_run: Path, tmp_path: Path, image: str, capsys
) -> None:
    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    write, words = WEIGHTS[case]
    write(run / "model.pt")
    _check_refused(run, "model.pt", ("not an inkface state dict", *words), image, capsys)


def test_a_pickled_payload_in_model_pt_never_runs(
    good_run: Path, tmp_path: Path, image: str, capsys
) -> None:
    run, marker = tmp_path / "run", tmp_path / "pwned"
    shutil.copytree(good_run, run)
    torch.save({"weight": _Evil(marker)}, run / "model.pt")
    _check_refused(run, "model.pt", ("refused without running them",), image, capsys)
    assert not marker.exists()


def _meta(good_run: Path, **changes: object) -> str:
    data = json.loads((good_run / "meta.json").read_text())
    return json.dumps({**data, **changes})


META: dict[str, tuple[Callable[[Path], str], str]] = {
    "not JSON": (lambda g: "{", "not valid JSON"),
    "not an object": (lambda g: "[1, 2]", "expected a JSON object"),
    "deeply nested": (lambda g: "[" * 100_000 + "]" * 100_000, "not valid JSON"),
    "huge input size": (
        lambda g: _meta(g, input_size=[10**9, 10**9]),
        "field input_size.0: Input should be less than or equal to 4096",
    ),
    "size string": (lambda g: _meta(g, input_size="64x80x3"), "field input_size"),
    "NaN threshold": (lambda g: _meta(g, threshold=float("nan")), "field threshold"),
    "negative threshold": (lambda g: _meta(g, threshold=-1.0), "field threshold"),
    "unknown architecture": (lambda g: _meta(g, architecture="nope"), "unknown model 'nope'"),
    "unknown normalisation": (
        lambda g: _meta(g, preprocessing={"normalization": "weird"}),
        "field preprocessing.normalization",
    ),
    "class names": (
        lambda g: _meta(
            g, architecture="writer_cnn", model_kwargs={"num_classes": 3}, class_names=["a", "b"]
        ),
        "class_names: 2 names for a head of 3 outputs",
    ),
    "future format": (lambda g: _meta(g, format_version=2), "unsupported run format 2"),
    "bad model option": (lambda g: _meta(g, model_kwargs={"bogus": 1}), "field model_kwargs"),
}


@pytest.mark.parametrize("case", list(META))
def test_bad_meta_json_is_a_one_line_error(
    case: str, good_run: Path, tmp_path: Path, image: str, capsys
) -> None:
    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    text, expected = META[case]
    (run / "meta.json").write_text(text(good_run))
    _check_refused(run, "meta.json", (expected,), image, capsys)


def test_saving_refuses_metadata_it_could_not_load(tmp_path: Path) -> None:
    meta = RunMeta("deepsign", {}, SIZE, {"style": "cedar"}, float("nan"))
    with pytest.raises(InkfaceError, match="field threshold"):
        save_run_model(tmp_path / "run", get_model("deepsign"), meta)
    assert not (tmp_path / "run" / "model.pt").exists()


@pytest.mark.slow
def test_same_seed_gives_identical_files_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    from test_training import tiny_recipe

    from inkface.signatures.verification.train import train_verifier

    recipe = tiny_recipe(tmp_path, epochs=1)
    runs = [
        train_verifier(recipe, tmp_path / name, cache_dir=tmp_path / "cache", progress=False)
        for name in ("a", "b")
    ]
    for name in ("metrics.json", "model.pt", "history.json", "meta.json"):
        assert _sha(runs[0] / name) == _sha(runs[1] / name), name
    # Rerunning a finished run trains nothing and reproduces the same files.
    before = {n: _sha(runs[0] / n) for n in ("metrics.json", "model.pt", "history.json")}
    train_verifier(recipe, runs[0], cache_dir=tmp_path / "cache", progress=False)
    assert {n: _sha(runs[0] / n) for n in before} == before
