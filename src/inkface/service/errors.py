"""Errors a client sees: one JSON shape, one line, the request id, never a traceback.

Every error body is ``{"error": CODE, "message": ONE_LINE, "request_id": ID}``; the
``X-Request-ID`` response header carries the same id, and the server's log line for a
5xx carries it too, so an operator finds the traceback from what a client reports.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from inkface.core.errors import ImageError, InkfaceError

log = logging.getLogger("inkface.service")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    503: "busy",
}


class ApiError(Exception):
    """An error with its HTTP status, a machine-readable code and one-line message."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _HTTP_CODES.get(status, "error")
        self.message = one_line(message)
        self.headers = headers or {}


def one_line(message: str, limit: int = 500) -> str:
    """The first line of ``message``, cut to ``limit`` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def error_body(status: int, code: str, message: str, request_id: str) -> dict[str, Any]:
    return {"error": code, "message": one_line(message), "request_id": request_id}


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict | None = None
) -> JSONResponse:
    rid = request_id_of(request)
    return JSONResponse(
        error_body(status, code, message, rid),
        status_code=status,
        headers={**(headers or {}), "X-Request-ID": rid},
    )


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status, exc.code, exc.message, exc.headers)


async def inkface_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Input the library refused: 422 with its one-line message (it names the field)."""
    code = "invalid_image" if isinstance(exc, ImageError) else "invalid_input"
    return error_response(request, 422, code, str(exc))


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """pydantic's list of problems as one line: ``field.path: what is wrong; ...``."""
    assert isinstance(exc, RequestValidationError)
    parts = []
    for problem in exc.errors()[:3]:
        where = ".".join(str(p) for p in problem.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return error_response(request, 422, "invalid_input", "; ".join(parts) or "invalid request")


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(request, exc.status_code, code, str(exc.detail), exc.headers)


HANDLERS = (
    (ApiError, api_error_handler),
    (InkfaceError, inkface_error_handler),
    (RequestValidationError, validation_error_handler),
    (StarletteHTTPException, http_error_handler),
)
