"""OpenAPI for routes that read multipart *or* JSON bodies.

FastAPI documents a body it parses itself; these routes parse theirs (to accept both
encodings with one set of limits), so each states its two encodings here and the JSON
models are added to the schema's components.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

BINARY = {"type": "string", "format": "binary"}
MANY_BINARY = {"type": "array", "items": BINARY}


def body_spec(
    json_model: type[BaseModel], form: dict[str, dict[str, Any]], required: list[str]
) -> dict[str, Any]:
    """``openapi_extra`` of a route: the JSON model and the multipart fields."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": form, "required": required}
                },
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{json_model.__name__}"}
                },
            },
        }
    }


def install_openapi(app: FastAPI, request_models: Sequence[type[BaseModel]]) -> None:
    """Make ``app.openapi()`` include the JSON request models."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in request_models:
                spec = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(spec.pop("$defs", {}))
                components[model.__name__] = spec
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
