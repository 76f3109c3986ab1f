"""``inkface train`` killed with SIGKILL mid-training resumes (``--resume``) to the very
result of an uninterrupted run, and the same seed gives the same files byte for byte:
on the CPU, one thread, each run in a fresh process as a user would run it.

What a resume restores: the weights, optimizer and callback states from ``last.ckpt``,
the per-epoch pair order (seeded by ``(seed, epoch)``) and ``history.json``; the global
generators (dropout masks) are reseeded from ``(seed, epoch)`` at each epoch's start
(``inkface.training.callbacks.EpochSeed``), so the tower keeps its dropout here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_training import tiny_recipe

pytestmark = pytest.mark.slow

EPOCHS = 4
WAIT_SECONDS = 300  # start-up, caching and the first epoch on a busy 2-core machine
RESULT_FILES = ("metrics.json", "history.json", "model.pt", "meta.json")


def _recipe_file(tmp_path: Path) -> Path:
    """A tiny verification recipe on generated CEDAR-like writers (root filled in): all
    epochs trained (no early stopping)."""
    recipe = tiny_recipe(tmp_path, epochs=EPOCHS)
    recipe = recipe.updated("training", patience=None)
    path = tmp_path / "tiny.yaml"
    path.write_text(recipe.to_yaml(), encoding="utf-8")
    return path


def _command(recipe: Path, out: Path, *flags: str) -> list[str]:
    cache = recipe.parent / "cache"
    argv = ["train", "--recipe", str(recipe), "--out", str(out), "--cache-dir", str(cache)]
    return [sys.executable, "-m", "inkface", *argv, *flags]


def _environment() -> dict[str, str]:
    """One thread everywhere: the same arithmetic in every process."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _train(recipe: Path, out: Path, *flags: str) -> str:
    """Train to the end in a new process; returns its standard error."""
    done = subprocess.run(
        _command(recipe, out, *flags),
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS * 2,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def _kill_after_first_epoch(recipe: Path, out: Path) -> None:
    """Start training into ``out`` and SIGKILL it as soon as ``last.ckpt`` is written:
    the first epoch is done, the others are to come."""
    last = out / "checkpoints" / "last.ckpt"
    process = subprocess.Popen(
        _command(recipe, out, "--quiet"),
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not last.is_file() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, "training ended before it could be killed"
        assert last.is_file(), "no checkpoint within the time allowed"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (out / "meta.json").exists() and not (out / "metrics.json").exists()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """Two uninterrupted runs and one killed after its first epoch, then resumed."""
    tmp_path = tmp_path_factory.mktemp("kill")
    recipe = _recipe_file(tmp_path)
    _train(recipe, tmp_path / "a", "--quiet")
    _train(recipe, tmp_path / "b", "--quiet")
    _kill_after_first_epoch(recipe, tmp_path / "killed")
    resumed = _train(recipe, tmp_path / "killed", "--resume")
    return {"a": tmp_path / "a", "b": tmp_path / "b", "killed": tmp_path / "killed", "log": resumed}


def test_the_same_seed_gives_the_same_files(runs: dict[str, Path | str]) -> None:
    a, b = Path(runs["a"]), Path(runs["b"])
    for name in RESULT_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_a_killed_run_resumes_to_the_uninterrupted_result(runs: dict[str, Path | str]) -> None:
    a, killed = Path(runs["a"]), Path(runs["killed"])
    # The resumed process trained the epochs after the first only (one line per epoch).
    epochs = [line.split(":")[0] for line in str(runs["log"]).splitlines()]
    epochs = [e for e in epochs if e.startswith("epoch ")]
    assert epochs and epochs[0] != f"epoch 1/{EPOCHS}" and epochs[-1] == f"epoch {EPOCHS}/{EPOCHS}"
    for name in RESULT_FILES:
        assert (killed / name).read_bytes() == (a / name).read_bytes(), name
