"""What keeps the service bounded: body size, admitted requests, and who may call.

* :class:`BodyLimit` is ASGI middleware: a declared ``Content-Length`` over the limit
  is answered 413 before a byte of the body is read; a chunked body is counted as it
  streams and cut off with 413 the moment it passes the limit.
* :class:`AdmissionGate` bounds inference requests in flight (computing or waiting for
  a worker). One more is refused with 503 and ``Retry-After`` instead of queueing
  without bound, so memory stays bounded under any load.
* :func:`check_bearer` compares the bearer token in constant time.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import AsyncIterator

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inkface.service.errors import ApiError, error_body


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when a streamed body passes the limit."""


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 (see the module docstring)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        rid = str(scope.get("state", {}).get("request_id", ""))
        message = f"request body is over the {self.limit:,}-byte limit"
        body = json.dumps(error_body(413, "body_too_large", message, rid)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"x-request-id", rid.encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class AdmissionGate:
    """At most ``limit`` inference requests in flight; ``depth`` is how many are."""

    def __init__(self, limit: int, retry_after_s: int = 1) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.depth = 0

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        # Runs on the event loop only, so the counter needs no lock.
        if self.depth >= self.limit:
            raise ApiError(
                503,
                f"server busy: {self.limit} inference requests in flight; retry shortly",
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1


def check_bearer(authorization: str | None, token: str | None) -> None:
    """401 unless ``Authorization: Bearer <token>`` matches (constant-time compare)."""
    if token is None:
        return
    scheme, _, given = (authorization or "").partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    if not ok:
        raise ApiError(
            401,
            "missing or wrong bearer token (send 'Authorization: Bearer <token>')",
            headers={"WWW-Authenticate": "Bearer"},
        )
