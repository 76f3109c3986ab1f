"""Face classifier evaluation: reports, ten-crop, ensembles, trials, latency, recipes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inkface.core.errors import InkfaceError
from inkface.faces.classification.evaluate import (
    classification_metrics,
    ensemble_proba,
    format_classification_report,
    plot_confusion_matrix,
    predict_proba,
    ten_crops,
    trial_summary,
)
from inkface.faces.classification.latency import (
    format_latency_table,
    latency_table,
    measure_latency,
)
from inkface.faces.classification.recipe import builtin_face_recipes, load_face_recipe


def test_classification_metrics_per_class_and_average_class_accuracy() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 0, 1, 1, 0, 2])
    probs = np.eye(3)[predicted]
    m = classification_metrics(labels, probs, ("a", "b", "c"))
    assert m["accuracy"] == pytest.approx(5 / 7)
    # recalls 3/4, 1/2, 1 -> mean 0.75 (differs from the global accuracy: unbalanced set)
    assert m["average_class_accuracy"] == pytest.approx(0.75)
    assert m["per_class"]["a"]["precision"] == pytest.approx(3 / 4)
    assert m["per_class"]["b"]["support"] == 2
    assert m["confusion_matrix"] == [[3, 1, 0], [1, 1, 0], [0, 0, 1]]
    text = format_classification_report(m)
    assert "weighted avg" in text and "0.75" in text
    with pytest.raises(InkfaceError):
        classification_metrics(labels, probs[:3], ("a", "b", "c"))


def test_ten_crops_are_corners_centre_and_mirrors() -> None:
    image = np.arange(36 * 36 * 3, dtype=np.int64).reshape(1, 36, 36, 3)
    crops = ten_crops(image, (32, 32))
    assert crops.shape == (1, 10, 32, 32, 3)
    assert np.array_equal(crops[0, 0], image[0, :32, :32])
    assert np.array_equal(crops[0, 3], image[0, 4:, 4:])
    assert np.array_equal(crops[0, 4], image[0, 2:34, 2:34])
    assert np.array_equal(crops[0, 5], image[0, :32, :32][:, ::-1])
    with pytest.raises(InkfaceError):
        ten_crops(image, (40, 40))


def test_predict_proba_ten_crop_averages_crop_scores() -> None:
    class MeanRed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            red = x[:, 0].mean(dim=(1, 2))
            return torch.stack([red, -red], dim=1) * self.w

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 36, 36, 3), dtype=np.uint8)
    model = MeanRed()
    probs = predict_proba(model, images, "unit", input_size=(32, 32), ten_crop=True)
    crops = ten_crops(images, (32, 32)).astype(np.float32) / 255.0
    red = crops[..., 0].mean(axis=(2, 3))
    expected = (1 / (1 + np.exp(-2 * red))).mean(axis=1)
    assert probs.shape == (3, 2)
    np.testing.assert_allclose(probs[:, 0], expected, rtol=1e-5)
    single = predict_proba(model, images, "unit", input_size=(32, 32))
    assert not np.allclose(single, probs)


def test_ensemble_and_trials() -> None:
    a = np.array([[0.9, 0.1], [0.4, 0.6]])
    b = np.array([[0.5, 0.5], [0.8, 0.2]])
    np.testing.assert_allclose(ensemble_proba([a, b]), [[0.7, 0.3], [0.6, 0.4]])
    with pytest.raises(InkfaceError):
        ensemble_proba([a, b[:1]])
    summary = trial_summary([82.43, 81.64, 81.76, 82.34, 81.85])
    assert summary["mean"] == pytest.approx(82.004)  # FER paper Table II row 2: 82.00
    assert summary["std"] == pytest.approx(np.std([82.43, 81.64, 81.76, 82.34, 81.85], ddof=1))


def test_confusion_plot_written(tmp_path: Path) -> None:
    path = plot_confusion_matrix([[3, 1], [0, 2]], ["x", "y"], tmp_path / "cm.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_latency_table_layout() -> None:
    result = measure_latency(torch.nn.Conv2d(3, 4, 3), (3, 16, 16), frames=7, warmup=1)
    assert result["frames"] == 7 and result["max_s"] >= result["avg_s"] > 0
    assert result["fps"] == pytest.approx(1 / result["avg_s"])
    rows = latency_table(["smile_cnn"], frames=3, input_sizes={"smile_cnn": (32, 32)})
    text = format_latency_table(rows)
    assert "Proposed model" in text and "(0.022)" in text and "(44.712)" in text
    with pytest.raises(InkfaceError):
        measure_latency(torch.nn.Identity(), (3, 4, 4), frames=0)


def test_every_face_recipe_loads_and_bad_fields_are_named(tmp_path: Path) -> None:
    names = builtin_face_recipes()
    assert {"smile-proposed", "fer-resnet32-cifar10", "mask-mobilenetv2"} <= set(names)
    for name in names:
        recipe = load_face_recipe(name)
        assert recipe.name == name
    fer = load_face_recipe("fer-resnet20-cinic10")
    assert fer.training.optimizer.nesterov and fer.training.schedule.milestones == [4, 6]
    assert fer.pretrain is not None and fer.pretrain.crop == "resize"
    assert fer.with_roots({"cinic10": "/x"}).pretrain.root == "/x"
    with pytest.raises(InkfaceError, match="genki"):
        fer.with_roots({"genki": "/x"})
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: b\ntask: smile\nmodel: {name: smile_cnn}\ndata: {train: [{name: genki}]}\n"
        "training: {optimizer: {name: adam, lr: 0.001}, epochs: 3}\n"
    )
    with pytest.raises(InkfaceError, match=r"bad.yaml: field training.epochs"):
        load_face_recipe(bad)
