"""``/v1/signatures`` (verify, identify) and ``/v1/gallery`` (enrol, list, remove)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request

from inkface.service.auth import require_token
from inkface.service.errors import ApiError
from inkface.service.openapi import BINARY, MANY_BINARY, body_spec
from inkface.service.schemas import (
    EnrolOptions,
    EnrolRequest,
    EnrolResponse,
    IdentifyOptions,
    IdentifyRequest,
    IdentifyResponse,
    RemoveResponse,
    VerifyOptions,
    VerifyRequest,
    VerifyResponse,
    WritersResponse,
)
from inkface.service.signatures import GalleryDesk, classify_writer, in_pool, verify_signatures
from inkface.service.state import ServiceState, service_of
from inkface.service.uploads import parse_request

signatures = APIRouter(
    prefix="/v1/signatures", tags=["signatures"], dependencies=[Depends(require_token)]
)
gallery = APIRouter(prefix="/v1/gallery", tags=["gallery"], dependencies=[Depends(require_token)])
TEXT = {"type": "string"}
VERIFIER_HINT = "--run sig=RUN_DIR (a trained signature verifier)"


@signatures.post(
    "/verify",
    response_model=VerifyResponse,
    openapi_extra=body_spec(
        VerifyRequest,
        {
            "references": MANY_BINARY,
            "questioned": BINARY,
            "operating_point": TEXT,
            "model": TEXT,
        },
        required=["references", "questioned"],
    ),
)
async def verify(request: Request) -> VerifyResponse:
    """Reference signatures and a questioned one -> distances, decision, threshold (and
    operating point), as ``inkface verify`` prints them."""
    state = service_of(request)
    async with state.gate.admit():
        fields = {"references": (1, state.config.max_references), "questioned": (1, 1)}
        parsed = await parse_request(
            request, fields, VerifyOptions, VerifyRequest, max_pixels=state.config.max_pixels
        )
        options: VerifyOptions = parsed.options
        chosen = state.models.pick(
            ("verifier",), options.model, "signature verifier", VERIFIER_HINT
        )
        result = await in_pool(
            state.executor,
            verify_signatures,
            chosen.predictor,
            parsed.images["references"],
            parsed.images["questioned"][0],
            options.operating_point,
        )
    return VerifyResponse(**result, model=chosen.name, request_id=request.state.request_id)


@signatures.post(
    "/identify",
    response_model=IdentifyResponse,
    openapi_extra=body_spec(
        IdentifyRequest,
        {"image": BINARY, "top_k": {"type": "integer"}, "model": TEXT},
        required=["image"],
    ),
)
async def identify(request: Request) -> IdentifyResponse:
    """Who wrote it: the gallery's enrolled writers (open set: ``unknown`` below the
    threshold) or, with ``model`` naming one, a closed-set writer CNN."""
    state = service_of(request)
    async with state.gate.admit():
        parsed = await parse_request(
            request,
            {"image": (1, 1)},
            IdentifyOptions,
            IdentifyRequest,
            max_pixels=state.config.max_pixels,
        )
        options: IdentifyOptions = parsed.options
        (upload,) = parsed.images["image"]
        desk = state.gallery
        if options.model is None and desk is not None:
            result = await desk.call(lambda: desk.identify(upload, options.top_k))
            name = state.models.gallery_model or ""
        else:
            chosen = state.models.pick(
                ("identifier",),
                options.model,
                "writer identification model",
                "--gallery G.db (and its embedding run) or --run writers=RUN_DIR (a writer CNN)",
            )
            result = await in_pool(
                state.executor, classify_writer, chosen.predictor, upload, options.top_k
            )
            name = chosen.name
    return IdentifyResponse(**result, model=name, request_id=request.state.request_id)


def _desk(state: ServiceState) -> GalleryDesk:
    if state.gallery is None:
        raise ApiError(
            404, "no gallery is served; start the server with --gallery G.db and its embedding run"
        )
    return state.gallery


@gallery.get("/writers", response_model=WritersResponse)
async def list_writers(request: Request) -> WritersResponse:
    """Enrolled writers with their reference counts (empty before the first enrolment)."""
    desk = _desk(service_of(request))
    writers = await desk.call(desk.writers)
    return WritersResponse(gallery=desk.path.name, writers=writers)


@gallery.post(
    "/writers",
    response_model=EnrolResponse,
    status_code=201,
    openapi_extra=body_spec(
        EnrolRequest, {"writer": TEXT, "images": MANY_BINARY}, required=["writer", "images"]
    ),
)
async def enrol(request: Request) -> EnrolResponse:
    """Add reference signatures for a writer (created when new), in one transaction:
    a bad image leaves the gallery untouched."""
    state = service_of(request)
    desk = _desk(state)
    async with state.gate.admit():
        fields = {"images": (1, state.config.max_references)}
        parsed = await parse_request(
            request, fields, EnrolOptions, EnrolRequest, max_pixels=state.config.max_pixels
        )
        writer = parsed.options.writer
        added = await desk.call(lambda: desk.enrol(writer, parsed.images["images"]))
    return EnrolResponse(gallery=desk.path.name, writer=writer.strip(), added=added)


@gallery.delete("/writers/{writer}", response_model=RemoveResponse)
async def remove(
    request: Request, writer: str = Path(min_length=1, max_length=128)
) -> RemoveResponse:
    """Remove a writer and every reference of theirs (one transaction)."""
    desk = _desk(service_of(request))
    removed = await desk.call(lambda: desk.remove(writer))
    return RemoveResponse(gallery=desk.path.name, writer=writer, removed_references=removed)
