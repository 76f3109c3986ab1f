"""The generic memory-mapped array cache: hits and misses, the strict and lenient error
policy, nothing left behind by a failed or killed build, damaged caches rebuilt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from inkface.core.cache import Skip, cache_key, load_or_build
from inkface.core.errors import ImageError
from inkface.core.paths import resolve_cache_dir


def _files(folder: Path, n: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"img{i}.png" for i in range(n)]
    for i, path in enumerate(paths):
        path.write_bytes(bytes([i]) * (i + 1))
    return paths


class _Work:
    """Row ``i`` is filled with ``i``; ``fail`` / ``absent`` items give a Skip."""

    def __init__(self, fail: str = "", absent: str = "") -> None:
        self.calls = 0
        self.fail, self.absent = fail, absent

    def __call__(self, chunk: list[str]) -> list[np.ndarray | Skip]:
        self.calls += 1
        out: list[np.ndarray | Skip] = []
        for name in chunk:
            if name == self.fail:
                out.append(Skip(f"{name}: cannot decode image"))
            elif name == self.absent:
                out.append(Skip("no face found", expected=True))
            else:
                out.append(np.full((3, 2), int(name[-5]), np.uint8))
        return out


def _load(target: Path | None, names: list[str], work: _Work, **kwargs):
    key = cache_key(names, {"size": [3, 2]}, 1)
    array_file = None if target is None else target / f"test-{key}.npy"
    kwargs.setdefault("progress", False)
    return load_or_build(array_file, key, (3, 2), names, names, work, chunk_size=2, **kwargs)


def test_hit_and_miss_on_changed_mtime(tmp_path: Path) -> None:
    names = [str(p) for p in _files(tmp_path / "in")]
    work = _Work()
    first = _load(tmp_path / "c", names, work)
    assert not first.hit and work.calls == 2 and isinstance(first.array, np.memmap)
    assert first.array.shape == (4, 3, 2) and [int(r[0, 0]) for r in first.array] == [0, 1, 2, 3]
    second = _load(tmp_path / "c", names, work)
    assert second.hit and work.calls == 2 and second.path == first.path
    assert np.array_equal(second.array, first.array) and second.kept.tolist() == [0, 1, 2, 3]
    stat = os.stat(names[2])
    os.utime(names[2], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = _load(tmp_path / "c", names, work)
    assert not third.hit and work.calls == 4 and third.path != first.path
    assert cache_key(names, {"size": [3, 2]}, 1) != cache_key(names, {"size": [3, 3]}, 1)
    assert cache_key(names, {}, 1) != cache_key(names, {}, 2)


def test_strict_error_names_the_item_and_leaves_nothing(tmp_path: Path) -> None:
    names = [str(p) for p in _files(tmp_path / "in")]
    cache = tmp_path / "c"
    with pytest.raises(ImageError, match=r"img2\.png: cannot decode"):
        _load(cache, names, _Work(fail=names[2]))
    assert list(cache.iterdir()) == []


def test_lenient_skips_lists_and_remembers(tmp_path: Path) -> None:
    names = [str(p) for p in _files(tmp_path / "in")]
    with pytest.warns(UserWarning, match=r"skipping .*img2\.png"):
        built = _load(tmp_path / "c", names, _Work(fail=names[2]), strict=False)
    assert built.failed == [(names[2], f"{names[2]}: cannot decode image")]
    assert built.kept.tolist() == [0, 1, 3] and built.array.shape == (3, 3, 2)
    assert [int(r[0, 0]) for r in built.array] == [0, 1, 3]
    again = _load(tmp_path / "c", names, _Work(), strict=False)
    assert again.hit and again.failed == built.failed and again.kept.tolist() == [0, 1, 3]
    index = json.loads(built.path.with_suffix(".json").read_text())
    assert index["rows"] == 3 and index["items"] == 4 and index["kept_indices"] == [0, 1, 3]


def test_expected_skips_are_listed_in_either_mode(tmp_path: Path) -> None:
    names = [str(p) for p in _files(tmp_path / "in")]
    for strict in (True, False):
        got = _load(None, names, _Work(absent=names[0]), strict=strict)
        assert got.excluded == [(names[0], "no face found")] and got.failed == []
        assert got.kept.tolist() == [1, 2, 3] and got.path is None


def test_memory_only_writes_nothing(tmp_path: Path) -> None:
    names = [str(p) for p in _files(tmp_path / "in")]
    got = _load(resolve_cache_dir(""), names, _Work())
    assert got.path is None and not isinstance(got.array, np.memmap)
    assert got.array.shape == (4, 3, 2) and sorted(os.listdir(tmp_path)) == ["in"]


def test_select_drops_rows_and_cuts_the_file(tmp_path: Path) -> None:
    names = [str(p) for p in _files(tmp_path / "in", 6)]
    with pytest.warns(UserWarning, match=r"img1\.png"):
        built = _load(tmp_path / "c", names, _Work(names[1]), strict=False, select=_not_four)
    assert built.kept.tolist() == [0, 2, 3, 5]
    assert [int(r[0, 0]) for r in built.array] == [0, 2, 3, 5]
    assert built.path.stat().st_size == built.array.offset + 4 * 6
    assert _load(tmp_path / "c", names, _Work(), strict=False).hit


def _not_four(kept: np.ndarray) -> np.ndarray:
    return kept[kept != 4]


def test_truncated_or_garbled_cache_is_rebuilt(tmp_path: Path) -> None:
    names = [str(p) for p in _files(tmp_path / "in")]
    first = _load(tmp_path / "c", names, _Work())
    size = first.path.stat().st_size
    with open(first.path, "r+b") as fh:
        fh.truncate(size - 5)
    with pytest.warns(UserWarning, match="damaged") as caught:
        rebuilt = _load(tmp_path / "c", names, _Work())
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert not rebuilt.hit and rebuilt.path.stat().st_size == size
    assert [int(r[0, 0]) for r in rebuilt.array] == [0, 1, 2, 3]
    first.path.write_bytes(b"not an npy file at all")
    with pytest.warns(UserWarning, match="damaged"):
        assert not _load(tmp_path / "c", names, _Work()).hit
    assert _load(tmp_path / "c", names, _Work()).hit


@pytest.mark.skipif(os.name != "posix", reason="kills a process with SIGKILL")
def test_temp_file_of_a_killed_build_is_removed(tmp_path: Path) -> None:
    target = tmp_path / "c" / "killed.npy"
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        import numpy as np
        from inkface.core.cache import load_or_build

        def work(chunk):
            if "c" in chunk:
                os.kill(os.getpid(), signal.SIGKILL)
            return [np.ones((2, 2), np.uint8) for _ in chunk]

        names = list("abcd")
        load_or_build(Path(sys.argv[1]), "k", (2, 2), names, names, work, chunk_size=1,
                      progress=False)
        """
    )
    done = subprocess.run([sys.executable, "-c", script, str(target)], timeout=120)
    assert done.returncode == -signal.SIGKILL
    (left,) = target.parent.iterdir()
    assert left.name.startswith(".killed.npy.") and left.name.endswith(".tmp")
    head, pid, tail = left.name.rpartition("-")[0], str(os.getpid()), ".tmp"
    alive = target.parent / f"{head}-{pid}{tail}"  # same tag, but this (running) process
    alive.write_bytes(b"")
    legacy = target.parent / ".killed.npy.x1y2z3.npy"  # untagged, from an older version
    legacy.write_bytes(b"")
    names = list("abcd")
    got = load_or_build(target, "k", (2, 2), names, names, _ones, progress=False)
    assert not got.hit and got.array.shape == (4, 2, 2)
    assert sorted(p.name for p in target.parent.iterdir()) == [
        alive.name,
        "killed.json",
        "killed.npy",
    ]


def _ones(chunk: list[str]) -> list[np.ndarray | Skip]:
    return [np.ones((2, 2), np.uint8) for _ in chunk]
