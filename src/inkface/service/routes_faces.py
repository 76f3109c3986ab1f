"""``/v1/faces``: every face of an image (or a batch of images) with each head's verdict."""

from __future__ import annotations

import base64
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from inkface.service.auth import require_token
from inkface.service.faces import analyze_images, choose_heads
from inkface.service.openapi import BINARY, MANY_BINARY, body_spec
from inkface.service.schemas import (
    AnalyzeBatchRequest,
    AnalyzeBatchResponse,
    AnalyzeOptions,
    AnalyzeRequest,
    AnalyzeResponse,
    Strict,
    parse_flag,
)
from inkface.service.state import service_of
from inkface.service.uploads import parse_request

router = APIRouter(prefix="/v1/faces", tags=["faces"], dependencies=[Depends(require_token)])
FLAG = {"type": "string", "enum": ["true", "false"]}
HEADS_HELP = "comma-separated head names (default: every loaded head)"


@router.post(
    "/analyze",
    response_model=AnalyzeResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
    openapi_extra=body_spec(
        AnalyzeRequest, {"image": BINARY, "annotate": FLAG}, required=["image"]
    ),
)
async def analyze(
    request: Request,
    annotate: Literal["true", "false"] | None = Query(
        None, description="true: the annotated JPEG (multipart) or its base64 (JSON)"
    ),
    heads: str | None = Query(None, max_length=512, description=HEADS_HELP),
) -> Response:
    """One image: every face's box, detector score, and each head's label and
    probabilities. With ``annotate=true`` a multipart request gets the annotated JPEG
    back; a JSON request gets it as base64 in ``annotated_jpeg``."""
    state = service_of(request)
    chosen = choose_heads(state.models, heads)
    async with state.gate.admit():
        parsed = await parse_request(
            request,
            {"image": (1, 1)},
            AnalyzeOptions,
            AnalyzeRequest,
            max_pixels=state.config.max_pixels,
        )
        wanted = parsed.options.annotate or (annotate is not None and parse_flag(annotate))
        batchers = {name: state.batcher(name) for name in chosen}
        results, timings = await analyze_images(
            state.models, chosen, batchers, state.executor, parsed.images["image"], wanted
        )
    (result,) = results
    state.metrics.faces.observe(len(result["faces"]))
    if wanted and not parsed.is_json:
        return Response(
            base64.b64decode(result["annotated_jpeg"]),
            media_type="image/jpeg",
            headers={"X-Faces": str(len(result["faces"]))},
        )
    body = AnalyzeResponse(
        **result,
        detector=state.models.detector_name,
        timings_ms=timings,
        request_id=request.state.request_id,
    )
    return Response(body.model_dump_json(), media_type="application/json")


class _NoOptions(Strict):
    pass


@router.post(
    "/analyze-batch",
    response_model=AnalyzeBatchResponse,
    openapi_extra=body_spec(AnalyzeBatchRequest, {"images": MANY_BINARY}, required=["images"]),
)
async def analyze_batch(
    request: Request,
    heads: str | None = Query(None, max_length=512, description=HEADS_HELP),
) -> AnalyzeBatchResponse:
    """Up to ``max_images`` images; all their faces go to each head in one batch."""
    state = service_of(request)
    chosen = choose_heads(state.models, heads)
    limit = state.config.max_images
    async with state.gate.admit():
        parsed = await parse_request(
            request,
            {"images": (1, limit)},
            _NoOptions,
            AnalyzeBatchRequest,
            max_pixels=state.config.max_pixels,
        )
        batchers = {name: state.batcher(name) for name in chosen}
        results, timings = await analyze_images(
            state.models, chosen, batchers, state.executor, parsed.images["images"]
        )
    for result in results:
        state.metrics.faces.observe(len(result["faces"]))
    return AnalyzeBatchResponse(
        results=results,
        detector=state.models.detector_name,
        timings_ms=timings,
        request_id=request.state.request_id,
    )
