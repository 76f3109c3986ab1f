"""Typed requests and responses: what ``/docs`` shows and what every route returns.

Image fields arrive either as multipart files or, in JSON bodies, as :class:`ImageData`
(base64, a ``data:`` URL prefix allowed). Options are validated strictly: a boolean is
``true`` or ``false`` (JSON booleans or those two words in forms and query strings,
never ``"yes"`` or ``"0"``), unknown fields are refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def parse_flag(value: Any) -> bool:
    """``true`` / ``false`` only (JSON booleans, or those words in any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("expected true or false")


Flag = Annotated[bool, BeforeValidator(parse_flag)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageData(Strict):
    """One image in a JSON body."""

    data: str = Field(description="base64 image bytes (a data: URL prefix is accepted)")
    name: str = Field("image", max_length=255, description="file name, used in messages")


# -- options (shared by JSON bodies and multipart text fields) --------------------------
class AnalyzeOptions(Strict):
    annotate: Flag = Field(False, description="also return the annotated JPEG")


class VerifyOptions(Strict):
    operating_point: str | None = Field(
        None, max_length=64, description="e.g. eer, far=0.01 (default: the run's default)"
    )
    model: str | None = Field(None, max_length=128, description="verifier name (if several)")


class IdentifyOptions(Strict):
    top_k: int = Field(5, ge=1, le=100, description="candidates to return")
    model: str | None = Field(None, max_length=128, description="identification model")


class EnrolOptions(Strict):
    writer: str = Field(min_length=1, max_length=128, description="writer to enrol")


# -- JSON request bodies ----------------------------------------------------------------
class AnalyzeRequest(AnalyzeOptions):
    image: ImageData


class AnalyzeBatchRequest(Strict):
    images: list[ImageData] = Field(min_length=1)


class VerifyRequest(VerifyOptions):
    references: list[ImageData] = Field(min_length=1)
    questioned: ImageData


class IdentifyRequest(IdentifyOptions):
    image: ImageData


class EnrolRequest(EnrolOptions):
    images: list[ImageData] = Field(min_length=1)


# -- responses --------------------------------------------------------------------------
class HeadVerdict(BaseModel):
    label: str
    score: float
    probabilities: dict[str, float]


class FaceOut(BaseModel):
    box: list[int] = Field(description="x1, y1, x2, y2 in pixels of the uploaded image")
    score: float = Field(description="detector confidence")
    heads: dict[str, HeadVerdict]


class ImageAnalysis(BaseModel):
    name: str
    width: int
    height: int
    faces: list[FaceOut]
    annotated_jpeg: str | None = Field(None, description="base64 JPEG when annotate=true")


class AnalyzeResponse(ImageAnalysis):
    detector: str
    timings_ms: dict[str, float]
    request_id: str


class AnalyzeBatchResponse(BaseModel):
    results: list[ImageAnalysis]
    detector: str
    timings_ms: dict[str, float]
    request_id: str


class VerifyResponse(BaseModel):
    """``inkface verify``'s JSON plus the model and request id (and any fields the
    verifier adds, such as the operating point's promised error rates)."""

    model_config = ConfigDict(extra="allow")

    model: str
    questioned: str
    references: list[str]
    distances: list[float]
    distance: float
    similarity: float
    threshold: float
    decision: str
    request_id: str


class Candidate(BaseModel):
    writer: str
    score: float = Field(description="similarity (gallery) or probability (classifier)")
    distance: float | None = None


class IdentifyResponse(BaseModel):
    model: str
    method: str = Field(description="gallery (enrolled writers) or classifier (closed set)")
    decision: str = Field(description="the best writer, or 'unknown' (gallery, open set)")
    threshold: float | None
    candidates: list[Candidate]
    request_id: str


class Writer(BaseModel):
    writer: str
    references: int
    enrolled: str


class WritersResponse(BaseModel):
    gallery: str
    writers: list[Writer]


class EnrolResponse(BaseModel):
    gallery: str
    writer: str
    added: int


class RemoveResponse(BaseModel):
    gallery: str
    writer: str
    removed_references: int


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())

    name: str
    role: str = Field(description="face-head, verifier, identifier or embedder")
    task: str
    architecture: str
    input_size: list[int]
    classes: list[str]
    threshold: float | None
    weights_sha256: str
    backend: str


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    detector: str
    gallery: str | None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    models: int
    warmup_ms: float | None
    detail: str
