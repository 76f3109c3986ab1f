"""Readers for the smile, expression and face-mask datasets in their published layouts.

Face-mask layouts live in :mod:`inkface.faces.data.masks` and FER2013 / FER+ in
:mod:`inkface.faces.data.fer`. Every reader returns a :class:`FaceDataset`: one
:class:`FaceSample` per face (an image path or a row of in-memory pixels, a label, a
split, and the face box where the dataset gives one). Readers only list; decoding,
detection and cropping happen once, in :mod:`inkface.faces.data.crops`. Layouts are
those of ``shared/DATASETS.md``.

Error policy (``strict``), as in :mod:`inkface.signatures.data.readers`: a missing dataset
folder or label file is always a :class:`~inkface.core.errors.DatasetError`; a malformed row
(wrong column count, non-integer value) or a listed image that does not exist raises one
naming the file and line when ``strict``, and with ``strict=False`` is skipped, warned and
recorded in ``FaceDataset.skipped``. Samples a dataset itself marks unusable (AffectNet's
None / Uncertain / No-Face, FER+'s unknown / not-a-face) are dropped and counted in
``FaceDataset.dropped``, never silently.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from inkface.core.errors import DatasetError
from inkface.core.images import is_image_file
from inkface.core.labels import AFFECTNET_CLASSES, SMILE_CLASSES

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
AFFECTNET_DROPPED = {8: "none", 9: "uncertain", 10: "no_face"}

_AFFECTNET_COLUMNS = 9
_HAPPY_NAMES = ("happy", "happiness")
SPLIT_FOLDERS = {"train": "train", "training": "train", "val": "val", "valid": "val"}
SPLIT_FOLDERS |= {"validation": "val", "test": "test", "testing": "test"}
_CLASS_ALIASES = {"happiness": "happy", "sadness": "sad", "angry": "anger", "neutrality": "neutral"}
_CLASS_ALIASES |= {"surprised": "surprise", "fearful": "fear", "disgusted": "disgust"}
_CLASS_ALIASES |= {str(i): name for i, name in enumerate(AFFECTNET_CLASSES)}


@dataclass(frozen=True)
class FaceSample:
    """One face: ``source`` is an image path, or a row index into ``FaceDataset.pixels``;
    ``box`` (x1, y1, x2, y2) is the face where the dataset gives it (no detector needed)."""

    source: Path | int
    label: int
    split: Split | None = None
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class FaceDataset:
    """Faces of one dataset with class names, and what was skipped or dropped.

    ``cropped``: every image already is a face crop (FER pixels), so the cache only
    resizes. ``sources``: label files the samples were read from (part of the cache key).
    """

    name: str
    root: Path
    samples: tuple[FaceSample, ...]
    class_names: tuple[str, ...]
    pixels: np.ndarray | None = field(default=None, repr=False)
    cropped: bool = False
    sources: tuple[Path, ...] = ()
    skipped: tuple[str, ...] = ()
    dropped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.samples], dtype=np.int64)

    @property
    def splits(self) -> dict[str, int]:
        """Samples per split (``none`` for samples without one)."""
        counts = Counter(s.split or "none" for s in self.samples)
        return {k: counts[k] for k in (*SPLITS, "none") if counts[k]}

    def summary(self) -> dict[str, object]:
        """JSON-ready counts per class and split (``inkface data face-info``)."""
        per: dict[str, dict[str, int]] = {}
        for s in self.samples:
            row = per.setdefault(s.split or "none", dict.fromkeys(self.class_names, 0))
            row[self.class_names[s.label]] += 1
        return {
            "name": self.name,
            "root": str(self.root),
            "samples": len(self.samples),
            "classes": {
                c: int(n) for c, n in zip(self.class_names, self.class_counts(), strict=True)
            },
            "splits": self.splits,
            "per_split": per,
            "dropped": dict(self.dropped),
            "skipped": list(self.skipped),
        }

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.class_names))


def require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise DatasetError(f"{path}: {what} folder not found")


def require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise DatasetError(f"{path}: {what} not found")


def problem(message: str, strict: bool, skipped: list[str]) -> None:
    """Raise ``message`` when ``strict``; otherwise warn and record it as skipped."""
    if strict:
        raise DatasetError(message)
    warnings.warn(f"skipping {message}", stacklevel=3)
    skipped.append(message)


def csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number, cells) of every non-blank CSV row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for line_no, row in enumerate(csv.reader(handle), start=1):
                if row and any(cell.strip() for cell in row):
                    yield line_no, row
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: not a readable CSV file ({exc})") from None


def natural_key(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, in natural order, hidden files ignored."""
    files = (p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return sorted((p for p in files if is_image_file(p)), key=natural_key)


def assign_splits(
    dataset: FaceDataset, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> FaceDataset:
    """Give samples without a split a stratified train / val / test split.

    Within every class the samples are shuffled with ``seed`` and cut at the cumulative
    ``fractions`` (rounded), so each split keeps the class balance. Used for GENKI-4K,
    which has no official split (80/10/10 by default), and for folder layouts.
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise DatasetError(
            f"split fractions must be 3 non-negative numbers summing to 1: {fractions}"
        )
    rng = np.random.default_rng(seed)
    splits: list[Split | None] = [s.split for s in dataset.samples]
    labels = dataset.labels
    open_rows = np.array([i for i, s in enumerate(splits) if s is None], dtype=np.int64)
    for label in np.unique(labels[open_rows]) if open_rows.size else []:
        rows = open_rows[labels[open_rows] == label]
        rows = rows[rng.permutation(rows.size)]
        cuts = np.round(np.cumsum(fractions)[:2] * rows.size).astype(int)
        for name, part in zip(SPLITS, np.split(rows, cuts), strict=True):
            for i in part:
                splits[int(i)] = name
    samples = tuple(replace(s, split=sp) for s, sp in zip(dataset.samples, splits, strict=True))
    return replace(dataset, samples=samples)


def smile_labels(dataset: FaceDataset) -> FaceDataset:
    """Happy (AffectNet ``happy`` / FER+ ``happiness``) -> smile 1, every other class -> 0.

    The smile report trains on AffectNet this way next to CelebA's ``Smiling`` (§7.2).
    """
    happy = [i for i, name in enumerate(dataset.class_names) if name.lower() in _HAPPY_NAMES]
    if not happy:
        raise DatasetError(f"{dataset.name}: no happy class among {dataset.class_names}")
    samples = tuple(replace(s, label=int(s.label in happy)) for s in dataset.samples)
    return replace(
        dataset, name=f"{dataset.name}-smile", samples=samples, class_names=SMILE_CLASSES
    )


def read_genki4k(root: str | Path, seed: int = 0, strict: bool = True) -> FaceDataset:
    """GENKI-4K: ``files/fileNNNN.jpg`` and ``labels.txt`` (``smile yaw pitch roll``).

    Line ``i`` of ``labels.txt`` labels ``file{i:04d}.jpg``. GENKI has no official split:
    :func:`assign_splits` makes a stratified 80/10/10 one with ``seed``.
    """
    root = Path(root)
    require_dir(root / "files", "GENKI-4K files")
    labels_file = root / "labels.txt"
    require_file(labels_file, "GENKI-4K labels.txt")
    lines = labels_file.read_text(encoding="utf-8", errors="replace").splitlines()
    digits = max(4, len(str(len(lines))))
    samples, skipped = [], []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 4 or fields[0] not in ("0", "1"):
            problem(
                f"{labels_file}:{line_no}: expected 'smile yaw pitch roll' with smile 0/1",
                strict,
                skipped,
            )
            continue
        path = root / "files" / f"file{line_no:0{digits}d}.jpg"
        if not path.is_file():
            problem(
                f"{path}: image listed on {labels_file.name}:{line_no} not found", strict, skipped
            )
            continue
        samples.append(FaceSample(path, int(fields[0])))
    if not samples:
        raise DatasetError(f"{labels_file}: no labelled images")
    data = FaceDataset(
        "genki4k",
        root,
        tuple(samples),
        SMILE_CLASSES,
        sources=(labels_file,),
        skipped=tuple(skipped),
    )
    return assign_splits(data, seed=seed)


def read_celeba(root: str | Path, attribute: str = "Smiling", strict: bool = True) -> FaceDataset:
    """CelebA: ``img_align_celeba/``, ``list_attr_celeba.txt`` (count, 40 names, rows of
    -1/1) -> ``attribute`` as 0/1; ``list_eval_partition.txt`` (0 train, 1 val, 2 test)
    gives the official split when present."""
    root = Path(root)
    images = root / "img_align_celeba"
    require_dir(images, "CelebA img_align_celeba")
    attr_file = root / "list_attr_celeba.txt"
    require_file(attr_file, "CelebA list_attr_celeba.txt")
    lines = attr_file.read_text(encoding="utf-8", errors="replace").splitlines()
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise DatasetError(f"{attr_file}:1: expected the image count on line 1")
    names = lines[1].split()
    if attribute not in names:
        raise DatasetError(f"{attr_file}:2: attribute {attribute!r} missing from the header")
    column = names.index(attribute)
    rows = [(n, line.split()) for n, line in enumerate(lines[2:], start=3) if line.strip()]
    if int(lines[0]) != len(rows):
        raise DatasetError(f"{attr_file}:1: says {int(lines[0])} images but lists {len(rows)}")
    partition = _celeba_partition(root / "list_eval_partition.txt")
    samples, skipped = [], []
    for line_no, fields in rows:
        if len(fields) != len(names) + 1 or fields[column + 1] not in ("-1", "1"):
            problem(
                f"{attr_file}:{line_no}: expected a file name and {len(names)} values of -1/1",
                strict,
                skipped,
            )
            continue
        path = images / fields[0]
        split = partition.get(fields[0]) if partition is not None else None
        if partition is not None and split is None:
            problem(
                f"{attr_file}:{line_no}: {fields[0]} missing from list_eval_partition.txt",
                strict,
                skipped,
            )
            continue
        if not path.is_file():
            problem(
                f"{path}: image listed on {attr_file.name}:{line_no} not found", strict, skipped
            )
            continue
        samples.append(FaceSample(path, int(fields[column + 1] == "1"), split))
    sources = (attr_file,) if partition is None else (attr_file, root / "list_eval_partition.txt")
    name = "celeba" if attribute == "Smiling" else f"celeba-{attribute.lower()}"
    classes = SMILE_CLASSES if attribute == "Smiling" else (f"not_{attribute}", attribute)
    return FaceDataset(name, root, tuple(samples), classes, sources=sources, skipped=tuple(skipped))


def _celeba_partition(path: Path) -> dict[str, Split] | None:
    if not path.is_file():
        return None
    out: dict[str, Split] = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DatasetError(f"{path}:{line_no}: expected '<file> <0|1|2>'")
        out[fields[0]] = SPLITS[int(fields[1])]
    return out


def read_affectnet(root: str | Path, strict: bool = True) -> FaceDataset:
    """AffectNet: ``Manually_Annotated_file_lists/{training,validation}.csv`` (boxes given,
    images under ``Manually_Annotated_Images/``) when present, else class folders."""
    root = Path(root)
    lists = root / "Manually_Annotated_file_lists"
    if lists.is_dir():
        return _read_affectnet_csv(root, lists, strict)
    require_dir(root, "AffectNet root")
    return read_class_folders(root, "affectnet", AFFECTNET_CLASSES, strict=strict, aliases=True)


def _read_affectnet_csv(root: Path, lists: Path, strict: bool) -> FaceDataset:
    images = root / "Manually_Annotated_Images"
    require_dir(images, "AffectNet Manually_Annotated_Images")
    samples, skipped, dropped = [], [], Counter()
    sources = []
    for file_name, split in (("training.csv", "train"), ("validation.csv", "val")):
        path = lists / file_name
        if not path.is_file():
            continue
        sources.append(path)
        for line_no, row in csv_rows(path):
            if row[0].strip() == "subDirectory_filePath":
                continue
            parsed = _affectnet_row(row)
            if isinstance(parsed, str):
                problem(f"{path}:{line_no}: {parsed}", strict, skipped)
                continue
            rel, box, expression = parsed
            if expression in AFFECTNET_DROPPED:
                dropped[AFFECTNET_DROPPED[expression]] += 1
                continue
            image = images / rel
            if not image.is_file():
                problem(
                    f"{image}: image listed on {file_name}:{line_no} not found", strict, skipped
                )
                continue
            samples.append(FaceSample(image, expression, split, box))  # type: ignore[arg-type]
    if not sources:
        raise DatasetError(f"{lists}: neither training.csv nor validation.csv found")
    return FaceDataset(
        "affectnet",
        root,
        tuple(samples),
        AFFECTNET_CLASSES,
        sources=tuple(sources),
        skipped=tuple(skipped),
        dropped=dict(dropped),
    )


def _affectnet_row(row: list[str]) -> tuple[str, tuple[int, int, int, int], int] | str:
    if len(row) != _AFFECTNET_COLUMNS:
        return f"expected {_AFFECTNET_COLUMNS} columns, got {len(row)}"
    try:
        x, y, w, h = (int(float(v)) for v in row[1:5])
        expression = int(row[6])
    except ValueError:
        return "face box and expression must be numbers"
    if not 0 <= expression <= 10:
        return f"expression {expression} outside 0-10"
    if w < 1 or h < 1 or x < 0 or y < 0:
        return f"bad face box {x},{y},{w},{h}"
    return row[0].strip().replace("\\", "/"), (x, y, x + w, y + h), expression


def read_class_folders(
    root: str | Path,
    name: str,
    class_names: Sequence[str],
    strict: bool = True,
    aliases: bool = False,
    optional: Sequence[str] = (),
) -> FaceDataset:
    """``<root>/<class>/*.jpg`` or ``<root>/<split>/<class>/*.jpg`` (split folders named
    train / val(idation) / test). Unknown folders are problems (see the module policy);
    classes in ``optional`` may be missing, the others must have images."""
    root = Path(root)
    require_dir(root, f"{name} root")
    folders = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    split_dirs = [p for p in folders if p.name.lower() in SPLIT_FOLDERS]
    tops = [(p, SPLIT_FOLDERS[p.name.lower()]) for p in split_dirs] or [(root, None)]
    samples, skipped = [], []
    for top, split in tops:
        for folder in sorted(p for p in top.iterdir() if p.is_dir() and not p.name.startswith(".")):
            key = folder.name.lower()
            key = _CLASS_ALIASES.get(key, key) if aliases else key
            if key not in class_names:
                problem(
                    f"{folder}: not a class folder of {name} ({', '.join(class_names)})",
                    strict,
                    skipped,
                )
                continue
            samples.extend(
                FaceSample(p, class_names.index(key), split) for p in image_files(folder)
            )
    counts = Counter(s.label for s in samples)
    missing = [c for i, c in enumerate(class_names) if not counts[i] and c not in optional]
    if missing:
        raise DatasetError(f"{root}: no images for class(es) {', '.join(missing)} ({name} layout)")
    return FaceDataset(name, root, tuple(samples), tuple(class_names), skipped=tuple(skipped))


FACE_DATASETS = ("genki", "celeba", "affectnet", "fer2013", "ferplus", "mask", "mask-voc")


def load_face_dataset(
    name: str, root: str | Path, strict: bool = True, seed: int = 0
) -> FaceDataset:
    """Read a face dataset by name (see ``FACE_DATASETS``); ``seed`` drives GENKI-4K's split."""
    key = name.lower()
    if key in ("genki", "genki4k", "genki-4k"):
        return read_genki4k(root, seed=seed, strict=strict)
    if key == "celeba":
        return read_celeba(root, strict=strict)
    if key == "affectnet":
        return read_affectnet(root, strict=strict)
    if key in ("fer2013", "ferplus"):
        from inkface.faces.data.fer import read_fer2013, read_ferplus

        return read_ferplus(root, strict=strict) if key == "ferplus" else read_fer2013(root, strict)
    if key in ("mask", "mask-voc"):
        from inkface.faces.data.masks import read_mask_folders, read_mask_voc

        return (read_mask_voc if key == "mask-voc" else read_mask_folders)(root, strict=strict)
    raise DatasetError(f"unknown face dataset {name!r} (choose from {', '.join(FACE_DATASETS)})")
