"""One memory-mapped array cache for decoded images (signature scans, face crops).

A dataset is decoded once into ``<stem>.npy``, an (N, *item_shape) uint8 array that
training epochs read as a read-only memory map, plus ``<stem>.json``, an index written
last as the mark of a complete cache. Callers end the stem with :func:`cache_key`, a hash
over every input file's path, size and modification time, the processing parameters and
the format versions, so an edited, added or removed file gives a new cache instead of
stale pixels.

A build writes each row into a temporary ``.npy`` file next to the target as it arrives
(through the file, not a writable memory map, whose written pages would stay resident:
peak memory does not grow with N) and renames it into place. Temporary files are named
``.<target>.<random>.<host hash>-<pid>.tmp``. A failed, interrupted (Ctrl-C) or
terminated (SIGTERM) build removes its own; one left by a killed build (SIGKILL, power
loss) is removed by the next build in the same folder once its process is gone. A cache
whose file size or header does not match its index is rebuilt with a one-line warning.

One error policy for every user: an item whose work returns ``Skip(reason)`` (unreadable
image, ...) raises :class:`~inkface.core.errors.ImageError` naming it when ``strict``, and
otherwise is left out with a warning and listed in :attr:`CachedArray.failed` as (name,
reason). ``Skip(reason, expected=True)`` marks an item that legitimately has no row (no
face found): it is left out and listed in :attr:`CachedArray.excluded` in either mode.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from inkface.core.atomic import atomic_path, check_output_path
from inkface.core.cache_cleanup import in_worker, owner_tag, remove_stale, unwind_on_sigterm
from inkface.core.errors import ImageError, InkfaceError
from inkface.core.parallel import process_pool
from inkface.core.progress import show_bars

FORMAT = 1  # layout of the .npy + .json pair; part of every key
_RESERVED = frozenset(
    {"format", "key", "items", "rows", "item_shape", "failed", "excluded", "kept_indices"}
)


class Skip(NamedTuple):
    """Why an item has no row: a failure (policy applies) or ``expected`` (always listed)."""

    reason: str
    expected: bool = False


Outcome = np.ndarray | Skip
Work = Callable[[list[Any]], Sequence[Outcome]]


@dataclass(frozen=True)
class CachedArray:
    """Rows of the cache: row ``k`` is item ``kept[k]``; the rest are listed by reason."""

    array: np.ndarray
    kept: np.ndarray
    failed: list[tuple[str, str]]
    excluded: list[tuple[str, str]]
    path: Path | None
    hit: bool = False


def attempt(fn: Callable[..., np.ndarray], *args: Any) -> Outcome:
    """``fn(*args)``, or a :class:`Skip` with the message of the :class:`ImageError` it
    raised, so that workers report an unreadable image instead of stopping the build."""
    try:
        return fn(*args)
    except ImageError as exc:
        return Skip(str(exc))


def cache_key(
    files: Iterable[str | os.PathLike[str]], params: Mapping[str, Any], version: int
) -> str:
    """20 hex digits over each file's absolute path, size and mtime (a missing file counts
    as size -1), ``params`` (JSON-able) and the caller's and this module's versions."""
    stamps: dict[str, list[int]] = {}
    for file in files:
        path = os.path.abspath(file)
        if path in stamps:
            continue
        try:
            st = os.stat(path)
            stamps[path] = [st.st_size, st.st_mtime_ns]
        except OSError:
            stamps[path] = [-1, -1]
    payload = {"format": [FORMAT, version], "params": params, "files": list(stamps.items())}
    return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()[:20]


def load_or_build(
    array_file: Path | None,
    key: str,
    item_shape: Sequence[int],
    names: Sequence[str],
    jobs: Sequence[Any],
    work: Work,
    *,
    strict: bool = True,
    workers: int = 1,
    chunk_size: int = 16,
    select: Callable[[np.ndarray], np.ndarray] | None = None,
    meta: Mapping[str, Any] | None = None,
    progress: bool = True,
    desc: str = "caching",
) -> CachedArray:
    """The array cached at ``array_file`` under ``key``, or built from ``jobs`` and cached.

    ``work`` turns a list of up to ``chunk_size`` jobs into one outcome per job: an
    ``item_shape`` uint8 array or a :class:`Skip`. With ``workers`` > 1 it runs in spawned
    processes, so it and the jobs must pickle (a top-level function or a
    ``functools.partial`` of one). ``names[i]`` names item ``i`` in errors and lists.
    ``select`` may drop some of the built items (given and returning item indices, in
    order) before the rows are final. ``meta`` is recorded in the index for people to read.
    ``array_file=None`` builds in memory and writes nothing. ``workers`` below 1 and a
    cache folder that cannot be one (a file, a path under a file) are refused first.
    """
    shape = tuple(int(s) for s in item_shape)
    if workers < 1:
        raise InkfaceError(f"workers: must be at least 1, got {workers}")
    if array_file is not None:
        check_output_path(array_file.parent, "cache folder", folder=True)
    if len(names) != len(jobs):
        raise ValueError(f"{len(names)} names for {len(jobs)} jobs")
    clash = _RESERVED.intersection(meta or {})
    if clash:
        raise ValueError(f"meta may not use the index's own fields {sorted(clash)}")
    if array_file is not None:
        cached = _open(array_file, key, shape)
        if cached is not None:
            return cached
    bar = tqdm(total=len(jobs), desc=desc, unit="img", disable=not show_bars(progress))
    outcomes = _outcomes(jobs, work, workers, chunk_size)
    with unwind_on_sigterm(), bar, contextlib.closing(outcomes):
        if array_file is None:
            rows = np.zeros((len(jobs), *shape), np.uint8)
            kept, failed, excluded = _fill(rows, outcomes, names, strict, bar)
            kept = _select(rows, kept, select)
            return CachedArray(rows[: len(kept)], kept, failed, excluded, None)
        return _build(array_file, key, shape, outcomes, names, strict, bar, select, meta)


def _build(
    array_file: Path,
    key: str,
    shape: tuple[int, ...],
    outcomes: Iterator[Outcome],
    names: Sequence[str],
    strict: bool,
    bar: tqdm,
    select: Callable[[np.ndarray], np.ndarray] | None,
    meta: Mapping[str, Any] | None,
) -> CachedArray:
    """Fill a temporary file row by row, cut it to the kept rows, rename it, then the index."""
    index_file = array_file.with_suffix(".json")
    array_file.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(array_file)
    index_file.unlink(missing_ok=True)  # the index marks a complete cache: not any more
    with atomic_path(array_file, suffix=f".{owner_tag()}.tmp") as tmp:
        with _FileRows(tmp, len(names), shape) as out:
            kept, failed, excluded = _fill(out, outcomes, names, strict, bar)
            kept = _select(out, kept, select)
        if len(kept) < len(names):
            _shrink_rows(tmp, len(kept))
    index = {
        "format": FORMAT,
        "key": key,
        **(meta or {}),
        "items": len(names),
        "rows": len(kept),
        "item_shape": list(shape),
        "failed": [list(p) for p in failed],
        "excluded": [list(p) for p in excluded],
        "kept_indices": kept.tolist(),
    }
    with atomic_path(index_file, suffix=f".{owner_tag()}.tmp") as tmp:
        tmp.write_text(json.dumps(index, indent=2, default=str) + "\n", encoding="utf-8")
    array = np.load(array_file, mmap_mode="r")
    return CachedArray(array, kept, failed, excluded, array_file)


class _FileRows:
    """The rows of a new (rows, *shape) uint8 ``.npy`` file, written and read through the
    file. Pages written through a shared memory map count in the process's resident set
    until it is unmapped, so a mapped build grew by one image per item (282 MB for 2,640
    images at 300 x 360); written through the file they are page cache, which the kernel
    writes back and frees on its own."""

    def __init__(self, path: Path, rows: int, shape: tuple[int, ...]) -> None:
        self.shape = (rows, *shape)
        self._row_bytes = int(np.prod(shape))
        self._file = open(path, "r+b")  # noqa: SIM115 - closed by __exit__
        header = {"descr": "|u1", "fortran_order": False, "shape": self.shape}
        np.lib.format.write_array_header_1_0(self._file, header)
        self._offset = self._file.tell()

    def __enter__(self) -> _FileRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def __setitem__(self, row: int, value: np.ndarray) -> None:
        self._file.seek(self._offset + row * self._row_bytes)
        self._file.write(np.ascontiguousarray(value, dtype=np.uint8).tobytes())

    def __getitem__(self, row: int) -> np.ndarray:
        self._file.seek(self._offset + row * self._row_bytes)
        data = self._file.read(self._row_bytes)
        return np.frombuffer(data, np.uint8).reshape(self.shape[1:])


def _fill(
    out: np.ndarray | _FileRows,
    outcomes: Iterable[Outcome],
    names: Sequence[str],
    strict: bool,
    bar: tqdm,
) -> tuple[np.ndarray, list[tuple[str, str]], list[tuple[str, str]]]:
    """Write the rows to the front of ``out`` in item order; apply the error policy."""
    kept: list[int] = []
    failed: list[tuple[str, str]] = []
    excluded: list[tuple[str, str]] = []
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, Skip):
            entry = (names[i], outcome.reason)
            message = outcome.reason if names[i] in outcome.reason else ": ".join(entry)
            if outcome.expected:
                excluded.append(entry)
            elif strict:
                raise ImageError(message)
            else:
                warnings.warn(f"skipping {message}", stacklevel=4)
                failed.append(entry)
        elif outcome.shape != out.shape[1:]:
            raise ValueError(f"{names[i]}: row of shape {outcome.shape}, not {out.shape[1:]}")
        else:
            out[len(kept)] = outcome
            kept.append(i)
        bar.update(1)
    return np.array(kept, dtype=np.int64), failed, excluded


def _select(
    rows: np.ndarray | _FileRows,
    kept: np.ndarray,
    select: Callable[[np.ndarray], np.ndarray] | None,
) -> np.ndarray:
    """Apply ``select`` to the kept items and move their rows forward over the dropped."""
    if select is None:
        return kept
    chosen = np.asarray(select(kept), dtype=np.int64)
    where = np.searchsorted(kept, chosen)
    ordered = np.all(np.diff(chosen) > 0)
    if not (ordered and np.all(where < len(kept)) and np.array_equal(kept[where], chosen)):
        raise ValueError("select must return a subset of the kept items, in order")
    for row, source in enumerate(where.tolist()):
        if row != source:
            rows[row] = rows[source]
    return chosen


def _outcomes(jobs: Sequence[Any], work: Work, workers: int, chunk_size: int) -> Iterator[Outcome]:
    """One outcome per job, in job order. At most two chunks per worker are in flight, so
    finished rows never pile up in memory while the writer waits for a slow chunk."""
    size = max(1, chunk_size)
    chunks = (list(jobs[k : k + size]) for k in range(0, len(jobs), size))
    n_workers = max(1, min(workers, -(-len(jobs) // size)))
    if n_workers == 1:
        for chunk in chunks:
            yield from _checked(work(chunk), chunk)
        return
    with process_pool(n_workers) as pool:
        pending: deque[tuple[Future[Sequence[Outcome]], list[Any]]] = deque()
        try:
            for chunk in chunks:
                pending.append((pool.submit(in_worker, work, os.getpid(), chunk), chunk))
                if len(pending) >= 2 * n_workers:
                    future, done = pending.popleft()
                    yield from _checked(future.result(), done)
            while pending:
                future, done = pending.popleft()
                yield from _checked(future.result(), done)
        finally:
            for future, _ in pending:
                future.cancel()


def _checked(results: Sequence[Outcome], chunk: list[Any]) -> Sequence[Outcome]:
    if len(results) != len(chunk):
        raise ValueError(f"work returned {len(results)} outcomes for {len(chunk)} jobs")
    return results


def _open(array_file: Path, key: str, shape: tuple[int, ...]) -> CachedArray | None:
    """The complete cache at ``array_file``, or None (with a warning when it is damaged)."""
    index_file = array_file.with_suffix(".json")
    if not (array_file.is_file() and index_file.is_file()):
        return None
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
        array = np.load(array_file, mmap_mode="r")
        problem = _mismatch(index, array, array_file, key, shape)
        if problem is None:
            kept = np.asarray(index["kept_indices"], dtype=np.int64)
            failed, excluded = (
                [(str(p), str(r)) for p, r in index[k]] for k in ("failed", "excluded")
            )
            return CachedArray(array, kept, failed, excluded, array_file, hit=True)
    except (OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        problem = " ".join(f"{type(exc).__name__}: {exc}".split())
    warnings.warn(f"cache {array_file} is damaged ({problem}); rebuilding it", stacklevel=3)
    return None


def _mismatch(
    index: dict[str, Any], array: np.ndarray, array_file: Path, key: str, shape: tuple[int, ...]
) -> str | None:
    """What does not match between the index, the .npy header and the file size, if any."""
    rows = int(index["rows"])
    if index.get("format") != FORMAT or index.get("key") != key:
        return "index of another format or key"
    if array.dtype != np.uint8 or array.shape != (rows, *shape):
        return f"array {array.dtype}{list(array.shape)}, index says uint8{[rows, *shape]}"
    expected = array.offset + array.nbytes if isinstance(array, np.memmap) else -1
    size = array_file.stat().st_size
    if size != expected:
        return f"file is {size} bytes, header says {expected}"
    if len(index["kept_indices"]) != rows:
        return f"{len(index['kept_indices'])} kept indices for {rows} rows"
    return None


def _shrink_rows(path: Path, rows: int) -> None:
    """Cut a .npy file to its first ``rows`` rows in place: rewrite the shape in the
    header, padded to its old length (fewer digits always fit), and truncate the data."""
    with open(path, "r+b") as fh:
        major, _ = np.lib.format.read_magic(fh)
        read = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read(fh)
        offset = fh.tell()
        start = 8 + (2 if major == 1 else 4)  # magic, version, header length
        new_shape = (rows, *shape[1:])
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran}
        text = repr({**header, "shape": new_shape})
        if len(text) >= offset - start:
            raise ValueError(f"{path}: new .npy header does not fit")  # cannot happen
        fh.seek(start)
        fh.write(text.ljust(offset - start - 1).encode("latin1") + b"\n")
        fh.truncate(offset + int(np.prod(new_shape)) * dtype.itemsize)
