"""Resuming training safely: checkpoints read with ``weights_only=True`` (a planted
pickle never runs), ``last.ckpt`` really is the last epoch, a finished fit trains
nothing more, bad settings are one-line errors, and the trainers' run folders (refusal
of another model's folder, finished runs kept unless asked, no folder before the data
has loaded, the exports of old weights removed when a run is trained again)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from inkface.cli.main import main
from inkface.core.errors import InkfaceError
from inkface.models import get_model
from inkface.models.run import RunMeta, save_run_model
from inkface.training.fit import FitResult, fit
from inkface.training.optim import build_optimizer
from inkface.training.run_folder import RunIdentity, plan_run, policy_from_flags

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Scripted(L.LightningModule):
    """One linear layer whose validation score per epoch is given in advance."""

    def __init__(self, scores: list[float], width: int = 3) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(width, 1)
        self.scores = scores
        self.trained_epochs: list[int] = []
        self.snapshots: dict[int, dict[str, torch.Tensor]] = {}

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        if batch_idx == 0:
            self.trained_epochs.append(self.current_epoch)
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x[:, : self.layer.in_features]), y)
        self.log("train_loss", loss, on_epoch=True, on_step=False, batch_size=len(y))
        return loss

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.log("val_accuracy", float(self.scores[self.current_epoch]), batch_size=len(batch[1]))

    def on_validation_epoch_end(self) -> None:
        state = {k: v.detach().clone() for k, v in self.state_dict().items()}
        self.snapshots[self.current_epoch] = state

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return build_optimizer(self.parameters(), {"name": "sgd", "lr": 0.1})


def _fit(module: L.LightningModule, run: Path, **settings: object) -> FitResult:
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    data = TensorDataset(x, x.sum(dim=1, keepdim=True))
    options = {"max_epochs": 3, "accelerator": "cpu", "progress": False, "resume": True}
    options.update(settings)
    loaders = DataLoader(data, batch_size=8), DataLoader(data, batch_size=16)
    return fit(module, *loaders, run, **options)  # type: ignore[arg-type]


class _Evil:
    """A pickle that would create ``path`` when unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple:
        return (os.makedirs, (self.path,))


def _plant(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {}, "payload": _Evil(marker)}, path)


def _one_line(exc: pytest.ExceptionInfo, *words: str) -> None:
    message = str(exc.value)
    assert "\n" not in message, message
    for word in words:
        assert word in message, message


# ------------------------------------------------------------------ checkpoints and fit


def test_last_checkpoint_is_the_last_epoch_and_resume_continues_there(tmp_path: Path) -> None:
    # The best epoch is the first: a last.ckpt written only on improvement stays at it.
    first = _Scripted([0.9, 0.1, 0.2, 0.3, 0.4])
    _fit(first, tmp_path / "run", max_epochs=3)
    last = torch.load(tmp_path / "run/checkpoints/last.ckpt", weights_only=True)
    assert last["epoch"] == 2
    second = _Scripted([0.9, 0.1, 0.2, 0.3, 0.4])
    result = _fit(second, tmp_path / "run", max_epochs=5)
    assert second.trained_epochs == [3, 4] and result.epochs == 5
    assert result.history["val_accuracy"] == pytest.approx([0.9, 0.1, 0.2, 0.3, 0.4])
    assert result.best_score == pytest.approx(0.9)


def test_a_finished_fit_trains_nothing_and_returns_the_best_weights(tmp_path: Path) -> None:
    scores = [0.5, 0.7, 0.6, 0.6, 0.9, 0.9]
    first = _Scripted(scores)
    done = _fit(first, tmp_path / "run", max_epochs=6, patience=2)
    assert first.trained_epochs == [0, 1, 2, 3]  # stopped early
    again = _Scripted(scores)
    result = _fit(again, tmp_path / "run", max_epochs=6, patience=2)
    assert again.trained_epochs == []  # Lightning alone would train on after early stopping
    assert result.best_score == pytest.approx(0.7) and result.restored
    assert result.epochs == done.epochs == 4 and result.history == done.history
    for name, value in again.state_dict().items():
        assert torch.equal(value, first.snapshots[1][name]), name


@pytest.mark.parametrize("planted", ["last.ckpt", "best.ckpt"])
def test_a_planted_pickle_checkpoint_never_runs(tmp_path: Path, planted: str) -> None:
    run, marker = tmp_path / "run", tmp_path / "pwned"
    _fit(_Scripted([0.5, 0.6]), run, max_epochs=2)
    _plant(run / "checkpoints" / planted, marker)
    with pytest.raises(InkfaceError) as exc:
        _fit(_Scripted([0.5, 0.6]), run, max_epochs=2)
    _one_line(exc, planted, "--no-resume")
    assert not marker.exists()
    # --no-resume: the planted files are removed unread and the run starts afresh.
    fresh = _Scripted([0.5, 0.6])
    _fit(fresh, run, max_epochs=2, resume=False)
    assert fresh.trained_epochs == [0, 1] and not marker.exists()


