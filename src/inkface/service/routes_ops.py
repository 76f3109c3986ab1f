"""Operations: liveness, readiness, the loaded models, metrics, and the web page."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from inkface.service.auth import require_token
from inkface.service.errors import ApiError
from inkface.service.schemas import Health, ModelsResponse, Readiness
from inkface.service.state import service_of

router = APIRouter()
STATIC = resources.files("inkface.service") / "static"
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@router.get("/healthz", response_model=Health, tags=["operations"])
async def healthz() -> Health:
    """The process is alive and its event loop answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "still warming up"}},
    tags=["operations"],
)
async def readyz(request: Request) -> JSONResponse:
    """Every model loaded and warmed up (503 until then: keep traffic away)."""
    state = service_of(request)
    body = Readiness(
        ready=state.ready,
        models=len(state.models.models),
        warmup_ms=state.models.warmup_ms,
        detail=state.detail,
    )
    return JSONResponse(body.model_dump(), status_code=200 if state.ready else 503)


@router.get(
    "/v1/models",
    response_model=ModelsResponse,
    dependencies=[Depends(require_token)],
    tags=["operations"],
)
async def models(request: Request) -> ModelsResponse:
    """Each loaded run: task, architecture, classes, input size, threshold, weights
    SHA-256 and backend; the face detector and the gallery file."""
    state = service_of(request)
    gallery = state.models.gallery_path
    return ModelsResponse(
        models=state.models.describe(),
        detector=state.models.detector_name,
        gallery=str(gallery.name) if gallery else None,
    )


@router.get("/metrics", dependencies=[Depends(require_token)], tags=["operations"])
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    state = service_of(request)
    state.metrics.in_flight.set(state.gate.depth)
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    """The page's own files: only names listed in the package's ``static`` folder are
    served, so no path from the client reaches the disk."""
    media = STATIC_TYPES.get(Path(name).suffix)
    if media is None or name not in {item.name for item in STATIC.iterdir()}:
        raise ApiError(404, f"{name}: no such file")
    return Response((STATIC / name).read_bytes(), media_type=media)
