"""Reading a request's images and options, multipart or JSON, with one-line errors.

Each route states its image fields (name -> how many) and its options model; what
comes back is the same whichever way the client sent it. Errors name the field:
``questioned: not an image (...)`` (415), ``references[2]: not valid base64`` (422),
``body: malformed JSON`` (422).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
from fastapi import Request
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from inkface.core.errors import ImageError
from inkface.core.images import MAX_PIXELS, ColorMode, decode_image_bytes
from inkface.service.errors import ApiError
from inkface.service.limits import BodyTooLarge
from inkface.service.schemas import ImageData

Options = TypeVar("Options", bound=BaseModel)


@dataclass(frozen=True)
class Upload:
    """One uploaded image: the field it came in (``images[1]``), its name and bytes."""

    field: str
    name: str
    data: bytes
    max_pixels: int = MAX_PIXELS

    def decode(self, mode: ColorMode = "rgb") -> np.ndarray:
        """Pixels (grey or RGB); 415 for a non-image, 422 for a refused image (over
        ``max_pixels`` by its header, before any pixel is decoded)."""
        label = (
            f"{self.field} ({self.name})" if self.name and self.name != self.field else self.field
        )
        try:
            with Image.open(io.BytesIO(self.data)) as probe:
                width, height = probe.size  # the header alone tells an image from a non-image
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise ApiError(
                415, f"{label}: not an image (PNG, JPEG, BMP or TIFF expected)"
            ) from None
        except Image.DecompressionBombError:
            raise ApiError(422, f"{label}: image is too large") from None
        if width * height > self.max_pixels:
            raise ApiError(
                422,
                f"{label}: image is {width}x{height}, above the service's "
                f"{self.max_pixels:,}-pixel limit",
            )
        try:
            return decode_image_bytes(self.data, label, mode)
        except ImageError as exc:
            raise ApiError(422, str(exc), code="invalid_image") from None


@dataclass(frozen=True)
class ParsedRequest:
    """Images per field, the validated options, and whether the body was JSON."""

    images: dict[str, list[Upload]]
    options: Any
    is_json: bool


def _one_line_validation(exc: ValidationError) -> str:
    parts = []
    for problem in exc.errors()[:3]:
        where = ".".join(str(p) for p in problem.get("loc", ())) or "body"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts)


def _from_base64(item: ImageData, field: str) -> Upload:
    text = item.data
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, f"{field}: not valid base64") from None
    return Upload(field, item.name, data)


async def parse_request(
    request: Request,
    image_fields: dict[str, tuple[int, int]],
    options_model: type[Options],
    json_model: type[BaseModel],
    max_pixels: int = MAX_PIXELS,
) -> ParsedRequest:
    """Read ``request`` (multipart/form-data or application/json) into images and options.

    ``image_fields`` maps each image field to its (min, max) count; every image is
    later decoded only if its header declares at most ``max_pixels``.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        images, options = await _parse_json(request, image_fields, options_model, json_model)
        is_json = True
    elif content_type == "multipart/form-data":
        images, options = await _parse_form(request, image_fields, options_model)
        is_json = False
    else:
        raise ApiError(
            415,
            f"content-type: send multipart/form-data or application/json, not "
            f"{content_type or 'nothing'}",
        )
    for field, (low, high) in image_fields.items():
        count = len(images.get(field, []))
        if count < low:
            raise ApiError(422, f"{field}: required (give at least {low} image(s))")
        if count > high:
            raise ApiError(422, f"{field}: at most {high} image(s) per request, got {count}")
    limited = {
        field: [replace(upload, max_pixels=max_pixels) for upload in uploads]
        for field, uploads in images.items()
    }
    return ParsedRequest(limited, options, is_json)


async def _parse_json(
    request: Request,
    image_fields: dict[str, tuple[int, int]],
    options_model: type[Options],
    json_model: type[BaseModel],
) -> tuple[dict[str, list[Upload]], Any]:
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(422, "body: malformed JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(422, "body: expected a JSON object")
    # Count checks first: a list of 10,000 images is refused before it is validated.
    for field, (_, high) in image_fields.items():
        value = payload.get(field)
        if isinstance(value, list) and len(value) > high:
            raise ApiError(422, f"{field}: at most {high} image(s) per request, got {len(value)}")
    try:
        body = json_model.model_validate(payload)
    except ValidationError as exc:
        raise ApiError(422, _one_line_validation(exc)) from None
    images: dict[str, list[Upload]] = {}
    for field in image_fields:
        value = getattr(body, field)
        if isinstance(value, list):
            images[field] = [_from_base64(v, f"{field}[{i}]") for i, v in enumerate(value)]
        else:
            images[field] = [_from_base64(value, field)]
    options = options_model.model_validate(
        {k: v for k, v in payload.items() if k not in image_fields}
    )
    return images, options


async def _parse_form(
    request: Request, image_fields: dict[str, tuple[int, int]], options_model: type[Options]
) -> tuple[dict[str, list[Upload]], Any]:
    max_files = sum(high for _, high in image_fields.values())
    try:
        form = await request.form(max_files=max_files, max_fields=32)
    except (ApiError, BodyTooLarge):
        raise
    except Exception as exc:  # starlette raises its own parse errors for broken bodies
        detail = str(getattr(exc, "detail", exc))
        if "Too many files" in detail:
            names = ", ".join(image_fields)
            raise ApiError(
                422, f"{names}: too many files (at most {max_files} in one request)"
            ) from None
        raise ApiError(422, f"body: malformed multipart form ({detail})") from None
    images: dict[str, list[Upload]] = {}
    texts: dict[str, str] = {}
    for key, value in form.multi_items():
        if key in image_fields:
            if not isinstance(value, UploadFile):
                raise ApiError(422, f"{key}: expected a file upload")
            many = image_fields[key][1] > 1
            index = len(images.get(key, []))
            label = f"{key}[{index}]" if many else key
            images.setdefault(key, []).append(
                Upload(label, value.filename or label, await value.read())
            )
        elif isinstance(value, UploadFile):
            raise ApiError(422, f"{key}: unexpected file field")
        elif key in texts:
            raise ApiError(422, f"{key}: given more than once")
        else:
            texts[key] = value
    await form.close()
    try:
        options = options_model.model_validate(texts)
    except ValidationError as exc:
        raise ApiError(422, _one_line_validation(exc)) from None
    return images, options
