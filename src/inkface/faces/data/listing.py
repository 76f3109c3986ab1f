"""How the face readers list a dataset: required folders and files, CSV rows, image files
in natural order, the generic ``<class>/`` or ``<split>/<class>/`` folder layout, and the
error policy of :mod:`inkface.faces.data.readers` (:func:`problem`: raise when
``strict``, else warn and record the skipped item).
"""

from __future__ import annotations

import csv
import re
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from inkface.core.errors import DatasetError
from inkface.core.images import is_image_file
from inkface.core.input_gate import check_input_file, check_input_folder
from inkface.core.labels import AFFECTNET_CLASSES
from inkface.faces.data.samples import SPLIT_FOLDERS, FaceDataset, FaceSample

_CLASS_ALIASES = {"happiness": "happy", "sadness": "sad", "angry": "anger", "neutrality": "neutral"}
_CLASS_ALIASES |= {"surprised": "surprise", "fearful": "fear", "disgusted": "disgust"}
_CLASS_ALIASES |= {str(i): name for i, name in enumerate(AFFECTNET_CLASSES)}


def require_dir(path: Path, what: str) -> None:
    """``path`` must be a folder (one line naming it, and what is there instead)."""
    check_input_folder(path, f"{what} folder", error=DatasetError)


def require_file(path: Path, what: str) -> None:
    """``path`` must be a readable regular file (not a folder, FIFO or dangling link)."""
    check_input_file(path, what, error=DatasetError)


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
