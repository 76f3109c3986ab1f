"""Run the app under uvicorn: JSON logs, graceful shutdown, one process.

On SIGTERM or Ctrl-C uvicorn stops accepting connections and waits up to
``graceful_timeout_s`` for in-flight requests to finish; the app's lifespan then closes
the batchers, the worker pool and the gallery. Scale out with more processes behind a
load balancer (each loads its own models), not with uvicorn workers sharing one port.
"""

from __future__ import annotations

import uvicorn

from inkface.service.app import create_app
from inkface.service.config import ServiceConfig
from inkface.service.loaded import LoadedModels
from inkface.service.logs import configure_logging


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
