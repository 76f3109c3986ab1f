"""Readers for signature datasets in their published layouts.

Each reader returns a :class:`SignatureDataset`: writers with their genuine and forged
image paths, in a deterministic order. Readers only list files; decoding happens once,
in :mod:`inkface.signatures.data.cache`, where bad images are reported.

Error policy (``strict``):

* A missing dataset folder is always an error: there is nothing to skip to.
* An unexpected file name in a fixed layout (CEDAR, BHSig260), a file whose writer
  number disagrees with its folder, or a writer without genuine signatures raises
  :class:`~inkface.core.errors.DatasetError` naming the file when ``strict`` (the default),
  because it usually means the wrong folder was given. With ``strict=False`` it is
  skipped with a warning, which is what a user with a few stray files wants.
* Operating-system litter (``Thumbs.db``, ``.DS_Store``, ``desktop.ini``, hidden files)
  is always ignored silently: the published CEDAR archive itself contains ``Thumbs.db``.
* In the folder-per-writer layout, non-image files are skipped with a warning (users'
  own folders often hold notes or spreadsheets).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from inkface.core.errors import DatasetError
from inkface.core.images import is_image_file
from inkface.core.input_gate import check_input_file, check_input_folder

Style = Literal["cedar", "binarised"]
"""Preprocessing pipeline of section 4.1: ``cedar`` (grey scans, denoised) or
``binarised`` (BHSig260, already binary: resize and invert only)."""

_IGNORED_NAMES = frozenset({"thumbs.db", ".ds_store", "desktop.ini"})
_CEDAR_GENUINE = re.compile(r"^original_(\d+)_(\d+)\.png$", re.IGNORECASE)
_CEDAR_FORGED = re.compile(r"^forgeries_(\d+)_(\d+)\.png$", re.IGNORECASE)
_BHSIG = re.compile(r"^([BH])-S-(\d+)-([GF])-(\d+)\.tiff?$", re.IGNORECASE)
BHSIG_SCRIPTS = ("Bengali", "Hindi")


@dataclass(frozen=True)
class WriterRecord:
    """One writer: a dataset-qualified id and sorted genuine / forged image paths."""

    writer_id: str
    genuine: tuple[Path, ...]
    forged: tuple[Path, ...] = ()


@dataclass(frozen=True)
class SignatureDataset:
    """A list of writers plus how their images must be preprocessed."""

    name: str
    root: Path
    style: Style
    writers: tuple[WriterRecord, ...]
    skipped: tuple[str, ...] = field(default=())

    @property
    def n_images(self) -> int:
        return sum(len(w.genuine) + len(w.forged) for w in self.writers)

    def image_paths(self) -> list[Path]:
        """All images, writer by writer, genuine before forged (the cache order)."""
        return [p for w in self.writers for p in (*w.genuine, *w.forged)]

    def summary(self) -> dict[str, object]:
        """JSON-ready description (used by ``inkface data info``)."""
        return {
            "name": self.name,
            "root": str(self.root),
            "style": self.style,
            "writers": len(self.writers),
            "genuine": sum(len(w.genuine) for w in self.writers),
            "forged": sum(len(w.forged) for w in self.writers),
            "skipped": list(self.skipped),
        }


def _is_litter(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower() in _IGNORED_NAMES


def _require_dir(path: Path, what: str) -> None:
    check_input_folder(path, f"{what} folder", error=DatasetError)


def _not_a_file(path: Path) -> str | None:
    """Why an entry with an image's name is not a readable file (``it is a FIFO (named pipe),
    not a regular file``, a folder, a dangling link...), or None when it is one."""
    try:
        check_input_file(path, "it", error=DatasetError)
    except DatasetError as exc:
        return str(exc).removeprefix(f"{path}: ")
    return None


def _problem(message: str, strict: bool, skipped: list[str]) -> None:
    if strict:
        raise DatasetError(message)
    warnings.warn(f"skipping {message}", stacklevel=3)
    skipped.append(message)


def _finish(
    name: str,
    root: Path,
    style: Style,
    records: Iterable[WriterRecord],
    strict: bool,
    skipped: list[str],
) -> SignatureDataset:
    writers = []
    for record in records:
        if len(record.genuine) < 2:
            where = record.genuine[0].parent if record.genuine else record.writer_id
            _problem(
                f"{where}: writer {record.writer_id} has {len(record.genuine)} genuine "
                "signature(s); at least 2 are needed to form genuine pairs",
                strict,
                skipped,
            )
            continue
        writers.append(record)
    if not writers:
        raise DatasetError(f"{root}: no writers with signatures found ({name} layout)")
    return SignatureDataset(name, root, style, tuple(writers), tuple(skipped))


def _sorted_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if not _is_litter(p)), key=_natural_key)


def _natural_key(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def read_cedar(root: str | Path, strict: bool = True) -> SignatureDataset:
    """CEDAR: ``full_org/original_<w>_<i>.png`` and ``full_forg/forgeries_<w>_<i>.png``."""
    root = Path(root)
    _require_dir(root, "CEDAR root")
    skipped: list[str] = []
    genuine: dict[int, list[tuple[int, Path]]] = {}
    forged: dict[int, list[tuple[int, Path]]] = {}
    for sub, pattern, target in (
        ("full_org", _CEDAR_GENUINE, genuine),
        ("full_forg", _CEDAR_FORGED, forged),
    ):
        folder = root / sub
        _require_dir(folder, f"CEDAR {sub}")
        for path in _sorted_files(folder):
            match = pattern.match(path.name)
            if match is None:
                expected = pattern.pattern.strip("^$").replace("\\", "")
                _problem(f"{path}: unexpected file name (expected {expected})", strict, skipped)
                continue
            refusal = _not_a_file(path)
            if refusal is not None:
                _problem(f"{path}: unexpected file ({refusal})", strict, skipped)
                continue
            writer, index = int(match.group(1)), int(match.group(2))
            target.setdefault(writer, []).append((index, path))
    for writer in sorted(set(forged) - set(genuine)):
        _problem(
            f"{root / 'full_forg'}: writer {writer} has forgeries but no genuine signatures",
            strict,
            skipped,
        )
    records = (
        WriterRecord(
            writer_id=f"cedar/{writer}",
            genuine=tuple(p for _, p in sorted(genuine[writer])),
            forged=tuple(p for _, p in sorted(forged.get(writer, []))),
        )
        for writer in sorted(genuine)
    )
    return _finish("cedar", root, "cedar", records, strict, skipped)


def read_bhsig260(
    root: str | Path, scripts: Sequence[str] = BHSIG_SCRIPTS, strict: bool = True
) -> SignatureDataset:
    """BHSig260: ``<Bengali|Hindi>/<w>/<B|H>-S-<w>-<G|F>-<nn>.tif``.

    ``root`` holds the script folders. Asking for both scripts when only one is
    present reads the one present; asking for a specific missing script is an error.
    """
    root = Path(root)
    _require_dir(root, "BHSig260 root")
    unknown = [s for s in scripts if s not in BHSIG_SCRIPTS]
    if unknown:
        raise DatasetError(f"unknown BHSig260 script {unknown[0]!r} (choose from Bengali, Hindi)")
    present = [s for s in scripts if (root / s).is_dir()]
    if not present:
        wanted = " or ".join(scripts)
        raise DatasetError(f"{root}: no {wanted} folder found (BHSig260 layout)")
    skipped: list[str] = []
    records: list[WriterRecord] = []
    for script in present:
        prefix = script[0].upper()
        for writer_dir in _sorted_files(root / script):
            if not writer_dir.is_dir():
                _problem(f"{writer_dir}: expected a writer folder", strict, skipped)
                continue
            genuine: list[tuple[int, Path]] = []
            forged: list[tuple[int, Path]] = []
            for path in _sorted_files(writer_dir):
                match = _BHSIG.match(path.name)
                if not (
                    match is not None
                    and path.is_file()
                    and match.group(1).upper() == prefix
                    and int(match.group(2)) == _as_int(writer_dir.name)
                ):
                    _problem(
                        f"{path}: unexpected file name (expected "
                        f"{prefix}-S-{writer_dir.name}-<G|F>-<nn>.tif)",
                        strict,
                        skipped,
                    )
                    continue
                kind_list = genuine if match.group(3).upper() == "G" else forged
                kind_list.append((int(match.group(4)), path))
            records.append(
                WriterRecord(
                    writer_id=f"{script.lower()}/{writer_dir.name}",
                    genuine=tuple(p for _, p in sorted(genuine)),
                    forged=tuple(p for _, p in sorted(forged)),
                )
            )
    name = "bhsig260" if len(present) > 1 else f"bhsig260-{present[0].lower()}"
    return _finish(name, root, "binarised", records, strict, skipped)


def _as_int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def read_folder_per_writer(
    root: str | Path, style: Style = "cedar", strict: bool = True
) -> SignatureDataset:
    """A user's own data: ``<root>/<writer>/*.png`` plus optional ``<writer>/forgeries/``.

    ``style`` picks the preprocessing: ``cedar`` (grey scans; the default) or
    ``binarised``. Non-image files are skipped with a warning.
    """
    root = Path(root)
    _require_dir(root, "signature root")
    skipped: list[str] = []
    records: list[WriterRecord] = []
    for writer_dir in _sorted_files(root):
        if not writer_dir.is_dir():
            if is_image_file(writer_dir):
                _problem(
                    f"{writer_dir}: image outside a writer folder (expected <root>/<writer>/)",
                    strict,
                    skipped,
                )
            continue
        genuine, forged = [], []
        for path in _sorted_files(writer_dir):
            if path.is_dir() and path.name.lower() in {"forgeries", "forged", "forgery"}:
                forged = [p for p in _sorted_files(path) if _keep_image(p, skipped)]
            elif path.is_file() and _keep_image(path, skipped):
                genuine.append(path)
        records.append(WriterRecord(writer_dir.name, tuple(genuine), tuple(forged)))
    return _finish("folder", root, style, records, strict, skipped)


def _keep_image(path: Path, skipped: list[str]) -> bool:
    if path.is_file() and is_image_file(path):
        return True
    warnings.warn(f"skipping {path}: not an image file", stacklevel=3)
    skipped.append(f"{path}: not an image file")
    return False


DATASET_NAMES = ("cedar", "bhsig260", "bengali", "hindi", "folder")


def load_signature_dataset(name: str, root: str | Path, strict: bool = True) -> SignatureDataset:
    """Read a dataset by name: cedar, bhsig260 (both scripts), bengali, hindi or folder."""
    key = name.lower()
    if key == "cedar":
        return read_cedar(root, strict=strict)
    if key == "bhsig260":
        return read_bhsig260(root, strict=strict)
    if key in ("bengali", "hindi"):
        return read_bhsig260(root, scripts=(key.capitalize(),), strict=strict)
    if key == "folder":
        return read_folder_per_writer(root, strict=strict)
    raise DatasetError(f"unknown dataset {name!r} (choose from {', '.join(DATASET_NAMES)})")
