"""The one inference interface: ``inkface.load_predictor(run).predict(batch)`` for every
kind of run, with JSON-ready results and the same answers on PyTorch and ONNX Runtime."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from verification_policies import handmade_policy

import inkface
from inkface.core.errors import InkfaceError
from inkface.faces.classification.classifier import FaceClassifier, init_untrained_classifier
from inkface.inference import PREDICTOR_LOADERS, load_predictor
from inkface.models import get_model
from inkface.models.run import RunMeta, save_run_model
from inkface.runtime.export import export_onnx
from inkface.runtime.predictor import Predictor
from inkface.signatures.identification.gallery import open_gallery
from inkface.signatures.identification.predictor import GalleryIdentifier, WriterClassifier
from inkface.signatures.verification.embedder import Embedder, load_embedder
from inkface.signatures.verification.verifier import Verifier

SIGNATURE_SIZE = (64, 80)
DESCRIBE_KEYS = {"task", "architecture", "input_size", "classes", "threshold", "backend"}


def _signature_run(folder: Path, architecture: str, task: str, **extra: object) -> Path:
    torch.manual_seed(0)
    kwargs: dict = {}
    size = SIGNATURE_SIZE
    if architecture == "writer_cnn":
        kwargs = {"num_classes": 3, "conv_layers": 2}
        size = (128, 128)
    elif architecture == "siamese_pixels":
        size = (128, 128)
    threshold = 0.6 if task == "signature-verification" else None
    meta = RunMeta(
        architecture, kwargs, size, {"style": "cedar"}, threshold, task=task, extra=dict(extra)
    )
    save_run_model(folder, get_model(architecture, **kwargs), meta)
    return folder


@pytest.fixture(scope="module")
def signatures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from inkface.signatures.synth.generator import generate_signatures

    root = tmp_path_factory.mktemp("sigs")
    generate_signatures(
        root, writers=3, genuine=3, forgeries=0, layout="folder", seed=4, progress=False
    )
    return sorted(root.rglob("*.png"))


@pytest.fixture(scope="module")
def face_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("face") / "face.png"
    cv2.imwrite(str(path), rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))
    return path


def _json_ready(results: list) -> list[dict]:
    rows = [r.as_dict() for r in results]
    json.dumps(rows)  # raises on anything that is not plain JSON
    return rows


def test_the_package_exports_load_predictor() -> None:
    assert inkface.load_predictor is load_predictor
    assert set(PREDICTOR_LOADERS) == {
        "signature-verification",
        "signature-identification-cnn",
        "signature-identification-siamese",
        "face-classification",
    }


def test_face_classifier_predicts_paths_and_arrays(tmp_path: Path, face_image: Path) -> None:
    run = init_untrained_classifier(tmp_path / "smile", "smile_cnn")
    predictor = load_predictor(run)
    assert isinstance(predictor, FaceClassifier) and isinstance(predictor, Predictor)
    array = cv2.imread(str(face_image))
    rows = _json_ready(predictor.predict([face_image, array]))
    assert len(rows) == 2 and rows[0] == rows[1]  # a path and its decoded BGR array agree
    assert set(rows[0]["probabilities"]) == set(predictor.class_names) == {"no_smile", "smile"}
    assert sum(rows[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert rows[0]["label"] == max(rows[0]["probabilities"], key=rows[0]["probabilities"].get)
    assert predictor.predict([]) == []
    assert set(predictor.describe()) >= DESCRIBE_KEYS


def test_torch_and_onnx_predictors_agree(tmp_path: Path, face_image: Path) -> None:
    run = init_untrained_classifier(tmp_path / "smile", "smile_cnn")
    export_onnx(run, progress=False)
    on_torch = load_predictor(run, backend="torch")
    on_onnx = load_predictor(run)  # auto: the exported model
    assert on_torch.describe()["backend"] == "torch" and on_onnx.describe()["backend"] == "onnx"
    assert on_torch.weights_sha256 == on_onnx.weights_sha256 != ""
    a = on_torch.predict([face_image])[0].probabilities
    b = on_onnx.predict([face_image])[0].probabilities
    assert a == pytest.approx(b, abs=1e-4)


def test_verifier_predicts_cases(tmp_path: Path, signatures: list[Path]) -> None:
    run = _signature_run(tmp_path / "ds", "deepsign", "signature-verification")
    predictor = load_predictor(run)
    assert isinstance(predictor, Verifier)
    cases = [
        ([signatures[0], signatures[1]], signatures[2]),
        {"references": signatures[3], "questioned": signatures[4]},
    ]
    rows = _json_ready(predictor.predict(cases))
    assert [len(r["distances"]) for r in rows] == [2, 1]
    assert all(r["decision"] in ("genuine", "forged") and r["threshold"] == 0.6 for r in rows)
    direct = predictor.verify([signatures[0], signatures[1]], signatures[2])
    assert rows[0] == direct.as_dict()
    with pytest.raises(InkfaceError, match="questioned"):
        predictor.predict([{"references": [signatures[0]]}])
    with pytest.raises(InkfaceError, match="verification case"):
        predictor.predict([signatures[0]])
    # A run from before operating points: its one threshold, named, with a note.
    assert rows[0]["operating_point"] == "accuracy" and rows[0]["p_genuine"] is None
    assert "before operating points" in rows[0]["notes"][0]


def test_verifier_decides_at_an_operating_point(tmp_path: Path, signatures: list[Path]) -> None:
    run = _signature_run(
        tmp_path / "ds", "deepsign", "signature-verification", verification=handmade_policy()
    )
    predictor = load_predictor(run)
    assert isinstance(predictor, Verifier)
    refs, questioned = signatures[:3], signatures[3]
    (row,) = _json_ready([predictor.verify(refs, questioned)])
    assert (row["operating_point"], row["k"], row["k_threshold"], row["rule"]) == (
        "eer",
        3,
        3,
        "mean",
    )
    assert row["threshold"] == 0.8 and row["far"] == 0.03 and row["frr"] == 0.1
    assert row["decision"] == ("genuine" if row["distance"] <= 0.8 else "forged")
    assert row["distance"] == pytest.approx(np.mean(row["distances"]))
    assert 0 < row["p_genuine"] < 1 and row["notes"] == []
    strict = predictor.verify(refs[:1], questioned, operating_point="FAR=1%")
    assert (strict.operating_point, strict.threshold, strict.k) == ("far=0.01", 0.3, 1)
    more = predictor.verify([*refs, signatures[4]], questioned)
    assert more.k == 4 and more.k_threshold == 3 and "up to 3 references" in more.notes[0]
    with pytest.raises(InkfaceError, match=r"available: accuracy, eer, far=0\.01"):
        predictor.verify(refs, questioned, operating_point="frr=0.05")
    case = {"references": refs, "questioned": questioned, "operating_point": "accuracy"}
    assert predictor.predict([case])[0].threshold == 0.6
    described = predictor.describe()
    assert set(described) >= DESCRIBE_KEYS | {"operating_points", "default_operating_point"}
    assert described["operating_points"]["far=0.01"] == {"threshold": 0.3, "far": 0.01, "frr": 0.1}
    meta = json.loads((run / "meta.json").read_text())
    meta["verification"]["combination"]["rule"] = "vote"
    (run / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InkfaceError, match="malformed verification policy"):
        load_predictor(run)


def test_writer_cnn_ranks_its_writers(tmp_path: Path, signatures: list[Path]) -> None:
    run = _signature_run(
        tmp_path / "cnn",
        "writer_cnn",
        "signature-identification-cnn",
        class_names=["ann", "bob", "cy"],
    )
    predictor = load_predictor(run)
    assert isinstance(predictor, WriterClassifier)
    rows = _json_ready(predictor.predict(signatures[:2]))
    assert [c["writer"] for c in rows[0]["candidates"]] != []
    assert {c["writer"] for c in rows[0]["candidates"]} == {"ann", "bob", "cy"}
    assert rows[0]["writer"] == rows[0]["candidates"][0]["writer"]
    probabilities = [c["probability"] for c in rows[0]["candidates"]]
    assert probabilities == sorted(probabilities, reverse=True)


def test_siamese_run_embeds_and_identifies_with_a_gallery(
    tmp_path: Path, signatures: list[Path]
) -> None:
    run = _signature_run(
        tmp_path / "px",
        "siamese_pixels",
        "signature-identification-siamese",
        similarity_head={"offset": 2.0, "scale": 0.5},
        similarity_threshold=0.3,
    )
    embedder = load_predictor(run)
    assert isinstance(embedder, Embedder)
    rows = _json_ready(embedder.predict(signatures[:2]))
    assert len(rows[0]["embedding"]) == embedder.embed(signatures[:1]).shape[1]
    gallery_file = tmp_path / "g.db"
    with pytest.raises(InkfaceError, match="not found"):
        load_predictor(run, gallery=gallery_file)
    with open_gallery(gallery_file, load_embedder(run)) as gallery:
        gallery.enrol("first", signatures[:3])
        gallery.enrol("second", signatures[3:6])
    identifier = load_predictor(run, gallery=gallery_file)
    assert isinstance(identifier, GalleryIdentifier)
    (row,) = _json_ready(identifier.predict([signatures[0]]))
    assert row["candidates"][0]["writer"] == "first"  # an enrolled image matches itself
    assert identifier.describe()["gallery"] == str(gallery_file)


def test_bad_arguments_and_unknown_tasks(tmp_path: Path) -> None:
    run = init_untrained_classifier(tmp_path / "r", "smile_cnn")
    with pytest.raises(InkfaceError, match="backend"):
        load_predictor(run, backend="tensorrt")  # type: ignore[arg-type]
    with pytest.raises(InkfaceError, match="threads"):
        load_predictor(run, threads=0)
    meta = json.loads((run / "meta.json").read_text())
    (run / "meta.json").write_text(json.dumps({**meta, "task": "palm-reading"}))
    with pytest.raises(InkfaceError, match="no predictor for task 'palm-reading'"):
        load_predictor(run)
    with pytest.raises(InkfaceError, match="not found"):
        load_predictor(tmp_path / "nowhere")