def test_garbage_and_foreign_checkpoints_are_one_line_errors(tmp_path: Path) -> None:
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    last.write_bytes(os.urandom(256))
    with pytest.raises(InkfaceError) as exc:
        _fit(_Scripted([0.5]), tmp_path / "a", max_epochs=1)
    _one_line(exc, "last.ckpt", "not a usable checkpoint", "--no-resume")
    # A checkpoint of another model: refused before Lightning's state-dict traceback.
    _fit(_Scripted([0.5, 0.5], width=4), tmp_path / "b", max_epochs=1)
    with pytest.raises(InkfaceError) as exc:
        _fit(_Scripted([0.5, 0.5], width=3), tmp_path / "b", max_epochs=2)
    _one_line(exc, "last.ckpt", "another model", "layer.weight (1, 4) instead of (1, 3)")


@pytest.mark.parametrize(
    ("setting", "value"), [("max_epochs", 0), ("max_epochs", -2), ("patience", 0)]
)
def test_bad_counts_are_refused_before_training(tmp_path: Path, setting: str, value: int) -> None:
    with pytest.raises(InkfaceError, match=f"{setting}: must be an integer >= 1, got {value}"):
        _fit(_Scripted([0.5]), tmp_path / "run", **{setting: value})
    assert not (tmp_path / "run").exists()


def test_fit_is_quiet_and_logs_one_line_per_epoch(tmp_path: Path, capfd) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(_Scripted([0.5, 0.6]), tmp_path / "run", max_epochs=2, progress=True)
    out, err = capfd.readouterr()
    # Not a terminal: no bar, one summary line per epoch on stderr (stdout stays free for
    # a command's JSON), no banners, tips or deprecation warnings.
    assert out == "" and len(err.splitlines()) == 2, err
    assert err.startswith("epoch 1/2: ") and "\nepoch 2/2: " in err and "val_accuracy 0.5" in err
    for line in err.splitlines():  # each metric once (``x`` and ``x_epoch`` are one)
        names = [part.split()[0] for part in line.split(": ", 1)[1].split(", ")]
        assert len(names) == len(set(names)), line
    assert not [w for w in caught if "LeafSpec" in str(w.message)]
    _fit(_Scripted([0.5, 0.6]), tmp_path / "quiet", max_epochs=2, progress=False)
    assert capfd.readouterr() == ("", "")


# ------------------------------------------------------------------------- run folders


def test_another_models_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    run = tmp_path / "run"
    meta = RunMeta("deepsign", {}, (64, 80), {"style": "cedar"}, 0.5)
    save_run_model(run, get_model("deepsign"), meta)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(InkfaceError) as exc:
        plan_run(run, RunIdentity("writer_cnn", {"conv_layers": 2}))
    _one_line(exc, str(run), "another model", "deepsign")
    save_run_model(tmp_path / "cnn", get_model("writer_cnn", conv_layers=3), _cnn_meta(3))
    with pytest.raises(InkfaceError, match=r"conv_layers=3"):
        plan_run(tmp_path / "cnn", RunIdentity("writer_cnn", {"conv_layers": 2}))
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    # The same model: a finished run is kept unless asked.
    assert plan_run(run, RunIdentity("deepsign", {})).keep
    assert not plan_run(run, RunIdentity("deepsign", {}), "continue").keep
    assert not plan_run(run, RunIdentity("deepsign", {}), False).resume
    # An unfinished folder is recognised by its recipe.yaml.
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "recipe.yaml").write_text("name: x\nmodel: {name: signet}\n")
    with pytest.raises(InkfaceError, match="another model"):
        plan_run(tmp_path / "u", RunIdentity("deepsign", {}))
    assert policy_from_flags(resume=True) == "continue"
    with pytest.raises(InkfaceError, match="at most one"):
        policy_from_flags(force=True, resume=True)


