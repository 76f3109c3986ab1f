"""ONNX export, parity with PyTorch for every registered model, int8 quantisation and the
ONNX Runtime backend."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from inkface.cli import export as export_cli
from inkface.core.errors import InkfaceError
from inkface.faces.classification.classifier import init_untrained_classifier, load_face_classifier
from inkface.inference import load_predictor
from inkface.models import get_model, list_models, model_info
from inkface.models.run import RunMeta, load_run_model, save_run_model
from inkface.runtime.backends import load_backend
from inkface.runtime.export import export_onnx
from inkface.runtime.onnx_session import OnnxBackend
from inkface.signatures.verification.embedder import load_embedder
from inkface.signatures.verification.verifier import load_verifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SIGNATURE_SIZE = (64, 80)  # DeepSign is fully convolutional: a small input keeps tests fast
# Exports that take 6 s (Inception V3 at 299 x 299) and 25 s (VGG16, a
# 0.5 GB file) on one core, against 0.2-1.6 s for every other model: CI only.
SLOW_EXPORT = {"inception_v3", "vgg16"}
# The task recorded in a test run's meta.json; export reads only the architecture, the
# input size and ``preprocessing.in_channels``.
TASK_OF_KIND = {"embedding": "signature-verification", "classifier": "face-classification"}


def _signature_run(folder: Path, architecture: str, task: str, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    extra = None
    if architecture == "writer_cnn":
        extra = {"class_names": [f"writer_{i:02d}" for i in range(1, 5)]}
        model = get_model(architecture, num_classes=4)
        kwargs, size = {"num_classes": 4}, model_info(architecture).input_size
    else:
        model, kwargs, size = get_model(architecture), {}, SIGNATURE_SIZE
    meta = RunMeta(architecture, kwargs, size, {"style": "cedar"}, 0.6, task=task, extra=extra)
    save_run_model(folder, model, meta)
    return folder


@pytest.fixture(scope="module")
def signatures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from inkface.signatures.synth.generator import generate_signatures

    root = tmp_path_factory.mktemp("cedar")
    # workers=1: no fork after this process has used OpenCV's thread pool (see the report)
    generate_signatures(root, writers=3, genuine=4, forgeries=2, seed=1, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GENKI-layout smile faces plus the same images sorted into class folders."""
    from inkface.faces.synth.generator import generate_faces

    root = tmp_path_factory.mktemp("faces")
    generate_faces(root / "genki", "smile", 24, seed=2, workers=1, progress=False)
    labels = (root / "genki" / "labels.txt").read_text().split("\n")
    for i, line in enumerate(line for line in labels if line.strip()):
        name = ("no_smile", "smile")[int(line.split()[0])]
        (root / "classes" / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(root / "genki" / "files" / f"file{i + 1:04d}.jpg", root / "classes" / name)
    return root


@pytest.fixture(scope="module")
def deepsign_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = _signature_run(tmp_path_factory.mktemp("ds"), "deepsign", "signature-verification")
    export_onnx(run, progress=False)
    return run


def _make_run(kind: str, folder: Path) -> Path:
    if kind in ("smile_cnn", "resnet20"):
        return init_untrained_classifier(folder, kind)
    if kind == "writer_cnn":
        return _signature_run(folder, "writer_cnn", "signature-identification-cnn")
    return _signature_run(folder, "deepsign", "signature-verification")


@pytest.mark.parametrize("kind", ["smile_cnn", "writer_cnn", "deepsign"])  # one per task
def test_export_matches_pytorch_in_one_file_with_metadata(kind: str, tmp_path: Path) -> None:
    run = _make_run(kind, tmp_path / "run")
    assert load_backend(run).name == "torch"
    result = export_onnx(run, progress=False)
    assert result.parity_max_abs_diff <= 1e-4 and result.opset == 17
    # An independent check: another batch size and seed through load_backend.
    model, meta = load_run_model(run)
    backend = load_backend(run)
    assert backend.name == "onnx"
    x = torch.rand(5, *result.input_shape[1:], generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        expected = model(x).numpy()
    assert np.abs(backend(x.numpy()) - expected).max() <= 1e-4
    # One self-contained file; nothing else left behind.
    names = sorted(p.name for p in run.iterdir())
    assert names == ["export.json", "meta.json", "model.onnx", "model.pt"]
    proto = onnx.load(str(run / "model.onnx"), load_external_data=False)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["inkface_format"] == "1"
    assert json.loads(props["inkface_meta"]) == json.loads((run / "meta.json").read_text())
    assert backend.meta["architecture"] == meta.architecture
    saved = json.loads((run / "export.json").read_text())
    assert saved["parity_max_abs_diff"] == result.parity_max_abs_diff
    assert saved["onnx_bytes"] == (run / "model.onnx").stat().st_size
    assert saved["int8_path"] is None


def _calibrate_batchnorm(model: nn.Module, shape: tuple[int, int, int]) -> None:
    """Give every BatchNorm the statistics of the activations it sees, as training would.

    At initialisation the deep ImageNet-style models return logits of about 1e-10 in eval
    mode (BatchNorm assumes unit variance that the activations do not have), and a 1e-4
    parity check on such outputs would pass for any graph. Cumulative averages over two
    random batches make the outputs O(0.01..1) and input-dependent.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    model.eval()
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average
        layer.train()
    with torch.no_grad():
        for seed in (1, 2):
            model(torch.rand(4, *shape, generator=torch.Generator().manual_seed(seed)))
    model.eval()


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_EXPORT else n for n in list_models()],
)
def test_every_registered_model_exports_with_parity(name: str, tmp_path: Path) -> None:
    spec = model_info(name)
    shape = (spec.in_channels, *spec.input_size)
    torch.manual_seed(0)
    model = get_model(name)
    _calibrate_batchnorm(model, shape)
    meta = RunMeta(
        name, {}, spec.input_size, {"in_channels": spec.in_channels}, None, TASK_OF_KIND[spec.kind]
    )
    save_run_model(tmp_path, model, meta)
    result = export_onnx(tmp_path, progress=False)
    assert result.parity_max_abs_diff <= 1e-4
    assert result.input_shape == ["batch", *shape]
    # An independent check: ONNX Runtime itself, a batch of 4 (export traced 2, checked 3).
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        str(tmp_path / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        expected = model(x).numpy()
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert got.shape == expected.shape == (4, spec.output_dim)
    assert np.abs(got - expected).max() <= 1e-4
    assert np.abs(expected[0] - expected[1]).max() > 1e-4  # the check can fail


def test_face_classifier_uses_onnx_runtime_with_threads(tmp_path: Path) -> None:
    run = init_untrained_classifier(tmp_path / "run", "smile_cnn")
    crops = [np.full((90, 80, 3), v, np.uint8) for v in (30, 120, 220)]
    torch_probs = load_face_classifier(run).predict_proba(crops)
    export_onnx(run, progress=False)
    classifier = load_face_classifier(run, threads=1)
    assert classifier.backend.name == "onnx"
    assert np.abs(classifier.predict_proba(crops) - torch_probs).max() <= 1e-4
    assert load_face_classifier(run, prefer="torch").backend.name == "torch"


def test_embedder_and_verify_through_onnx_match_torch(deepsign_run: Path, signatures: Path) -> None:
    images = sorted((signatures / "full_org").glob("*.png"))[:5]
    on_ort = load_embedder(deepsign_run, threads=1)
    on_torch = load_embedder(deepsign_run, prefer="torch")
    assert on_ort.backend.name == "onnx" and on_torch.backend.name == "torch"
    a, b = on_ort.embed(images), on_torch.embed(images)
    assert a.shape == (5, 128) and np.abs(a - b).max() <= 1e-4
    # Same weights, same identity: a gallery built on one backend is searchable on the other.
    assert on_ort.identity == on_torch.identity
    result = load_verifier(deepsign_run).verify(images[:3], images[3])
    expected = np.linalg.norm(b[:3] - b[3], axis=1).mean()
    assert result.distance == pytest.approx(expected, abs=1e-4)


def test_int8_classifier_reports_accuracy_change(tmp_path: Path, faces: Path) -> None:
    run = init_untrained_classifier(tmp_path / "run", "smile_cnn")
    result = export_onnx(
        run,
        int8=True,
        calibration=faces / "genki" / "files",
        validation=faces / "classes",
        progress=False,
        predictor=load_predictor(run, backend="torch"),
    )
    assert (run / "model.int8.onnx").is_file() and result.int8_path == "model.int8.onnx"
    assert result.int8_bytes is not None and result.int8_bytes < 0.5 * result.onnx_bytes
    report = result.quantization
    assert report is not None and report["calibration"]["images"] == 24
    comparison = report["comparison"]
    assert comparison["images"] == 24 and comparison["labelled"]
    assert comparison["agreement"] >= 0.8
    change = comparison["int8_accuracy"] - comparison["fp32_accuracy"]
    assert comparison["accuracy_change"] == pytest.approx(change)
    assert json.loads((run / "export.json").read_text())["quantization"] == report
    # fp32 stays the default; int8 is chosen explicitly and carries the run's metadata.
    assert load_backend(run).precision == "fp32"
    int8 = load_backend(run, precision="int8")
    assert int8.precision == "int8" and int8.meta["task"] == "face-classification"
    with pytest.raises(InkfaceError, match="int8"):
        load_backend(run, prefer="torch", precision="int8")


@pytest.mark.skipif(os.name != "posix", reason="byte file names are a POSIX thing")
def test_int8_calibration_reads_non_utf8_file_names(tmp_path: Path, faces: Path) -> None:
    # Such a name reaches Python as a lone surrogate ("\udcff.jpg"), which OpenCV's
    # binding cannot take; images go through the input gate and Pillow, so it just works,
    # and an unreadable one is a one-line error naming it.
    folder = os.fsencode(tmp_path / "calibration")
    os.mkdir(folder)
    sources = sorted((faces / "genki" / "files").iterdir())[:3]
    for name, source in zip([b"\xff.jpg", b"a\xfe\xfd.jpg", b"ok.jpg"], sources, strict=True):
        with open(os.path.join(folder, name), "wb") as out:
            out.write(source.read_bytes())
    empty = os.path.join(folder, b"\xfc.png")
    open(empty, "wb").close()
    run = init_untrained_classifier(tmp_path / "run", "smile_cnn")
    calibration = Path(os.fsdecode(folder))
    predictor = load_predictor(run, backend="torch")
    with pytest.raises(InkfaceError, match=r"\.png: not a readable image") as caught:
        export_onnx(run, int8=True, calibration=calibration, progress=False, predictor=predictor)
    assert "\udcfc.png" in str(caught.value) and "\n" not in str(caught.value)
    os.unlink(empty)
    result = export_onnx(
        run,
        int8=True,
        calibration=calibration,
        validation=calibration,
        progress=False,
        predictor=predictor,
    )
    report = result.quantization
    assert report is not None and report["calibration"]["images"] == 3
    assert report["comparison"]["images"] == 3 and (run / "model.int8.onnx").is_file()


@pytest.mark.skipif(os.name != "posix", reason="byte file names are a POSIX thing")
def test_onnx_models_in_a_non_utf8_folder(tmp_path: Path, faces: Path) -> None:
    # ONNX Runtime's binding takes only UTF-8 paths (a lone surrogate was a TypeError
    # traceback); the backend reads the file itself and quantisation works on copies.
    from inkface.runtime.quantize import compare_precisions, quantize_int8

    run = init_untrained_classifier(tmp_path / "run", "smile_cnn")
    export_onnx(run, progress=False)
    moved = Path(os.fsdecode(os.fsencode(tmp_path) + b"/run\xff"))
    shutil.copytree(run, moved)
    batch = np.random.default_rng(0).random((2, 3, 128, 128), dtype=np.float32)
    backend = load_backend(moved)
    assert backend.name == "onnx" and backend.path.parent == moved
    np.testing.assert_allclose(backend(batch), OnnxBackend(run / "model.onnx")(batch), atol=1e-6)
    predictor = load_predictor(run, backend="torch")
    files = faces / "genki" / "files"
    report = quantize_int8(
        moved / "model.onnx", moved / "model.int8.onnx", predictor.prepare, files
    )
    assert report["calibration"]["images"] == 24 and (moved / "model.int8.onnx").is_file()
    compared = compare_precisions(
        moved / "model.onnx", moved / "model.int8.onnx", predictor, faces / "classes"
    )
    assert compared["images"] == 24 and compared["agreement"] >= 0.8
    (moved / "model.onnx").unlink()  # exported afresh there: torch and onnx write bytes
    export_onnx(moved, progress=False)
    np.testing.assert_allclose(load_backend(moved)(batch), backend(batch), atol=1e-6)
    (moved / "model.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(InkfaceError, match="cannot load ONNX model") as caught:
        OnnxBackend(moved / "model.onnx")
    assert "run\udcff" in str(caught.value) and "\n" not in str(caught.value)


def test_int8_embedder_stays_close(tmp_path: Path, signatures: Path) -> None:
    run = _signature_run(tmp_path / "run", "deepsign", "signature-verification")
    result = export_onnx(
        run,
        int8=True,
        calibration=signatures / "full_org",
        validation=signatures,
        progress=False,
        predictor=load_predictor(run, backend="torch"),
    )
    comparison = result.quantization["comparison"]  # type: ignore[index]
    assert comparison["images"] == 18 and comparison["cosine_mean"] > 0.98
    assert comparison["pairs"] == 3 * (6 + 8)  # C(4, 2) genuine + 4 x 2 forged per writer
    assert 0.0 <= comparison["int8_pair_accuracy"] <= 1.0
    int8 = load_embedder(run, precision="int8")
    assert int8.identity["precision"] == "int8"
    assert int8.identity != load_embedder(run).identity


def test_missing_or_empty_calibration_folder(tmp_path: Path) -> None:
    run = init_untrained_classifier(tmp_path / "run", "resnet20")
    predictor = load_predictor(run, backend="torch")
    with pytest.raises(InkfaceError, match="nowhere"):
        export_onnx(
            run, int8=True, calibration=tmp_path / "nowhere", progress=False, predictor=predictor
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(InkfaceError, match=r"empty.*no images"):
        export_onnx(
            run, int8=True, calibration=tmp_path / "empty", progress=False, predictor=predictor
        )
    with pytest.raises(InkfaceError, match="predictor"):  # calibration needs its preprocessing
        export_onnx(run, int8=True, calibration=tmp_path / "empty", progress=False)
    with pytest.raises(InkfaceError, match="calibration"):
        export_onnx(run, int8=True, progress=False)
    with pytest.raises(InkfaceError, match="opset"):
        export_onnx(run, opset=7, progress=False)
    assert not (run / "model.onnx").exists()


def test_corrupt_or_stale_onnx_is_refused(tmp_path: Path) -> None:
    run = init_untrained_classifier(tmp_path / "run", "resnet20")
    (run / "model.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(InkfaceError, match=r"model\.onnx: cannot load ONNX model"):
        load_backend(run)
    with pytest.raises(InkfaceError, match=r"model\.onnx: cannot load ONNX model"):
        OnnxBackend(run / "model.onnx")
    export_onnx(run, progress=False)
    init_untrained_classifier(run, "resnet20", seed=1)  # retrained after the export
    with pytest.raises(InkfaceError, match="other weights"):
        load_backend(run)
    assert load_backend(run, prefer="torch").name == "torch"


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    export_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_prints_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = init_untrained_classifier(tmp_path / "run", "resnet20")
    assert _cli(["export", "--run", str(run), "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((run / "export.json").read_text())
    assert printed["parity_max_abs_diff"] <= 1e-4
    with pytest.raises(InkfaceError, match="only used with --int8"):
        _cli(["export", "--run", str(run), "--calibration", str(tmp_path)])
