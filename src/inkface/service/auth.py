"""The bearer-token dependency of every ``/v1`` route and ``/metrics``."""

from __future__ import annotations

from fastapi import Request

from inkface.service.limits import check_bearer
from inkface.service.state import service_of


async def require_token(request: Request) -> None:
    check_bearer(request.headers.get("authorization"), service_of(request).config.token)
