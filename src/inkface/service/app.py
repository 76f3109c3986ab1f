"""``create_app``: the FastAPI app over loaded models, with its limits and handlers.

Middleware, outermost first: :class:`~inkface.service.observe.Observe` (request id,
access log, metrics, no traceback to clients), CORS (only when origins are given),
:class:`~inkface.service.limits.BodyLimit` (413). The lifespan warms the models up in
the worker pool (``/readyz`` answers 503 until then) and, on shutdown, lets in-flight
requests finish before it closes the batchers, the pool and the gallery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from inkface.core.version import __version__
from inkface.service import errors
from inkface.service.config import ServiceConfig
from inkface.service.limits import AdmissionGate, BodyLimit
from inkface.service.loaded import LoadedModels
from inkface.service.metrics import ServiceMetrics
from inkface.service.observe import Observe
from inkface.service.openapi import install_openapi
from inkface.service.routes_faces import router as faces_router
from inkface.service.routes_ops import router as ops_router
from inkface.service.routes_signatures import gallery as gallery_router
from inkface.service.routes_signatures import signatures as signatures_router
from inkface.service.schemas import (
    AnalyzeBatchRequest,
    AnalyzeRequest,
    EnrolRequest,
    IdentifyRequest,
    VerifyRequest,
)
from inkface.service.signatures import GalleryDesk
from inkface.service.state import ServiceState

log = logging.getLogger("inkface.service")
REQUEST_MODELS = (AnalyzeRequest, AnalyzeBatchRequest, VerifyRequest, IdentifyRequest, EnrolRequest)
DESCRIPTION = (
    "Face analysis (smile, expression, mask heads), signature verification and "
    "identification, and an enrolment gallery, over models trained with inkface. "
    "Image fields are multipart files or base64 in JSON bodies."
)


def create_app(models: LoadedModels, config: ServiceConfig | None = None) -> FastAPI:
    """The service for ``models`` (see :func:`inkface.service.load_models`)."""
    config = config or ServiceConfig()
    embedder = models.gallery_embedder()
    desk = GalleryDesk(models.gallery_path, embedder) if embedder is not None else None
    if desk is not None:
        desk.open_existing()
    state = ServiceState(
        config=config,
        models=models,
        metrics=ServiceMetrics(),
        executor=ThreadPoolExecutor(config.threads, thread_name_prefix="inference"),
        gate=AdmissionGate(config.max_pending, config.retry_after_s),
        gallery=desk,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warm = asyncio.get_running_loop().run_in_executor(state.executor, _warm_up, state)
        try:
            yield
        finally:
            if not warm.done():
                warm.cancel()
            await asyncio.gather(*(b.close() for b in state.batchers.values()))
            state.executor.shutdown(wait=True)
            if state.gallery is not None:
                state.gallery.close()
            log.info("service stopped")

    app = FastAPI(
        title="inkface",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.service = state
    for exc_type, handler in errors.HANDLERS:
        app.add_exception_handler(exc_type, handler)
    app.include_router(ops_router)
    app.include_router(faces_router)
    app.include_router(signatures_router)
    app.include_router(gallery_router)
    install_openapi(app, REQUEST_MODELS)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(Observe, metrics=state.metrics)
    return app


def _warm_up(state: ServiceState) -> None:
    try:
        ms = state.models.warm_up()
    except Exception as exc:  # a model that cannot run keeps the service unready
        state.detail = f"warm-up failed: {errors.one_line(str(exc))}"
        log.exception("warm-up failed")
        return
    state.ready = True
    state.detail = f"{len(state.models.models)} model(s) warmed up in {ms:.0f} ms"
    log.info(state.detail)
