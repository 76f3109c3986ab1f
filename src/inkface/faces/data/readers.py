"""Readers for the smile, expression and face-mask datasets in their published layouts.

GENKI-4K, CelebA and AffectNet are read here; face-mask layouts live in
:mod:`inkface.faces.data.masks` and FER2013 / FER+ in :mod:`inkface.faces.data.fer`, and
:func:`load_face_dataset` picks any of them by name. Every reader returns a
:class:`~inkface.faces.data.samples.FaceDataset`: one ``FaceSample`` per face (an image
path or a row of in-memory pixels, a label, a split, and the face box where the dataset
gives one); the file-listing helpers they share are in :mod:`inkface.faces.data.listing`.
Readers only list; decoding,
detection and cropping happen once, in :mod:`inkface.faces.data.crops`. Layouts are
those of ``shared/DATASETS.md``.

Error policy (``strict``), as in :mod:`inkface.signatures.data.readers`: a missing dataset
folder or label file is always a :class:`~inkface.core.errors.DatasetError`; a malformed row
(wrong column count, non-integer value) or a listed image that does not exist raises one
naming the file and line when ``strict``, and with ``strict=False`` is skipped, warned and
recorded in ``FaceDataset.skipped``; so is a listed name that leaves the dataset folder
(absolute, or ``..`` climbing out: :func:`~inkface.core.paths.resolve_inside`). Samples a
dataset itself marks unusable (AffectNet's None / Uncertain / No-Face, FER+'s unknown /
not-a-face) are dropped and counted in ``FaceDataset.dropped``, never silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from inkface.core.errors import DatasetError
from inkface.core.labels import AFFECTNET_CLASSES, SMILE_CLASSES
from inkface.core.paths import resolve_inside
from inkface.faces.data.fer import read_fer2013, read_ferplus
from inkface.faces.data.listing import (
    csv_rows,
    problem,
    read_class_folders,
    require_dir,
    require_file,
)
from inkface.faces.data.masks import read_mask_folders, read_mask_voc
from inkface.faces.data.samples import SPLITS, FaceDataset, FaceSample, Split, assign_splits

AFFECTNET_DROPPED = {8: "none", 9: "uncertain", 10: "no_face"}

_AFFECTNET_COLUMNS = 9
_HAPPY_NAMES = ("happy", "happiness")


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
        try:
            path = resolve_inside(images, fields[0], f"{attr_file}:{line_no}")
        except DatasetError as exc:
            problem(str(exc), strict, skipped)
            continue
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
            try:
                image = resolve_inside(images, rel, f"{path}:{line_no}")
            except DatasetError as exc:
                problem(str(exc), strict, skipped)
                continue
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


FACE_DATASETS = ("genki", "celeba", "affectnet", "fer2013", "ferplus", "mask", "mask-voc")


def load_face_dataset(
    name: str, root: str | Path, strict: bool = True, seed: int = 0
) -> FaceDataset:
    """Read a face dataset by name (see ``FACE_DATASETS``); ``seed`` drives GENKI-4K's split."""
    key = name.lower()
    if key in FACE_DATASETS or key in ("genki4k", "genki-4k"):
        require_dir(Path(root), f"{name} root")  # a file or a FIFO as the root, in words
    if key in ("genki", "genki4k", "genki-4k"):
        return read_genki4k(root, seed=seed, strict=strict)
    if key == "celeba":
        return read_celeba(root, strict=strict)
    if key == "affectnet":
        return read_affectnet(root, strict=strict)
    if key in ("fer2013", "ferplus"):
        return read_ferplus(root, strict=strict) if key == "ferplus" else read_fer2013(root, strict)
    if key in ("mask", "mask-voc"):
        return (read_mask_voc if key == "mask-voc" else read_mask_folders)(root, strict=strict)
    raise DatasetError(f"unknown face dataset {name!r} (choose from {', '.join(FACE_DATASETS)})")
