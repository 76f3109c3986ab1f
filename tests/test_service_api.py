"""The HTTP service through its public interface: every route, both encodings, and the
documented shape of every answer (FastAPI's TestClient, no network)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_runs import face_head, face_png, signature_png, verifier_run, writer_cnn_run

from inkface.service import ServiceConfig, create_app, load_models

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def b64(data: bytes, name: str = "image.png") -> dict:
    return {"data": base64.b64encode(data).decode(), "name": name}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("service-runs")
    return {
        "smile": face_head(root / "smile"),
        "sig": verifier_run(root / "sig"),
        "writers": writer_cnn_run(root / "writers"),
    }


@pytest.fixture(scope="module")
def client(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    gallery = tmp_path_factory.mktemp("gallery") / "g.db"
    models = load_models(runs, gallery=gallery)
    with TestClient(create_app(models, ServiceConfig(threads=2))) as test_client:
        yield test_client


def wait_ready(client: TestClient) -> dict:
    for _ in range(200):
        response = client.get("/readyz")
        if response.status_code == 200:
            return response.json()
        assert response.status_code == 503 and response.json()["ready"] is False
        import time

        time.sleep(0.05)
    raise AssertionError("service never became ready")


def test_probes_and_model_listing(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = wait_ready(client)
    assert ready["ready"] is True and ready["models"] == 3 and ready["warmup_ms"] > 0
    listing = client.get("/v1/models").json()
    by_name = {m["name"]: m for m in listing["models"]}
    assert {n: m["role"] for n, m in by_name.items()} == {
        "smile": "face-head",
        "sig": "verifier",
        "writers": "identifier",
    }
    smile = by_name["smile"]
    assert smile["classes"] == ["no_smile", "smile"] and smile["input_size"] == [128, 128]
    assert len(smile["weights_sha256"]) == 64 and smile["backend"] == "torch"
    assert by_name["sig"]["threshold"] == pytest.approx(0.6)
    assert listing["detector"] == "haar" and listing["gallery"] == "g.db"


def test_analyze_multipart_returns_every_face_with_each_head(client: TestClient) -> None:
    response = client.post("/v1/faces/analyze", files={"image": ("me.png", face_png(0))})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["width"], body["height"]) == ("me.png", 160, 160)
    (face,) = body["faces"]
    x1, y1, x2, y2 = face["box"]
    assert 0 <= x1 < x2 <= 160 and 0 <= y1 < y2 <= 160
    verdict = face["heads"]["smile"]
    assert verdict["label"] in ("no_smile", "smile")
    assert sum(verdict["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert verdict["score"] == pytest.approx(max(verdict["probabilities"].values()))
    assert body["annotated_jpeg"] is None and body["detector"] == "haar"
    assert {"decode", "detect", "classify"} <= set(body["timings_ms"])
    assert body["request_id"] == response.headers["x-request-id"]


def test_analyze_json_and_annotated_outputs(client: TestClient) -> None:
    plain = client.post("/v1/faces/analyze", json={"image": b64(face_png(1), "a.png")}).json()
    annotated = client.post(
        "/v1/faces/analyze", json={"image": b64(face_png(1), "a.png"), "annotate": True}
    ).json()
    assert annotated["faces"] == plain["faces"]
    jpeg = base64.b64decode(annotated["annotated_jpeg"])
    assert jpeg[:3] == b"\xff\xd8\xff"
    image = client.post("/v1/faces/analyze?annotate=true", files={"image": ("a.png", face_png(1))})
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content[:3] == b"\xff\xd8\xff" and image.headers["x-faces"] == "1"


def test_analyze_batch_classifies_all_images(client: TestClient) -> None:
    files = [("images", (f"{i}.png", face_png(i))) for i in range(3)]
    body = client.post("/v1/faces/analyze-batch", files=files).json()
    assert [r["name"] for r in body["results"]] == ["0.png", "1.png", "2.png"]
    assert all(len(r["faces"]) == 1 for r in body["results"])
    single = client.post("/v1/faces/analyze", files={"image": ("x.png", face_png(2))}).json()
    batch_probs = body["results"][2]["faces"][0]["heads"]["smile"]["probabilities"]
    for name, p in single["faces"][0]["heads"]["smile"]["probabilities"].items():
        assert batch_probs[name] == pytest.approx(p, abs=1e-5)
    as_json = client.post(
        "/v1/faces/analyze-batch", json={"images": [b64(face_png(0)), b64(face_png(1))]}
    )
    assert len(as_json.json()["results"]) == 2


def test_heads_can_be_chosen_and_unknown_heads_are_404(client: TestClient) -> None:
    ok = client.post("/v1/faces/analyze?heads=smile", files={"image": ("a.png", face_png(0))})
    assert ok.status_code == 200
    missing = client.post("/v1/faces/analyze?heads=mask", files={"image": ("a.png", face_png(0))})
    assert missing.status_code == 404
    assert "mask" in missing.json()["message"] and "smile" in missing.json()["message"]


def test_verify_like_the_cli(client: TestClient) -> None:
    files = [
        ("references", ("r1.png", signature_png(0))),
        ("references", ("r2.png", signature_png(1))),
        ("questioned", ("q.png", signature_png(0))),
    ]
    body = client.post("/v1/signatures/verify", files=files).json()
    assert body["model"] == "sig" and body["references"] == ["r1.png", "r2.png"]
    assert body["questioned"] == "q.png" and len(body["distances"]) == 2
    assert body["distances"][0] == pytest.approx(0.0, abs=1e-5)
    assert body["threshold"] == pytest.approx(0.6)
    assert body["decision"] == ("genuine" if body["distance"] <= 0.6 else "forged")
    as_json = client.post(
        "/v1/signatures/verify",
        json={"references": [b64(signature_png(0), "r1.png")], "questioned": b64(signature_png(0))},
    ).json()
    assert as_json["decision"] == "genuine" and as_json["distance"] == pytest.approx(0, abs=1e-5)


def test_identify_with_the_writer_cnn(client: TestClient) -> None:
    body = client.post(
        "/v1/signatures/identify",
        data={"model": "writers", "top_k": "2"},
        files={"image": ("q.png", signature_png(3))},
    ).json()
    assert body["method"] == "classifier" and body["model"] == "writers"
    assert len(body["candidates"]) == 2 and body["decision"] == body["candidates"][0]["writer"]
    assert body["decision"] in ("ann", "bob", "cid")


def test_gallery_enrol_identify_remove(client: TestClient) -> None:
    assert client.get("/v1/gallery/writers").json()["writers"] == []
    empty = client.post("/v1/signatures/identify", files={"image": ("q.png", signature_png(0))})
    assert empty.status_code == 404 and "no writers enrolled" in empty.json()["message"]
    for writer, seeds in (("ann", (0, 1)), ("bob", (5, 6))):
        files = [("images", (f"{writer}{s}.png", signature_png(s))) for s in seeds]
        response = client.post("/v1/gallery/writers", data={"writer": writer}, files=files)
        assert response.status_code == 201
        assert response.json() == {"gallery": "g.db", "writer": writer, "added": 2}
    listed = client.get("/v1/gallery/writers").json()["writers"]
    assert [(w["writer"], w["references"]) for w in listed] == [("ann", 2), ("bob", 2)]
    found = client.post("/v1/signatures/identify", files={"image": ("q.png", signature_png(5))})
    body = found.json()
    assert body["method"] == "gallery" and body["decision"] == "bob"
    best = body["candidates"][0]
    assert best["writer"] == "bob" and best["score"] == pytest.approx(1.0, abs=1e-5)
    assert best["distance"] == pytest.approx(0.0, abs=1e-5)
    removed = client.delete("/v1/gallery/writers/bob").json()
    assert removed["removed_references"] == 2
    assert client.delete("/v1/gallery/writers/bob").status_code == 404
    assert [w["writer"] for w in client.get("/v1/gallery/writers").json()["writers"]] == ["ann"]


def test_a_bad_image_leaves_the_gallery_untouched(runs: dict[str, Path], tmp_path: Path) -> None:
    gallery = tmp_path / "new.db"
    app = create_app(load_models({"sig": runs["sig"]}, gallery=gallery), ServiceConfig(threads=1))
    with TestClient(app) as client:
        files = [("images", ("ok.png", signature_png(0))), ("images", ("bad.png", b"nope"))]
        response = client.post("/v1/gallery/writers", data={"writer": "ann"}, files=files)
        assert response.status_code == 415 and "images[1]" in response.json()["message"]
        assert not gallery.exists()  # created by the first successful enrolment only
        assert client.get("/v1/gallery/writers").json()["writers"] == []


def test_metrics_count_routes_and_batches(client: TestClient) -> None:
    client.post("/v1/faces/analyze", files={"image": ("a.png", face_png(0))})
    client.get("/v1/nothing-here")
    text = client.get("/metrics").text
    assert 'inkface_requests_total{method="POST",route="/v1/faces/analyze",status="200"}' in text
    assert 'route="unmatched",status="404"' in text and "/v1/nothing-here" not in text
    assert 'inkface_request_seconds_bucket{le="0.5",route="/v1/faces/analyze"}' in text
    assert 'inkface_batch_size_count{model="smile"}' in text
    assert "inkface_faces_per_request_count" in text and "inkface_inference_in_flight" in text


def test_openapi_documents_both_encodings(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    verify = spec["paths"]["/v1/signatures/verify"]["post"]["requestBody"]["content"]
    assert set(verify) == {"multipart/form-data", "application/json"}
    assert verify["multipart/form-data"]["schema"]["properties"]["references"]["type"] == "array"
    schemas = spec["components"]["schemas"]
    assert {"VerifyRequest", "AnalyzeRequest", "ImageData", "VerifyResponse"} <= set(schemas)
    assert set(schemas["ImageData"]["required"]) == {"data"}
    assert client.get("/docs").status_code == 200


def test_no_model_of_a_kind_is_a_404_that_says_how_to_load_one(
    runs: dict[str, Path],
) -> None:
    app = create_app(load_models({"writers": runs["writers"]}), ServiceConfig(threads=1))
    with TestClient(app) as client:
        faces = client.post("/v1/faces/analyze", files={"image": ("a.png", face_png(0))})
        assert faces.status_code == 404 and "--run mask=RUN_DIR" in faces.json()["message"]
        files = [
            ("references", ("r.png", signature_png(0))),
            ("questioned", ("q.png", signature_png(0))),
        ]
        verify = client.post("/v1/signatures/verify", files=files)
        assert verify.status_code == 404 and "--run sig=RUN_DIR" in verify.json()["message"]
        gallery = client.get("/v1/gallery/writers")
        assert gallery.status_code == 404 and "--gallery" in gallery.json()["message"]
        listing = client.get("/v1/models").json()
        assert listing["gallery"] is None and len(listing["models"]) == 1


def test_the_page_and_only_its_own_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    for name in ("../app.py", "..%2Fapp.py", "index.html", "missing.js", "__init__.py"):
        assert client.get(f"/static/{name}").status_code == 404


def test_detector_name_weights_and_options(runs: dict[str, Path]) -> None:
    from inkface.core.errors import InkfaceError
    from inkface.faces.detection.detectors import detector_names

    head = {"smile": runs["smile"]}
    tuned = load_models(head, detector="haar", detector_options={"min_neighbors": 3})
    assert tuned.detector().name == "haar"
    picked = load_models(head, detector="auto")
    assert picked.detector_name in detector_names() and picked.detector_name != "auto"
    with pytest.raises(InkfaceError, match="bad option"):
        load_models(head, detector="haar", detector_options={"bogus": 1})
    with pytest.raises(InkfaceError, match="auto: takes no weights"):
        load_models(head, detector="auto", detector_options={"min_neighbors": 3})
    with pytest.raises(InkfaceError, match="unknown 'nope'"):
        load_models(head, detector="nope")
