"""``inkface data cache`` as a process: bounded peak memory, and nothing left behind or
wrong after the build is killed (SIGKILL) or terminated (SIGTERM) mid-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from layouts import write_cedar

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and ru_maxrss")

SIZE = "600x720"  # 432 kB a row: N images more would be N x 432 kB more if rows piled up
SMALL, LARGE = 100, 400  # images (writers of 5 genuine + 5 forged)
_PEAK = (
    "import resource, subprocess, sys; "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)"
)


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("signatures")
    return {
        n: write_cedar(folder / str(n), writers=n // 10, genuine=5, forged=5)
        for n in (SMALL, LARGE)
    }


def _cache_argv(root: Path, cache: Path, workers: int = 1) -> list[str]:
    return [
        sys.executable, "-m", "inkface", "data", "cache", "--dataset", "cedar",
        "--root", str(root), "--size", SIZE, "--cache-dir", str(cache), "--workers", str(workers),
    ]  # fmt: skip


def _peak_kb(argv: list[str]) -> int:
    """Largest resident set (kB) of ``argv`` or any process it waited for."""
    done = subprocess.run([sys.executable, "-c", _PEAK, *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split()[-1])


def test_peak_memory_does_not_grow_with_the_images(sets: dict[int, Path], tmp_path: Path) -> None:
    small = _peak_kb(_cache_argv(sets[SMALL], tmp_path / "small"))
    large = _peak_kb(_cache_argv(sets[LARGE], tmp_path / "large"))
    grown_mb = (large - small) / 1024
    # 300 images more are 124 MB of rows; a streamed build stays within noise.
    assert grown_mb < 20, f"peak RSS {small} kB for {SMALL} images, {large} kB for {LARGE}"


def _interrupt(argv: list[str], cache: Path, how: signal.Signals, mark: str = "") -> Path:
    """Start a build, send ``how`` once its temporary file holds some rows but not all;
    the temporary file it had. ``mark`` goes into the environment of the build (and of
    its worker processes)."""
    env = {**os.environ, "INKFACE_TEST_MARK": mark}
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    row_bytes = int(np.prod([int(s) for s in SIZE.split("x")]))
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            temps = list(cache.glob(".*.tmp")) if cache.is_dir() else []
            if temps and temps[0].stat().st_size > 40 * row_bytes:
                proc.send_signal(how)
                break
            time.sleep(0.005)
        assert proc.wait(timeout=60) == -how, "the build ended before it was interrupted"
    finally:
        if proc.poll() is None:
            proc.kill()
    return temps[0]


def _files(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir())


def _marked(mark: str) -> list[int]:
    """Processes whose environment holds ``mark`` (Linux /proc; [] elsewhere)."""
    found = []
    needle = f"INKFACE_TEST_MARK={mark}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_killed_build_is_cleaned_up_and_rebuilt_equal(
    sets: dict[int, Path], tmp_path: Path
) -> None:
    cache, reference = tmp_path / "cache", tmp_path / "reference"
    argv = _cache_argv(sets[LARGE], cache, workers=2)
    mark = f"{os.getpid()}-{time.monotonic_ns()}"
    temp = _interrupt(argv, cache, signal.SIGKILL, mark)
    assert _files(cache) == [temp.name]  # what kill -9 leaves: a partial temporary file
    deadline = time.monotonic() + 10
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _marked(mark) == [], "worker processes outlived the killed build"
    subprocess.run(argv, check=True, capture_output=True)
    subprocess.run(_cache_argv(sets[LARGE], reference), check=True, capture_output=True)
    assert _files(cache) == _files(reference) and len(_files(cache)) == 2  # .npy + .json
    (name,) = (n for n in _files(cache) if n.endswith(".npy"))
    rebuilt, whole = np.load(cache / name), np.load(reference / name)
    assert rebuilt.shape == (LARGE, 600, 720) and np.array_equal(rebuilt, whole)
    index = json.loads((cache / name).with_suffix(".json").read_text())
    assert index["kept_indices"] == list(range(LARGE))


def test_terminated_build_removes_its_temporary_file(sets: dict[int, Path], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _interrupt(_cache_argv(sets[LARGE], cache), cache, signal.SIGTERM)
    assert _files(cache) == []
