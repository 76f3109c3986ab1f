"""Identification training data: the augmentation count per writer (a training setting),
samples drawn on the fly, deterministic for a seed whatever the number of DataLoader
workers, and ``inkface train-id`` with ``--samples-per-writer`` / ``--workers``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch.utils.data import DataLoader

from inkface.cli.main import main
from inkface.core.errors import InkfaceError
from inkface.signatures.identification.augmented import (
    PAPER_SAMPLES_PER_WRITER,
    AugmentedImages,
    loader_options,
    sample_sources,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LABELS = np.array([0, 0, 0, 1, 1, 1, 1, 1, 2, 2])  # writers of 3, 5 and 2 images


def _images(n: int = len(LABELS), size: int = 32) -> np.ndarray:
    images = np.zeros((n, size, size), np.uint8)
    for k in range(n):  # a different stroke per image, so distortions show
        images[k, 8 + k % 16, 4:28] = 255
        images[k, 4:28, 6 + k % 20] = 255
    return images


def test_the_paper_setting_is_section_iii_a() -> None:
    assert PAPER_SAMPLES_PER_WRITER == 2000  # "2000 images were created from 88 images"


@pytest.mark.parametrize(
    ("samples", "expected"),
    [(10, 30), (4, 4 + 5 + 4), (1, 10), (None, 10)],
)
def test_samples_per_writer_sets_the_dataset_length(samples: int | None, expected: int) -> None:
    dataset = AugmentedImages(_images(), LABELS, samples)
    assert len(dataset) == expected
    sources = sample_sources(LABELS, samples)
    assert list(sources[: len(LABELS)]) == list(range(len(LABELS)))  # each image once first
    counts = np.bincount(LABELS[sources])
    floor = samples or 0
    assert list(counts) == [max(floor, n) for n in np.bincount(LABELS)]
    # The copies cycle through each writer's own images.
    extra = sources[len(LABELS) :]
    if samples == 10:
        assert sorted(np.bincount(extra[LABELS[extra] == 0], minlength=3)[:3]) == [2, 2, 3]
    labels = [int(dataset[i][1]) for i in range(len(dataset))]
    assert labels == [int(LABELS[s]) for s in sources]


def test_bad_counts_are_refused() -> None:
    with pytest.raises(InkfaceError, match="samples_per_writer"):
        AugmentedImages(_images(), LABELS, 0)
    for bad in (-1, 1.5, True):
        with pytest.raises(InkfaceError, match="workers"):
            loader_options(bad)  # type: ignore[arg-type]


def test_augmentation_is_deterministic_for_a_seed() -> None:
    images = _images()
    one, two = (AugmentedImages(images, LABELS, 8, seed=5) for _ in range(2))
    other = AugmentedImages(images, LABELS, 8, seed=6)
    for index in range(len(one)):
        image, label = one[index]
        assert image.shape == (1, 32, 32) and image.dtype == torch.uint8
        assert torch.equal(image, two[index][0]) and int(label) == int(two[index][1])
        if index < len(LABELS):  # the images themselves, untouched
            assert torch.equal(image[0], torch.from_numpy(images[index]))
            assert torch.equal(image, other[index][0])
    distorted = range(len(LABELS), len(one))
    assert any(not torch.equal(one[i][0], other[i][0]) for i in distorted)
    assert all(not torch.equal(one[i][0][0], torch.from_numpy(images[one.sources[i]]))
               for i in distorted)  # fmt: skip


def _batches(dataset: AugmentedImages, workers: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(3)
    loader = DataLoader(
        dataset, batch_size=7, shuffle=True, generator=generator, **loader_options(workers)
    )
    return [(x.clone(), y.clone()) for x, y in loader]


def test_workers_draw_the_same_samples() -> None:
    dataset = AugmentedImages(_images(), LABELS, 12, seed=1)
    alone = _batches(dataset, 0)
    together = _batches(dataset, 2)
    assert len(alone) == len(together) == 6  # 36 samples in batches of 7
    for (xa, ya), (xb, yb) in zip(alone, together, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


@pytest.fixture(scope="module")
def writers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from inkface.signatures.synth.generator import generate_signatures

    root = tmp_path_factory.mktemp("ids")
    generate_signatures(
        root, writers=3, genuine=5, forgeries=0, layout="folder", seed=3, progress=False
    )
    return root


@pytest.mark.slow
def test_train_id_takes_the_count_and_workers(
    writers: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cnn"
    argv = ["train-id", "--model", "cnn", "--root", str(writers), "--out", str(out),
            "--conv-layers", "2", "--epochs", "1", "--samples-per-writer", "6",
            "--cache-dir", str(tmp_path / "cache"), "--accelerator", "cpu",
            "--quiet"]  # fmt: skip
    assert main([*argv, "--workers", "1"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_images_per_epoch"] == 3 * 6
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recipe["training"]["samples_per_writer"] == 6
    assert "workers" not in recipe["training"]  # the samples do not depend on it
    capsys.readouterr()
    # The same run with --workers 0 is the same finished run: kept, not retrained.
    assert main(argv) == 0
    assert "already trained" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--model", "siamese", "--samples-per-writer", "5"], "only used with --model cnn"),
        (["--model", "cnn", "--samples-per-writer", "0"], "--samples-per-writer: must be"),
        (["--model", "cnn", "--workers", "-1"], "--workers: must be >= 0"),
    ],
)
def test_train_id_refuses_bad_settings_first(
    flags: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["train-id", *flags, "--root", str(tmp_path / "nowhere"), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert not out.exists()