def _cnn_meta(conv_layers: int, writers: int = 8) -> RunMeta:
    return RunMeta(
        "writer_cnn",
        {"num_classes": writers, "conv_layers": conv_layers},
        (128, 128),
        {"style": "cedar"},
        None,
        task="signature-identification-cnn",
        extra={"class_names": [f"w{i}" for i in range(writers)]},
    )


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def writers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from inkface.signatures.identification.data import prepare_identification_data
    from inkface.signatures.synth.generator import generate_signatures

    root = tmp_path_factory.mktemp("writers") / "data"
    generate_signatures(
        root, writers=3, genuine=5, forgeries=0, layout="folder", seed=2, workers=1, progress=False
    )
    return root, prepare_identification_data(root, cache_dir=root.parent / "cache", progress=False)


def _files(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


def test_train_id_keeps_a_finished_run_and_validates_its_flags(
    writers: tuple[Path, Any], tmp_path: Path, capsys
) -> None:
    root, _ = writers
    run = tmp_path / "cnn"
    save_run_model(run, get_model("writer_cnn", conv_layers=2, num_classes=3), _cnn_meta(2, 3))
    result = {"model": "CNN (2 conv layers)", "validation": {"top1": 0.5}, "test": {"top1": 0.4}}
    (run / "metrics.json").write_text(json.dumps(result))
    before = _files(run)
    base = ["train-id", "--model", "cnn", "--root", str(root), "--out", str(run), "--quiet"]
    base += ["--cache-dir", str(root.parent / "cache")]
    # Finished: says so, prints the saved result and changes nothing.
    code, out, err = _cli([*base, "--conv-layers", "2"], capsys)
    assert code == 0 and "already trained" in err and "--force" in err
    assert json.loads(out)["test"] == {"top1": 0.4}
    for flags, expected in (
        (["--conv-layers", "3"], "another model"),
        (["--conv-layers", "9"], "--conv-layers: must be 2 to 5"),
        (["--epochs", "0"], "--epochs: must be an integer >= 1, got 0"),
        (["--epochs", "-2"], "--epochs: must be an integer >= 1, got -2"),
        (["--force", "--resume"], "at most one"),
    ):
        code, _, err = _cli([*base, *flags], capsys)
        assert code == 2 and err.startswith("error: ") and expected in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert _files(run) == before


def test_identification_runs_resume_and_keep_finished_runs(
    writers: tuple[Path, Any], tmp_path: Path
) -> None:
    from inkface.signatures.identification.train import train_writer_cnn

    _, data = writers
    run = tmp_path / "cnn"
    settings = {"conv_layers": 2, "samples_per_writer": 3, "progress": False, "accelerator": "cpu"}
    first = train_writer_cnn(data, run, epochs=1, **settings)
    assert (run / "recipe.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    before = _files(run)
    # A rerun keeps the finished run: same result, no file rewritten.
    assert train_writer_cnn(data, run, epochs=1, **settings) == json.loads(json.dumps(first))
    assert _files(run) == before
    # Other settings are not silently answered with the old result.
    with pytest.raises(InkfaceError) as exc:
        train_writer_cnn(data, run, epochs=2, **settings)
    _one_line(exc, "finished with other settings", "training.epochs: 1 -> 2", "--resume")
    # --resume trains the one missing epoch (--force would retrain: fit's resume=False).
    longer = train_writer_cnn(data, run, epochs=2, resume="continue", **settings)
    assert len(longer["history"]["val_accuracy"]) == 2
    assert longer["history"]["val_accuracy"][0] == first["history"]["val_accuracy"][0]


def test_train_face_refuses_bad_overrides_and_leaves_no_folder(tmp_path: Path, capsys) -> None:
    out = tmp_path / "face"
    base = ["train-face", "--recipe", "smile-proposed", "--out", str(out), "--quiet"]
    code, _, err = _cli([*base, "--max-epochs", "0"], capsys)
    assert code == 2 and "--max-epochs: must be an integer >= 1, got 0" in err
    code, _, err = _cli([*base, "--workers", "-1"], capsys)
    assert code == 2 and "--workers: must be >= 0" in err
    # The dataset cannot load (no root given): no run folder, no recipe.yaml left behind.
    code, _, err = _cli(base, capsys)
    assert code == 2 and "--root" in err and err.count("\n") == 1
    assert not out.exists()


def test_an_out_that_cannot_be_a_folder_is_refused_before_planning(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    for out, words in (
        (tmp_path / "file", ("--out", "not a folder")),
        (tmp_path / "file" / "run", ("--out", "not a folder")),
        (tmp_path / "link", ("--out", "dangling symbolic link")),
    ):
        with pytest.raises(InkfaceError) as exc:
            plan_run(out, RunIdentity("deepsign", {}))
        _one_line(exc, str(out), *words)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.slow
def test_retraining_removes_the_exports_of_the_old_weights(
    writers: tuple[Path, Any], tmp_path: Path
) -> None:
    from inkface.inference import load_predictor
    from inkface.models.run import EXPORT_FILES
    from inkface.runtime.export import EXPORT_REPORT, export_onnx
    from inkface.runtime.onnx_session import INT8_FILE, ONNX_FILE
    from inkface.signatures.identification.train import train_writer_cnn

    assert set(EXPORT_FILES) == {ONNX_FILE, INT8_FILE, EXPORT_REPORT}  # one list of names
    _, data = writers
    run = tmp_path / "cnn"
    settings = {"conv_layers": 2, "samples_per_writer": 3, "progress": False, "accelerator": "cpu"}
    train_writer_cnn(data, run, epochs=1, **settings)
    export_onnx(run, progress=False)
    (run / INT8_FILE).write_bytes(b"an int8 export of the same weights")
    exported = _files(run)
    # A finished run kept as it is keeps its exports.
    train_writer_cnn(data, run, epochs=1, **settings)
    assert _files(run) == exported
    # Retrained (--force) or trained further (--resume): the old exports go with the old
    # weights, so loading the run uses the new ones instead of refusing a stale model.onnx.
    train_writer_cnn(data, run, epochs=1, resume=False, **settings)
    assert not [name for name in EXPORT_FILES if (run / name).exists()]
    assert load_predictor(run).backend.name == "torch"
    export_onnx(run, progress=False)
    assert load_predictor(run).backend.name == "onnx"
    train_writer_cnn(data, run, epochs=2, resume="continue", **settings)
    assert not [name for name in EXPORT_FILES if (run / name).exists()]


def test_train_keeps_a_finished_run_and_checks_its_flags_first(tmp_path: Path, capsys) -> None:
    from layouts import write_cedar

    from inkface.signatures.verification.recipe import load_recipe

    root = write_cedar(tmp_path / "cedar", writers=4, genuine=2, forged=1, empty=True)
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(load_recipe("deepsign-demo").with_roots({"cedar": root}).to_yaml())
    run = tmp_path / "run"
    meta = RunMeta("deepsign", {}, (150, 180), {"style": "cedar"}, 0.5)
    save_run_model(run, get_model("deepsign"), meta)
    (run / "recipe.yaml").write_text(load_recipe(recipe_file).to_yaml())
    before = _files(run)
    base = ["train", "--recipe", str(recipe_file), "--out", str(run), "--quiet"]
    base += ["--cache-dir", str(tmp_path / "cache")]
    # Finished with the same recipe: says so, prints its operating point, changes nothing.
    code, out, err = _cli(base, capsys)
    assert code == 0 and "already trained" in err and "--force" in err, err
    assert "default operating point accuracy: threshold 0.5000" in out
    for flags, expected in (
        (["--max-epochs", "3"], "finished with other settings (training.max_epochs: 12 -> 3)"),
        (["--max-epochs", "0"], "--max-epochs: must be an integer >= 1, got 0"),
        (["--force", "--resume"], "at most one"),
        (["--resume", "--no-resume"], "at most one"),
    ):
        code, _, err = _cli([*base, *flags], capsys)
        assert code == 2 and err.startswith("error: ") and expected in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
    # Another model's folder is refused before the datasets are read.
    cnn = tmp_path / "cnn"
    save_run_model(cnn, get_model("writer_cnn", conv_layers=2, num_classes=8), _cnn_meta(2))
    code, _, err = _cli([*base[:4], str(cnn), *base[5:]], capsys)
    assert code == 2 and "another model" in err and err.count("\n") == 1, err
    assert _files(run) == before and not (tmp_path / "cache").exists()


def test_refresh_keeps_the_same_settings_and_retrains_other_ones(tmp_path: Path) -> None:
    """``resume="refresh"`` (paper reproductions): a finished run with the same recipe is
    kept, one with other settings is retrained from scratch instead of refused."""
    run = tmp_path / "run"
    save_run_model(run, get_model("deepsign"), RunMeta("deepsign", {}, (64, 80), {}, 0.5))
    (run / "recipe.yaml").write_text("name: x\nmodel: {name: deepsign}\nepochs: 2\n")
    same = "name: x\nmodel: {name: deepsign}\nepochs: 2\n"
    other = "name: x\nmodel: {name: deepsign}\nepochs: 3\n"
    identity = RunIdentity("deepsign", {})
    assert plan_run(run, identity, "refresh", same).keep
    plan = plan_run(run, identity, "refresh", other)
    assert not plan.keep and not plan.resume and plan.status == "finished"
    with pytest.raises(InkfaceError, match=r"finished with other settings \(epochs: 2 -> 3\)"):
        plan_run(run, identity, True, other)
