"""The two engines that run a :class:`~inkface.batch.scoring.BatchPredictor` over many
inputs: ``local`` (this machine) and ``ray`` (Ray Data, on a local Ray or a cluster).

Both hand the predictor chunks of ``batch_size`` inputs and yield the resulting tables
in input order, so the rows do not depend on the engine.

* ``local``: with one worker, chunks are scored in this process; with more, in a pool
  of spawned processes (:func:`inkface.core.parallel.process_pool`) with at most two
  chunks per worker in flight, so memory stays flat however many inputs there are.
* ``ray``: ``ray.data.from_items`` -> ``map_batches`` with the predictor as a callable
  class on an actor pool of ``workers`` actors (``num_gpus`` each when asked) ->
  tables streamed back to this process, which writes them (rows are small: boxes and
  probabilities, no pixels). Order is kept (``preserve_order``). Without an address a
  local Ray instance is started and stopped; with one the job runs on that cluster.
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import socket
from collections.abc import Iterator, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import pyarrow as pa

from inkface.batch.inputs import BatchInput
from inkface.batch.scoring import BatchPredictor, BatchSettings
from inkface.core.errors import InkfaceError
from inkface.core.parallel import process_pool

Engine = Literal["local", "ray"]
ENGINES: tuple[Engine, ...] = ("local", "ray")
RAY_EXTRA = "pip install 'inkface[ray]'"
CONNECT_TIMEOUT_S = 5.0


def chunks(inputs: Sequence[BatchInput], size: int) -> Iterator[list[BatchInput]]:
    for start in range(0, len(inputs), size):
        yield list(inputs[start : start + size])


@functools.lru_cache(maxsize=2)
def _worker_predictor(settings: BatchSettings) -> BatchPredictor:
    """One predictor per worker process and settings, loaded on its first chunk."""
    return BatchPredictor.from_settings(settings)


def _score_chunk(settings: BatchSettings, items: list[BatchInput]) -> pa.Table:
    return _worker_predictor(settings).score(items)


def run_local(
    predictor: BatchPredictor, inputs: Sequence[BatchInput], batch_size: int, workers: int
) -> Iterator[pa.Table]:
    """Tables of rows, one per chunk of ``batch_size`` inputs, in input order."""
    if workers == 1:
        for chunk in chunks(inputs, batch_size):
            yield predictor.score(chunk)
        return
    predictor.load()  # a bad run fails here, once, not in every worker
    with process_pool(workers) as pool:
        pending: collections.deque = collections.deque()
        for chunk in chunks(inputs, batch_size):
            pending.append(pool.submit(_score_chunk, predictor.settings, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def run_ray(
    predictor: BatchPredictor,
    inputs: Sequence[BatchInput],
    batch_size: int,
    workers: int,
    address: str | None = None,
    gpus_per_worker: float = 0.0,
) -> Iterator[pa.Table]:
    """The same tables as :func:`run_local`, computed by Ray Data's actor pool."""
    try:
        import ray  # optional extra: only this engine needs it
        import ray.data
    except ImportError:
        raise InkfaceError(f"--engine ray needs Ray: {RAY_EXTRA}") from None
    predictor.load()  # fail on a bad run before starting a cluster job
    started = not ray.is_initialized()
    if started:
        _init_ray(ray, address, workers)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False  # the job draws one bar for both engines
        dataset = ray.data.from_items([item.as_item() for item in inputs])
        resources = {"num_gpus": gpus_per_worker} if gpus_per_worker else {}
        scored = dataset.map_batches(
            BatchPredictor,
            fn_constructor_kwargs=predictor.settings.as_kwargs(),
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
            **resources,
        )
        yield from scored.iter_batches(batch_size=None, batch_format="pyarrow")
    finally:
        if started:
            ray.shutdown()


def _init_ray(ray: Any, address: str | None, workers: int) -> None:
    # Ray's own INFO lines (execution plans, actor notes) would bury the job's output.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": "ERROR",
    }
    if address:
        _check_reachable(address)
        options["address"] = address
    else:
        options["num_cpus"] = max(workers + 1, 2)  # the actors plus the driver's reads
    try:
        ray.init(**options)
    except ConnectionError as exc:
        raise InkfaceError(f"--ray-address {address}: cannot connect ({exc})") from None


def _check_reachable(address: str) -> None:
    """Refuse an address nothing listens on at once: Ray itself retries for minutes."""
    if address == "auto":
        return
    parsed = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise InkfaceError(f"--ray-address {address}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise InkfaceError(
            f"--ray-address {address}: nothing answers there ({exc.strerror or exc})"
        ) from None
