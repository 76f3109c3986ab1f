"""The service's limits and errors: every refusal is the documented status with one
line naming the field, a request id, and never a traceback."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from service_runs import (
    blank_png,
    face_head,
    face_png,
    huge_png_header,
    signature_png,
    verifier_run,
)

from inkface.service import ServiceConfig, create_app, load_models
from inkface.service.limits import AdmissionGate, check_bearer

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("limit-runs")
    return {"smile": face_head(root / "smile"), "sig": verifier_run(root / "sig")}


@pytest.fixture(scope="module")
def client(runs: dict[str, Path]) -> Iterator[TestClient]:
    config = ServiceConfig(threads=1, max_body_bytes=64 * 1024, max_images=2, max_references=2)
    with TestClient(create_app(load_models(runs), config)) as test_client:
        yield test_client


def assert_error(response: httpx.Response, status: int, *fragments: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "request_id"}
    assert body["request_id"] == response.headers["x-request-id"] and body["request_id"]
    assert "\n" not in body["message"] and "Traceback" not in body["message"]
    for fragment in fragments:
        assert fragment in body["message"], body["message"]
    return body


ANALYZE = "/v1/faces/analyze"


def test_declared_body_over_the_limit_is_413_before_reading(client: TestClient) -> None:
    response = client.post(ANALYZE, files={"image": ("big.png", b"\0" * 70_000)})
    assert_error(response, 413, "65,536-byte limit")


def test_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 4096

    response = client.post(ANALYZE, content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413)


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        (b"this is text", 415, "image (notes.txt): not an image"),
        (b"", 415, "not an image"),
        (huge_png_header(), 422, "image (notes.txt)"),
        (face_png(0)[:200], 422, "image (notes.txt)"),
    ],
    ids=["text", "empty", "pixel-bomb-header", "truncated-png"],
)
def test_bad_images_name_the_field(
    client: TestClient, payload: bytes, status: int, fragment: str
) -> None:
    response = client.post(ANALYZE, files={"image": ("notes.txt", payload)})
    assert_error(response, status, fragment)


def test_the_pixel_limit_is_read_from_the_header(runs: dict[str, Path]) -> None:
    config = ServiceConfig(threads=1, max_pixels=1000)
    with TestClient(create_app(load_models({"smile": runs["smile"]}), config)) as small:
        too_big = small.post(ANALYZE, files={"image": ("wide.png", blank_png(50, 30))})
        assert_error(too_big, 422, "image (wide.png): image is 50x30", "1,000-pixel limit")
        fits = small.post(ANALYZE, files={"image": ("ok.png", blank_png(40, 25))})
        assert fits.status_code == 200 and fits.json()["faces"] == []


def test_sixteen_bit_images_are_refused_with_a_reason(client: TestClient) -> None:
    import cv2

    ok, data = cv2.imencode(".png", np.full((20, 20), 40000, np.uint16))
    assert ok
    response = client.post(ANALYZE, files={"image": ("deep.png", data.tobytes())})
    assert_error(response, 422, "image (deep.png)", "8 bits")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "body: malformed JSON"),
        (b"[1, 2]", "body: expected a JSON object"),
        (b'{"image": {"data": "***"}}', "image: not valid base64"),
        (b'{"image": {"data": 5}}', "image.data"),
        (b'{"image": "abc"}', "image"),
        (
            b'{"image": {"data": ""}, "annotate": "yes"}',
            "annotate: Value error, expected true or false",
        ),
        (b'{"image": {"data": ""}, "extra": 1}', "extra: Extra inputs are not permitted"),
        (b"{}", "image: Field required"),
    ],
    ids=[
        "malformed",
        "not-object",
        "bad-base64",
        "data-type",
        "image-type",
        "flag",
        "extra",
        "missing",
    ],
)
def test_malformed_json_is_422_naming_the_field(
    client: TestClient, body: bytes, fragment: str
) -> None:
    response = client.post(ANALYZE, content=body, headers={"content-type": "application/json"})
    assert_error(response, 422, fragment)


def test_booleans_are_true_or_false_only(client: TestClient) -> None:
    files = {"image": ("a.png", face_png(0))}
    for word in ("yes", "1", "on", "False "):
        assert_error(client.post(f"{ANALYZE}?annotate={word}", files=files), 422, "annotate")
    as_form = client.post(ANALYZE, data={"annotate": "no"}, files=files)
    assert_error(as_form, 422, "annotate", "expected true or false")
    assert client.post(f"{ANALYZE}?annotate=false", files=files).status_code == 200


def test_form_fields_are_typed_and_counted(client: TestClient) -> None:
    sig = signature_png(0)
    too_many = [("references", (f"r{i}.png", sig)) for i in range(3)] + [
        ("questioned", ("q.png", sig))
    ]
    assert_error(
        client.post("/v1/signatures/verify", files=too_many), 422, "too many files (at most 3"
    )
    missing = client.post("/v1/signatures/verify", files=[("references", ("r.png", sig))])
    assert_error(missing, 422, "questioned: required")
    unknown = client.post(
        "/v1/signatures/verify",
        data={"colour": "red"},
        files=[("references", ("r.png", sig)), ("questioned", ("q.png", sig))],
    )
    assert_error(unknown, 422, "colour: Extra inputs are not permitted")
    batch = [("images", (f"{i}.png", blank_png())) for i in range(3)]
    assert_error(client.post("/v1/faces/analyze-batch", files=batch), 422, "images: too many files")
    wrong_type = client.post(ANALYZE, content=b"abc", headers={"content-type": "text/plain"})
    assert_error(wrong_type, 415, "content-type")
    model = client.post(
        "/v1/signatures/verify",
        data={"model": "nope"},
        files=[("references", ("r.png", sig)), ("questioned", ("q.png", sig))],
    )
    assert_error(model, 404, "no signature verifier named 'nope'", "sig")


def test_json_image_lists_are_counted_before_validation(client: TestClient) -> None:
    images = [{"data": base64.b64encode(blank_png()).decode()}] * 3
    response = client.post("/v1/faces/analyze-batch", json={"images": images})
    assert_error(response, 422, "images: at most 2")


def test_unhandled_errors_are_500_with_a_request_id_and_no_traceback(
    runs: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    models = load_models({"sig": runs["sig"]})

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    models.models["sig"].predictor.verify = broken  # type: ignore[method-assign]
    sig = signature_png(0)
    with TestClient(create_app(models, ServiceConfig(threads=1))) as client:
        response = client.post(
            "/v1/signatures/verify",
            files=[("references", ("r.png", sig)), ("questioned", ("q.png", sig))],
            headers={"X-Request-ID": "trace-me-42"},
        )
    body = assert_error(response, 500, "internal server error")
    assert body["request_id"] == "trace-me-42" and "secret" not in response.text
    logged = [r for r in caplog.records if getattr(r, "request_id", "") == "trace-me-42"]
    assert any(r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in logged)


def test_bearer_token(runs: dict[str, Path]) -> None:
    config = ServiceConfig(threads=1, token=TOKEN)
    with TestClient(create_app(load_models({"smile": runs["smile"]}), config)) as client:
        assert client.get("/healthz").status_code == 200  # probes stay open
        assert_error(client.get("/v1/models"), 401, "bearer token")
        wrong = client.get("/v1/models", headers={"Authorization": "Bearer nope"})
        assert_error(wrong, 401)
        assert wrong.headers["www-authenticate"] == "Bearer"
        assert_error(client.get("/metrics", headers={"Authorization": TOKEN}), 401)
        ok = client.get("/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200


def test_constant_time_compare_refuses_prefixes() -> None:
    check_bearer("Bearer abcdefgh", "abcdefgh")
    check_bearer(None, None)
    for header in ("Bearer abcdefg", "Bearer abcdefghi", "Basic abcdefgh", "", None):
        with pytest.raises(Exception, match="bearer token"):
            check_bearer(header, "abcdefgh")


def test_cors_is_off_unless_origins_are_given(runs: dict[str, Path]) -> None:
    origin = {"Origin": "https://app.example"}
    models = load_models({"smile": runs["smile"]})
    with TestClient(create_app(models, ServiceConfig(threads=1))) as client:
        assert "access-control-allow-origin" not in client.get("/healthz", headers=origin).headers
    config = ServiceConfig(threads=1, cors_origins=("https://app.example",))
    with TestClient(create_app(models, config)) as client:
        headers = client.get("/healthz", headers=origin).headers
        assert headers["access-control-allow-origin"] == "https://app.example"


def test_admission_gate_is_bounded() -> None:
    async def scenario() -> None:
        gate = AdmissionGate(limit=2, retry_after_s=3)
        async with gate.admit(), gate.admit():
            assert gate.depth == 2
            with pytest.raises(Exception) as refused:
                async with gate.admit():
                    pass
            assert refused.value.status == 503
            assert refused.value.headers == {"Retry-After": "3"}
        assert gate.depth == 0

    asyncio.run(scenario())


def test_more_requests_than_the_limit_get_503_with_retry_after(runs: dict[str, Path]) -> None:
    models = load_models({"smile": runs["smile"]})
    head = models.models["smile"].predictor
    release = threading.Event()
    real = head.predict_proba

    def slow(crops: list) -> np.ndarray:
        release.wait(10)
        return real(crops)

    head.predict_proba = slow  # type: ignore[method-assign]
    app = create_app(models, ServiceConfig(threads=2, max_pending=2, batch_wait_ms=0))

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            files = {"image": ("a.png", face_png(0))}
            first = [asyncio.create_task(client.post(ANALYZE, files=files)) for _ in range(2)]
            while app.state.service.gate.depth < 2:
                await asyncio.sleep(0.01)
            refused = await client.post(ANALYZE, files=files)
            release.set()
            return [refused, *await asyncio.gather(*first)]

    refused, *served = asyncio.run(scenario())
    assert_error(refused, 503, "server busy")
    assert refused.headers["retry-after"] == "1"
    assert [r.status_code for r in served] == [200, 200]
    app.state.service.executor.shutdown(wait=True)
