"""Synthetic signatures: published layouts, determinism, validation and usable signal."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from inkface.core.errors import InkfaceError
from inkface.signatures.synth.generator import GenerationSummary, generate_signatures

W, G, F = 3, 4, 3


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


@pytest.fixture(scope="module")
def cedar(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    root = tmp_path_factory.mktemp("cedar")
    summary = generate_signatures(root, W, G, F, layout="cedar", seed=3, workers=1, progress=False)
    return root, summary


def test_cedar_layout_and_images(cedar: tuple[Path, GenerationSummary]) -> None:
    root, summary = cedar
    expected = {f"full_org/original_{w}_{i}.png" for w in range(1, W + 1) for i in range(1, G + 1)}
    expected |= {
        f"full_forg/forgeries_{w}_{i}.png" for w in range(1, W + 1) for i in range(1, F + 1)
    }
    assert _files(root) == expected
    assert (summary.files, summary.writers, summary.layout) == (W * (G + F), W, "cedar")
    assert summary.root == root and summary.seconds > 0
    widths = set()
    for name in expected:
        image = _read(root / name)
        assert image.dtype == np.uint8 and image.ndim == 2
        assert (image >= 225).mean() > 0.6  # paper above CEDAR's own threshold
        assert np.percentile(image, 0.5) < 150  # and real ink below it
        widths.add(image.shape[1])
    assert len(widths) > 1 and 150 < np.median(list(widths)) < 1400


@pytest.mark.parametrize(("script", "prefix"), [("Bengali", "B"), ("Hindi", "H")])
def test_bhsig260_layout_is_binarised_tiff(tmp_path: Path, script: str, prefix: str) -> None:
    generate_signatures(tmp_path, 2, 3, 2, layout="bhsig260", script=script, progress=False)
    expected = {
        f"{script}/{w}/{prefix}-S-{w}-{k}-{i:02d}.tif"
        for w in (1, 2)
        for k, n in (("G", 3), ("F", 2))
        for i in range(1, n + 1)
    }
    assert _files(tmp_path) == expected
    for name in expected:
        image = _read(tmp_path / name)
        assert image.dtype == np.uint8 and image.ndim == 2
        assert set(np.unique(image)) == {0, 255}
        assert (image == 255).mean() > 0.7  # ink 0 on paper 255


def test_folder_layout(tmp_path: Path) -> None:
    generate_signatures(tmp_path / "a", 2, 3, 2, layout="folder", progress=False)
    expected = {f"writer_0{w}/00{i}.png" for w in (1, 2) for i in (1, 2, 3)}
    expected |= {f"writer_0{w}/forgeries/00{i}.png" for w in (1, 2) for i in (1, 2)}
    assert _files(tmp_path / "a") == expected
    generate_signatures(tmp_path / "b", 2, 3, 0, layout="folder", progress=False)
    assert _files(tmp_path / "b") == {f"writer_0{w}/00{i}.png" for w in (1, 2) for i in (1, 2, 3)}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    kwargs = {"writers": 2, "genuine": 3, "forgeries": 2, "workers": 1, "progress": False}
    first = _digests(generate_signatures(tmp_path / "a", seed=7, **kwargs).root)
    again = _digests(generate_signatures(tmp_path / "b", seed=7, **kwargs).root)
    other = _digests(generate_signatures(tmp_path / "c", seed=8, **kwargs).root)
    assert first == again
    assert first.keys() == other.keys()
    assert all(first[k] != other[k] for k in first)


def test_worker_count_does_not_change_files(tmp_path: Path) -> None:
    kwargs = {"writers": 3, "genuine": 2, "forgeries": 2, "layout": "bhsig260", "progress": False}
    one = _digests(generate_signatures(tmp_path / "one", workers=1, **kwargs).root)
    two = _digests(generate_signatures(tmp_path / "two", workers=2, **kwargs).root)
    assert one == two and len(one) == 12


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"writers": 0}, "writers"),
        ({"genuine": 1}, "genuine"),
        ({"forgeries": -1}, "forgeries"),
        ({"layout": "gpds"}, "layout"),
        ({"script": "Tamil"}, "script"),
        ({"workers": 0}, "workers"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict, field: str) -> None:
    with pytest.raises(InkfaceError, match=field):
        generate_signatures(tmp_path / "out", progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_refuses_to_mix_into_an_existing_dataset(cedar: tuple[Path, GenerationSummary]) -> None:
    root, _ = cedar
    before = _digests(root)
    with pytest.raises(InkfaceError, match="full_org"):
        generate_signatures(root, 2, 2, 0, progress=False)
    assert _digests(root) == before
    assert not any(p.name.startswith(".partial") for p in root.iterdir())


def test_interrupted_staging_is_replaced(tmp_path: Path) -> None:
    stale = tmp_path / ".partial-cedar" / "full_org"
    stale.mkdir(parents=True)
    (stale / "original_9_9.png").write_bytes(b"half")
    generate_signatures(tmp_path, 1, 2, 1, progress=False)
    assert _files(tmp_path) == {
        "full_org/original_1_1.png",
        "full_org/original_1_2.png",
        "full_forg/forgeries_1_1.png",
    }


def _signature_vector(path: Path) -> np.ndarray:
    """Ink bounding box, 64x128, blurred, zero-mean unit-norm (for 1 - NCC)."""
    image = _read(path)
    ys, xs = np.nonzero(image < np.median(image) - 40)
    ink = 255.0 - image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
    ink = cv2.GaussianBlur(cv2.resize(ink, (128, 64), interpolation=cv2.INTER_AREA), (0, 0), 2.0)
    v = ink.ravel() - ink.mean()
    return v / np.linalg.norm(v)


def test_pixel_distance_separates_genuine_from_skilled_forgeries(tmp_path: Path) -> None:
    n_writers, n = 6, 6
    generate_signatures(tmp_path, n_writers, n, n, seed=0, workers=2, progress=False)
    gen = {
        w: [_signature_vector(tmp_path / f"full_org/original_{w}_{i}.png") for i in range(1, n + 1)]
        for w in range(1, n_writers + 1)
    }
    forg = {
        w: [
            _signature_vector(tmp_path / f"full_forg/forgeries_{w}_{i}.png")
            for i in range(1, n + 1)
        ]
        for w in range(1, n_writers + 1)
    }
    same, skilled, other = [], [], []
    for w in gen:
        same += [1 - a @ b for a, b in itertools.combinations(gen[w], 2)]
        skilled += [1 - a @ b for a in gen[w] for b in forg[w]]
        other += [1 - a @ b for a in gen[w] for b in gen[w % n_writers + 1]]
    assert np.mean(same) + 0.08 < np.mean(skilled) < np.mean(other) - 0.08
    auroc = roc_auc_score([0] * len(same) + [1] * len(skilled), same + skilled)
    assert 0.72 <= auroc < 0.99  # learnable, yet not trivial
