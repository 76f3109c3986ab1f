"""Request ids, access logs, metrics, and the guard that keeps tracebacks server-side.

Pure ASGI middleware (outermost of the app's own): it gives every request an id (a
client's ``X-Request-ID`` when it is short and plain, else a new one), returns it in
the ``X-Request-ID`` header, logs one structured line per request, records the
request's route template, status and latency, and turns any unhandled exception into
a JSON 500 carrying the id, while the traceback goes to the log with the same id.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inkface.service.errors import error_body
from inkface.service.metrics import ServiceMetrics

log = logging.getLogger("inkface.service")
access = logging.getLogger("inkface.service.access")
_PLAIN_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _incoming_id(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            text = value.decode("latin-1")
            return text if _PLAIN_ID.match(text) else None
    return None


def route_template(scope: Scope) -> str:
    """``/v1/gallery/writers/{writer}``, not the raw path (bounded label values)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


def _level(route: str, status: int) -> int:
    """ERROR for server faults; a busy 503 or a warming-up ``/readyz`` is expected."""
    if route == "/readyz" or status < 500:
        return logging.INFO
    return logging.WARNING if status == 503 else logging.ERROR


class Observe:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unhandled error", extra={"request_id": rid, "path": scope.get("path", "")}
            )
            status = 500
            if not started:
                body = json.dumps(
                    error_body(500, "internal_error", "internal server error", rid)
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-request-id", rid.encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            seconds = time.perf_counter() - start
            route = route_template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route).observe(seconds)
            level = _level(route, status)
            access.log(
                level,
                "request",
                extra={
                    "request_id": rid,
                    "method": method,
                    "path": scope.get("path", ""),
                    "route": route,
                    "status": status,
                    "ms": round(1e3 * seconds, 2),
                },
            )
