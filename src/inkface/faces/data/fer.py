"""FER2013 (``fer2013.csv``) and FER+ (``fer2013new.csv``) with the FER+ majority vote.

FER2013 rows hold ``emotion, pixels, Usage``: 2,304 grey values of a 48x48 face crop
(row-major). FER+ relabels the same rows, in the same order, with the votes of ten
taggers over ``neutral, happiness, surprise, sadness, anger, disgust, fear, contempt,
unknown, NF``. The lightweight-FER paper trains on "the majority voting label of the
human labelers" (§III), which :func:`ferplus_majority` computes as the FER+ authors'
reference code does (microsoft/FERPlus ``src/ferplus.py``, ``_process_data`` in
``majority`` mode and ``load_folders``; commit ae2128a):

1. votes of 1 or fewer are set to 0 (the reference's outlier removal);
2. the emotion with the most remaining votes wins only if it holds more than half of
   the remaining votes; otherwise the image is forced to ``unknown``;
3. images whose label is ``unknown`` or ``NF`` (not a face) are dropped;
4. rows whose ``Image name`` is empty are removed images (reference
   ``generate_training_data.py``) and are dropped too.

The split comes from ``fer2013.csv``'s ``Usage`` as in the reference: Training ->
train, PublicTest -> val, PrivateTest -> test. Pixels are returned in memory as
``FaceDataset.pixels`` (N, 48, 48) uint8; samples index into it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inkface.core.errors import DatasetError
from inkface.core.labels import FERPLUS_CLASSES
from inkface.faces.data.listing import csv_rows, problem, require_file
from inkface.faces.data.samples import FaceDataset, FaceSample, Split

FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FERPLUS_COLUMNS = (*FERPLUS_CLASSES, "unknown", "NF")
USAGE_SPLITS: dict[str, Split] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FER_SIDE = 48
_PIXEL_TEXT = re.compile(r"[0-9 \t]*")


def ferplus_majority(votes: Sequence[int]) -> tuple[int | None, str]:
    """FER+ majority label of one row's ten vote counts: ``(class index, "")`` or
    ``(None, reason)`` with reason ``no_majority``, ``unknown`` or ``not_face``.

    Follows microsoft/FERPlus ``src/ferplus.py`` (see the module docstring): single
    votes are discarded, then a strict majority (> 50 %) of the rest is required.
    """
    if len(votes) != len(FERPLUS_COLUMNS):
        raise ValueError(f"expected {len(FERPLUS_COLUMNS)} vote counts, got {len(votes)}")
    kept = [v if v > 1 else 0 for v in votes]
    total = sum(kept)
    best = max(range(len(kept)), key=lambda i: (kept[i], -i))  # first maximum, as np.argmax
    if total == 0 or kept[best] <= 0.5 * total:
        return None, "no_majority"
    if best == len(FERPLUS_CLASSES):
        return None, "unknown"
    if best == len(FERPLUS_CLASSES) + 1:
        return None, "not_face"
    return best, ""


def _parse_pixels(text: str) -> np.ndarray | str:
    # Digits and blanks only, so the fast C parser cannot stop early on a bad token.
    if _PIXEL_TEXT.fullmatch(text) is None:
        return "pixels holds a value that is not a non-negative integer"
    values = np.fromstring(text, dtype=np.int64, sep=" ")
    if values.size != FER_SIDE * FER_SIDE:
        return f"pixels has {values.size} values, expected {FER_SIDE * FER_SIDE}"
    if values.max() > 255:
        return "pixels holds a value above 255"
    return values.astype(np.uint8).reshape(FER_SIDE, FER_SIDE)


def _read_fer_rows(path: Path, strict: bool, skipped: list[str]) -> list[tuple | None]:
    """Per data row of ``fer2013.csv``: (line, emotion, pixels, split) or None if bad."""
    require_file(path, "FER2013 fer2013.csv")
    rows = csv_rows(path)
    header = next(rows, None)
    if header is None or [c.strip() for c in header[1]] != ["emotion", "pixels", "Usage"]:
        raise DatasetError(f"{path}:1: expected the header 'emotion,pixels,Usage'")
    out: list[tuple | None] = []
    for line_no, row in rows:
        reason = None
        if len(row) != 3:
            reason = f"expected 3 columns, got {len(row)}"
        elif row[2].strip() not in USAGE_SPLITS:
            reason = f"Usage {row[2].strip()!r} is not Training, PublicTest or PrivateTest"
        elif not row[0].strip().isdigit() or int(row[0]) >= len(FER2013_CLASSES):
            reason = f"emotion {row[0]!r} is not 0-6"
        else:
            pixels = _parse_pixels(row[1])
            reason = pixels if isinstance(pixels, str) else None
        if reason is not None:
            problem(f"{path}:{line_no}: {reason}", strict, skipped)
            out.append(None)
            continue
        out.append((line_no, int(row[0]), pixels, USAGE_SPLITS[row[2].strip()]))
    if not out:
        raise DatasetError(f"{path}: no data rows")
    return out


def read_fer2013(root: str | Path, strict: bool = True) -> FaceDataset:
    """FER2013 with its own seven labels (0 Angry ... 6 Neutral)."""
    root = Path(root)
    path = root / "fer2013.csv"
    skipped: list[str] = []
    rows = [r for r in _read_fer_rows(path, strict, skipped) if r is not None]
    pixels = np.stack([r[2] for r in rows]) if rows else np.zeros((0, 48, 48), np.uint8)
    samples = tuple(FaceSample(i, r[1], r[3]) for i, r in enumerate(rows))
    return FaceDataset(
        "fer2013",
        root,
        samples,
        FER2013_CLASSES,
        pixels=pixels,
        cropped=True,
        sources=(path,),
        skipped=tuple(skipped),
    )


def read_ferplus(root: str | Path, strict: bool = True) -> FaceDataset:
    """FER+: ``fer2013.csv`` pixels with the majority-vote labels of ``fer2013new.csv``
    (eight classes); dropped rows are counted by reason in ``dropped``."""
    root = Path(root)
    fer_path, new_path = root / "fer2013.csv", root / "fer2013new.csv"
    require_file(new_path, "FER+ fer2013new.csv")
    skipped: list[str] = []
    fer_rows = _read_fer_rows(fer_path, strict, skipped)
    vote_rows = csv_rows(new_path)
    header = next(vote_rows, None)
    expected = ["Usage", "Image name", *FERPLUS_COLUMNS]
    if header is None or [c.strip() for c in header[1]] != expected:
        raise DatasetError(f"{new_path}:1: expected the header {','.join(expected)}")
    votes_list = list(vote_rows)
    if len(votes_list) != len(fer_rows):
        raise DatasetError(
            f"{new_path}: {len(votes_list)} rows but fer2013.csv has {len(fer_rows)}; "
            "FER+ must list the same images in the same order"
        )
    kept_pixels, samples, dropped = [], [], Counter()
    for fer, (line_no, row) in zip(fer_rows, votes_list, strict=True):
        if fer is None:
            continue
        where = f"{new_path}:{line_no}"
        if len(row) != len(expected):
            problem(f"{where}: expected {len(expected)} columns, got {len(row)}", strict, skipped)
            continue
        if row[0].strip() != _usage_name(fer[3]):
            problem(
                f"{where}: Usage {row[0]!r} differs from fer2013.csv line {fer[0]}", strict, skipped
            )
            continue
        if not row[1].strip():
            dropped["removed"] += 1
            continue
        if not all(v.strip().isdigit() for v in row[2:]):
            problem(f"{where}: votes must be non-negative integers", strict, skipped)
            continue
        label, reason = ferplus_majority([int(v) for v in row[2:]])
        if label is None:
            dropped[reason] += 1
            continue
        samples.append(FaceSample(len(kept_pixels), label, fer[3]))
        kept_pixels.append(fer[2])
    pixels = np.stack(kept_pixels) if kept_pixels else np.zeros((0, 48, 48), np.uint8)
    return FaceDataset(
        "ferplus",
        root,
        tuple(samples),
        FERPLUS_CLASSES,
        pixels=pixels,
        cropped=True,
        sources=(fer_path, new_path),
        skipped=tuple(skipped),
        dropped=dict(dropped),
    )


def _usage_name(split: Split) -> str:
    return next(k for k, v in USAGE_SPLITS.items() if v == split)
