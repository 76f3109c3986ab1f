"""Run the app under uvicorn: JSON logs, graceful shutdown, one process.

On SIGTERM or Ctrl-C uvicorn stops accepting connections and waits up to
``graceful_timeout_s`` for in-flight requests to finish; the app's lifespan then closes
the batchers, the worker pool and the gallery. Scale out with more processes behind a
load balancer (each loads its own models), not with uvicorn workers sharing one port.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

import uvicorn

from inkface.service.app import create_app
from inkface.service.config import ServiceConfig
from inkface.service.loaded import LoadedModels
from inkface.service.logs import configure_logging

log = logging.getLogger("inkface.service")
# glibc mallopt parameters (malloc.h) and the values that stop per-request churn.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
TRIM_THRESHOLD_BYTES, MMAP_THRESHOLD_BYTES = 128 << 20, 32 << 20


def tune_allocator() -> bool:
    """Keep glibc from returning and re-faulting the model's activation buffers on every
    request: with its dynamic defaults a one-face request paid ~2,000 page faults and
    4-6 ms of system CPU (about 15% of the request; ``benchmarks/bench_service.py
    --malloc``). Same effect as ``MALLOC_MMAP_THRESHOLD_=32 MiB MALLOC_TRIM_THRESHOLD_=128
    MiB``. Returns False where the C library is not glibc (nothing is changed)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


def serve(
    models: LoadedModels,
    config: ServiceConfig,
    host: str = "127.0.0.1",
    port: int = 8000,
    json_logs: bool = True,
    graceful_timeout_s: int = 30,
) -> None:
    """Serve ``models`` until interrupted (see the module docstring)."""
    configure_logging(json_logs)
    if not tune_allocator():
        log.info("allocator left at its defaults (not glibc)")
    app = create_app(models, config)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,  # the app logs each request itself, with its request id
        timeout_graceful_shutdown=graceful_timeout_s,
        server_header=False,
    )
