"""Readers for the face-mask datasets: Kaggle class folders and the Pascal VOC set.

Same error policy and :class:`~inkface.faces.data.samples.FaceDataset` result as the other
face readers (:mod:`inkface.faces.data.readers`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from inkface.core.errors import DatasetError
from inkface.core.labels import MASK_CLASSES
from inkface.core.paths import resolve_inside
from inkface.faces.data.listing import natural_key, problem, read_class_folders, require_dir
from inkface.faces.data.samples import SPLIT_FOLDERS, FaceDataset, FaceSample


def read_mask_folders(root: str | Path, strict: bool = True) -> FaceDataset:
    """Kaggle face-mask class folders: ``with_mask/``, ``without_mask/`` and optionally
    ``mask_weared_incorrect/`` (then 3 classes, else the report's 2)."""
    root = Path(root)
    three = (root / MASK_CLASSES[2]).is_dir() or any(
        (root / s / MASK_CLASSES[2]).is_dir() for s in SPLIT_FOLDERS
    )
    classes = MASK_CLASSES if three else MASK_CLASSES[:2]
    return read_class_folders(root, "mask", classes, strict=strict)


def read_mask_voc(root: str | Path, strict: bool = True) -> FaceDataset:
    """Kaggle "Face Mask Detection" (Pascal VOC): ``images/*.png`` + ``annotations/*.xml``,
    one sample per ``<object>`` with its ``<name>`` (3 classes) and ``<bndbox>``.

    XML is parsed with :mod:`xml.etree.ElementTree` after refusing any document type or
    entity declaration (no ``defusedxml`` dependency): annotations never need them, and
    refusing them rules out entity-expansion attacks. A ``<filename>`` that leaves
    ``images/`` (absolute, or ``..`` climbing out) is refused like a malformed file.
    """
    root = Path(root)
    images, notes = root / "images", root / "annotations"
    require_dir(images, "face-mask images")
    require_dir(notes, "face-mask annotations")
    samples, skipped = [], []
    xml_files = sorted(
        (p for p in notes.glob("*.xml") if not p.name.startswith(".")), key=natural_key
    )
    for xml_file in xml_files:
        try:
            image, objects = _parse_voc(xml_file, images)
        except DatasetError as exc:
            problem(str(exc), strict, skipped)
            continue
        samples.extend(FaceSample(image, MASK_CLASSES.index(c), None, box) for c, box in objects)
    if not samples:
        raise DatasetError(f"{notes}: no annotated faces found (Pascal VOC layout)")
    return FaceDataset(
        "mask-voc",
        root,
        tuple(samples),
        MASK_CLASSES,
        sources=tuple(xml_files),
        skipped=tuple(skipped),
    )


def _parse_voc(path: Path, images: Path) -> tuple[Path, list[tuple[str, tuple[int, ...]]]]:
    raw = path.read_bytes()
    if b"<!doctype" in raw.lower() or b"<!entity" in raw.lower():
        raise DatasetError(f"{path}: XML with a DTD or entity declarations is refused")
    try:
        tree = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise DatasetError(f"{path}: malformed XML ({exc})") from None
    name = (tree.findtext("filename") or "").strip()
    fallback = images / f"{path.stem}.png"
    image = resolve_inside(images, name, f"{path} <filename>") if name else fallback
    if not image.is_file():
        image = fallback
    if not image.is_file():
        raise DatasetError(f"{path}: its image {name or path.stem + '.png'} not found in {images}")
    objects = []
    for k, obj in enumerate(tree.iter("object"), start=1):
        label = (obj.findtext("name") or "").strip()
        if label not in MASK_CLASSES:
            raise DatasetError(
                f"{path}: object {k} has class {label!r} (not one of {MASK_CLASSES})"
            )
        try:
            box = tuple(
                int(float(obj.findtext(f"bndbox/{t}") or ""))
                for t in ("xmin", "ymin", "xmax", "ymax")
            )
        except ValueError:
            raise DatasetError(f"{path}: object {k} has a missing or non-numeric bndbox") from None
        if box[2] <= box[0] or box[3] <= box[1] or min(box) < 0:
            raise DatasetError(f"{path}: object {k} has an empty box {box}")
        objects.append((label, box))
    return image, objects
