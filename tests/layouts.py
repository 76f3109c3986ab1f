"""Tiny replicas of the published signature layouts, written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def signature_image(
    seed: int, shape: tuple[int, int] = (40, 90), binary: bool = False
) -> np.ndarray:
    """A light page with a few dark strokes; deterministic per seed."""
    rng = np.random.default_rng(seed)
    img = np.full(shape, 245, dtype=np.uint8)
    img += rng.integers(0, 10, size=shape, dtype=np.uint8)
    for _ in range(4):
        r = rng.integers(5, shape[0] - 5)
        c0, c1 = sorted(rng.integers(5, shape[1] - 5, size=2))
        img[r : r + 3, c0 : c1 + 1] = rng.integers(0, 60)
    if binary:
        img = np.where(img > 128, 255, 0).astype(np.uint8)
    return img


def write_cedar(root: Path, writers: int, genuine: int, forged: int, empty: bool = False) -> Path:
    """CEDAR layout; ``empty`` writes zero-byte files (enough for listing and pairs)."""
    for sub in ("full_org", "full_forg"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for w in range(1, writers + 1):
        for i in range(1, genuine + 1):
            _write(root / "full_org" / f"original_{w}_{i}.png", w * 100 + i, empty)
        for i in range(1, forged + 1):
            _write(root / "full_forg" / f"forgeries_{w}_{i}.png", w * 100 + 50 + i, empty)
    return root


def write_bhsig(root: Path, script: str, writers: int, genuine: int, forged: int) -> Path:
    prefix = script[0]
    for w in range(1, writers + 1):
        folder = root / script / str(w)
        folder.mkdir(parents=True, exist_ok=True)
        for kind, n in (("G", genuine), ("F", forged)):
            for i in range(1, n + 1):
                img = signature_image(w * 1000 + i + (500 if kind == "F" else 0), binary=True)
                Image.fromarray(img).save(folder / f"{prefix}-S-{w}-{kind}-{i:02d}.tif")
    return root


def write_folder(root: Path, writers: dict[str, tuple[int, int]]) -> Path:
    for name, (genuine, forged) in writers.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(genuine):
            _write(folder / f"sig_{i}.png", sum(map(ord, name)) * 100 + i, False)
        if forged:
            (folder / "forgeries").mkdir(exist_ok=True)
            for i in range(forged):
                _write(folder / "forgeries" / f"f_{i}.png", 7 + i, False)
    return root


def _write(path: Path, seed: int, empty: bool) -> None:
    if empty:
        path.touch()
    else:
        Image.fromarray(signature_image(seed)).save(path)
