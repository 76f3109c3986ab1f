"""The bad-input corpus of issue 14: what an attacker or a careless user hands inkface.

Each generator writes one bad thing into ``folder`` and returns a :class:`Bad`: the value
for the command line (or the API) and the name the one error line must show (the
offending file or field). Nothing large is written: a huge image is a header of a few
hundred bytes, a huge file is sparse. Generators are grouped by what the bad thing stands
in for: any input file, an image, a video, a folder of images, a run folder, a gallery
file, a recipe, a dataset root, an output path.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import shutil
import sqlite3
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from layouts import signature_image, write_cedar
from PIL import Image

HUGE_SPARSE = 300 * 1024 * 1024  # above every input limit (256 MiB images), no disk used


@dataclass(frozen=True)
class Bad:
    """``arg``: what goes on the command line; ``names``: what the error line must name;
    ``dataset``: the ``--dataset`` a face root is read as."""

    arg: str
    names: str
    dataset: str = ""

    @staticmethod
    def at(path: Path | str, names: Path | str | None = None, dataset: str = "") -> Bad:
        return Bad(os.fspath(path), os.fspath(path if names is None else names), dataset)


def _noise(n: int = 512) -> bytes:
    return random.Random(n).randbytes(n)


def _write(path: Path, data: bytes | str) -> Bad:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return Bad.at(path)


def _made(path: Path, make: Callable[[Path], object]) -> Bad:
    make(path)
    return Bad.at(path)


# --- any input file (the suffix says what it pretends to be) ---------------------------

FileKind = Callable[[Path, str], Bad]


def _loop(path: Path) -> Bad:
    other = path.with_name(f"pool{path.suffix}")
    path.symlink_to(other)
    other.symlink_to(path)
    return Bad.at(path)


def _unreadable(path: Path) -> Bad:
    """chmod 000 (root reads it anyway: the tests skip this kind when run as root)."""
    _write(path, _noise())
    os.chmod(path, 0)
    return Bad.at(path)


def _non_utf8_name(folder: Path, suffix: str) -> Bad:
    path = os.fsencode(folder) + b"/bad\xff" + os.fsencode(suffix)
    with open(path, "wb") as handle:
        handle.write(_noise())
    return Bad.at(os.fsdecode(path))


def _under_a_file(folder: Path, name: str) -> Bad:
    (folder / "plain.txt").write_text("a file, not a folder\n")
    return Bad.at(folder / "plain.txt" / name)


def _sparse(path: Path, size: int = HUGE_SPARSE) -> Bad:
    with open(path, "wb") as handle:
        handle.truncate(size)
    return Bad.at(path)


FILE_KINDS: dict[str, FileKind] = {
    "empty file": lambda f, s: _write(f / f"empty{s}", b""),
    "random bytes": lambda f, s: _write(f / f"noise{s}", _noise()),
    "text file": lambda f, s: _write(f / f"notes{s}", "these are my notes, not data\n"),
    "folder": lambda f, s: _made(f / f"folder{s}", Path.mkdir),
    "dangling link": lambda f, s: _made(f / f"dangling{s}", lambda p: p.symlink_to(f / "no")),
    "link loop": lambda f, s: _loop(f / f"loop{s}"),
    "missing": lambda f, s: Bad.at(f / f"missing{s}"),
    "FIFO": lambda f, s: _made(f / f"pipe{s}", os.mkfifo),
    "unreadable (chmod 000)": lambda f, s: _unreadable(f / f"locked{s}"),
    "non-UTF-8 name": _non_utf8_name,
    "newline in name": lambda f, s: _write(f / f"two\nlines{s}", _noise()),
    "under a file": lambda f, s: _under_a_file(f, f"x{s}"),
    "name too long": lambda f, s: Bad.at(f / ("n" * 300 + s)),
    "character device": lambda f, s: Bad.at("/dev/zero"),
    "sparse 300 MiB": lambda f, s: _sparse(f / f"huge{s}"),
}
NEEDS_NON_ROOT = {"unreadable (chmod 000)"}  # root reads any file


# --- images, videos and folders of images ---------------------------------------------

ImageKind = Callable[[Path], Bad]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_header(width: int, height: int) -> bytes:
    """A PNG of a few bytes whose IHDR declares ``width`` x ``height`` RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    body = _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _bmp_header(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + info


def _jpeg_header(width: int, height: int) -> bytes:
    """SOI, a baseline frame header declaring ``width`` x ``height``, EOI."""
    sof = struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0])
    return b"\xff\xd8\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


def _encoded(fmt: str, cut: bool = False) -> bytes:
    """A signature encoded as ``fmt``; ``cut``: only its first half."""
    buffer = io.BytesIO()
    Image.fromarray(signature_image(1, (60, 120))).convert("RGB").save(buffer, fmt)
    data = buffer.getvalue()
    return data[: len(data) // 2] if cut else data


def _bad_checksum(data: bytes) -> bytes:
    spoiled = bytearray(data)
    spoiled[29] ^= 0xFF  # the IHDR checksum
    return bytes(spoiled)


def _frames(path: Path) -> Bad:
    """Two frames: an animated GIF or WebP, a multi-page TIFF."""
    frames = [Image.new("RGB", (16, 16), (c, c, c)) for c in (0, 255)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return Bad.at(path)


def _array(path: Path, array: np.ndarray) -> Bad:
    Image.fromarray(array).save(path)
    return Bad.at(path)


_FTYP = struct.pack(">I", 24) + b"ftypheic" + struct.pack(">I", 0) + b"mif1heic"
IMAGE_KINDS: dict[str, ImageKind] = {
    "truncated PNG": lambda f: _write(f / "cut.png", _encoded("PNG", cut=True)),
    "truncated JPEG": lambda f: _write(f / "cut.jpg", _encoded("JPEG", cut=True)),
    "PNG declaring 20000x20000": lambda f: _write(f / "huge.png", png_header(20_000, 20_000)),
    "BMP declaring 30000x30000": lambda f: _write(f / "huge.bmp", _bmp_header(30_000, 30_000)),
    "JPEG declaring 65000x65000": lambda f: _write(f / "huge.jpg", _jpeg_header(65_000, 65_000)),
    "PNG declaring 0x0": lambda f: _write(f / "zero.png", png_header(0, 0)),
    "PNG with a bad checksum": lambda f: _write(f / "crc.png", _bad_checksum(_encoded("PNG"))),
    "16-bit TIFF": lambda f: _array(f / "deep.tif", np.full((20, 30), 40_000, np.uint16)),
    "float TIFF": lambda f: _array(f / "float.tif", np.full((20, 30), 0.5, np.float32)),
    "animated GIF": lambda f: _frames(f / "anim.gif"),
    "multi-page TIFF": lambda f: _frames(f / "pages.tif"),
    "animated WebP": lambda f: _frames(f / "anim.webp"),
    "HEIC": lambda f: _write(f / "photo.heic", _FTYP + _noise(256)),  # Pillow reads no HEIC
}
# Refused where grey is read (signatures), converted where RGB is (faces).
GREY_ONLY_IMAGE_KINDS: dict[str, ImageKind] = {
    "palette PNG": lambda f: _made(f / "palette.png", Image.new("P", (30, 20)).save),
}
_MP4 = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
VIDEO_KINDS: dict[str, ImageKind] = {
    "MP4 header only": lambda f: _write(f / "header.mp4", _MP4),
    "AVI header then noise": lambda f: _write(
        f / "noise.avi", b"RIFF" + struct.pack("<I", 4096) + b"AVI " + _noise()
    ),
}


def _folder_of(folder: Path, *writes: tuple[FileKind, str]) -> Bad:
    root = folder / "frames"
    root.mkdir()
    for kind, suffix in writes:
        kind(root, suffix)
    return Bad.at(root)


FOLDER_KINDS: dict[str, ImageKind] = {
    "empty folder": lambda f: _folder_of(f),
    "folder of corrupt images": lambda f: _folder_of(
        f, (FILE_KINDS["random bytes"], ".png"), (FILE_KINDS["text file"], ".jpg")
    ),
    "folder of non-images": lambda f: _folder_of(f, (FILE_KINDS["text file"], ".txt")),
    "folder of dangling links": lambda f: _folder_of(f, (FILE_KINDS["dangling link"], ".png")),
}


# --- run folders (``template`` is a valid run of the right task) ------------------------

RunKind = Callable[[Path, Path], Bad]


def _copy_run(folder: Path, template: Path) -> Path:
    run = folder / "run"
    shutil.copytree(template, run)
    return run


def _with_meta(change: Callable[[dict], object], whole_run: bool = False) -> RunKind:
    """A copy of ``template`` whose meta.json is changed; the error names meta.json, or
    the run folder when the change makes the whole run the wrong kind (``whole_run``)."""

    def make(folder: Path, template: Path) -> Bad:
        run = _copy_run(folder, template)
        data = json.loads((run / "meta.json").read_text())
        change(data)
        (run / "meta.json").write_text(json.dumps(data))
        return Bad.at(run, run if whole_run else run / "meta.json")

    return make


def _with_file(name: str, write: Callable[[Path], object]) -> RunKind:
    """A copy of ``template`` whose file ``name`` is removed, then made by ``write``."""

    def make(folder: Path, template: Path) -> Bad:
        run = _copy_run(folder, template)
        (run / name).unlink(missing_ok=True)
        write(run / name)
        return Bad.at(run, run / name)

    return make


def _truncated(name: str) -> RunKind:
    """A copy of ``template`` with only the first half of its file ``name``."""

    def make(folder: Path, template: Path) -> Bad:
        run = _copy_run(folder, template)
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: len(data) // 2])
        return Bad.at(run, run / name)

    return make


def _swap_task(data: dict) -> None:
    swapped = "face-classification" if "signature" in data["task"] else "signature-verification"
    data["task"] = swapped


class _Payload:
    """A pickled object whose loading would create a folder: it must never run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (os.makedirs, (self.marker,))


def _other_architecture(path: Path) -> None:
    from inkface.models import get_model

    meta = json.loads((path.parent / "meta.json").read_text())
    other = "deepsign" if meta["architecture"] != "deepsign" else "smile_cnn"
    torch.save(get_model(other).state_dict(), path)


_PWNED = "pwned"  # made next to the bad run folder if a pickled payload ever ran
RUN_KINDS: dict[str, RunKind] = {
    "missing run folder": lambda f, t: Bad.at(f / "no-such-run"),
    "run folder is a file": lambda f, t: FILE_KINDS["text file"](f, ""),
    "empty run folder": lambda f, t: _made(f / "empty-run", Path.mkdir),
    "meta.json not JSON": _with_file("meta.json", lambda p: p.write_text("{")),
    "meta.json not UTF-8": _with_file("meta.json", lambda p: p.write_bytes(b'{"a": "\xff"}')),
    "meta.json a list": _with_file("meta.json", lambda p: p.write_text("[1, 2]")),
    "meta.json a folder": _with_file("meta.json", Path.mkdir),
    "meta.json a FIFO": _with_file("meta.json", os.mkfifo),
    "meta.json sparse 2 MiB": _with_file("meta.json", lambda p: _sparse(p, 2 << 20)),
    "meta.json deeply nested": _with_file("meta.json", lambda p: p.write_text("[" * 10**5)),
    "meta.json huge input_size": _with_meta(lambda d: d.update(input_size=[10**9, 10**9])),
    "meta.json NaN threshold": _with_meta(lambda d: d.update(threshold=float("nan"))),
    "meta.json negative threshold": _with_meta(lambda d: d.update(threshold=-1.0)),
    "meta.json future format": _with_meta(lambda d: d.update(format_version=99)),
    "meta.json unknown architecture": _with_meta(lambda d: d.update(architecture="nope")),
    "meta.json unknown task": _with_meta(lambda d: d.update(task="astrology"), whole_run=True),
    "meta.json task swapped": _with_meta(_swap_task, whole_run=True),
    "meta.json bogus model option": _with_meta(lambda d: d.update(model_kwargs={"bogus": 1})),
    "model.pt missing": _with_file("model.pt", lambda p: None),
    "model.pt empty": _with_file("model.pt", Path.touch),
    "model.pt random bytes": _with_file("model.pt", lambda p: p.write_bytes(_noise())),
    "model.pt plain pickle": _with_file("model.pt", lambda p: p.write_bytes(pickle.dumps([1]))),
    "model.pt pickled payload": _with_file(
        "model.pt", lambda p: torch.save({"w": _Payload(p.parent.parent / _PWNED)}, p)
    ),
    "model.pt list of tensors": _with_file("model.pt", lambda p: torch.save([torch.ones(2)], p)),
    "model.pt other architecture": _with_file("model.pt", _other_architecture),
    "model.pt truncated": _truncated("model.pt"),
    "model.pt a folder": _with_file("model.pt", Path.mkdir),
    "model.onnx junk": _with_file("model.onnx", lambda p: p.write_bytes(_noise())),
}
CLASSIFIER_RUN_KINDS: dict[str, RunKind] = {
    "meta.json too few class names": _with_meta(lambda d: d.update(class_names=["one"])),
}
VERIFIER_RUN_KINDS: dict[str, RunKind] = {
    "meta.json malformed decision policy": _with_meta(
        lambda d: d.update(verification={"format": 1, "operating_points": "lots"})
    ),
}


# --- gallery files (``template`` is a valid gallery with writers ann and bob) -------------

GalleryKind = Callable[[Path, Path], Bad]
_FIRST_REF = "UPDATE refs SET embedding = ? WHERE id = (SELECT MIN(id) FROM refs)"


def _edited(sql: str, *params: object) -> GalleryKind:
    """A copy of ``template`` changed by one SQL statement."""

    def make(folder: Path, template: Path) -> Bad:
        path = folder / "gallery.db"
        shutil.copy(template, path)
        db = sqlite3.connect(path)
        with db:
            db.execute(sql, params)
        db.close()
        return Bad.at(path)

    return make


def _foreign_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE t (x)")
    db.close()


def _nan_blob(folder: Path, template: Path) -> Bad:
    db = sqlite3.connect(template)
    (blob,) = db.execute("SELECT embedding FROM refs LIMIT 1").fetchone()
    db.close()
    return _edited(_FIRST_REF, np.full(len(blob) // 4, np.nan, np.float32).tobytes())(
        folder, template
    )


def _as_gallery(kind: str) -> GalleryKind:
    return lambda folder, template: FILE_KINDS[kind](folder, ".db")


GALLERY_KINDS: dict[str, GalleryKind] = {
    **{k: _as_gallery(k) for k in ("random bytes", "folder", "under a file", "dangling link")},
    "foreign SQLite database": lambda f, t: _made(f / "other.db", _foreign_sqlite),
    "truncated database": lambda f, t: _write(f / "cut.db", t.read_bytes()[:8192]),
    "corrupt identity JSON": _edited("UPDATE meta SET value = '{x' WHERE key = 'model_identity'"),
    "future schema version": _edited("UPDATE meta SET value = '9' WHERE key = 'schema_version'"),
    "blob of the wrong length": _edited(_FIRST_REF, b"\x01\x02\x03\x04\x05"),
    "blob of the wrong dimension": _edited(_FIRST_REF, np.zeros(7, np.float32).tobytes()),
    "NaN blob": _nan_blob,
    "orphan reference": _edited(
        "INSERT INTO refs(writer_id, source, embedding) SELECT 999, 'x', embedding FROM refs"
    ),
    "corrupt writer thresholds": _edited("UPDATE writer_stats SET thresholds = '{oops'"),
}
# Only for commands that open an existing gallery (enrolment creates a missing one).
EXISTING_GALLERY_KINDS: dict[str, GalleryKind] = {
    "missing": _as_gallery("missing"),
    "empty file": _as_gallery("empty file"),
}


# --- recipes ---------------------------------------------------------------------------

RecipeKind = Callable[[Path], Bad]


def billion_laughs(folder: Path) -> Bad:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return _write(folder / "recipe.yaml", "name: lol\n" + "\n".join(lines) + "\n")


def _recipe(text: str | bytes) -> RecipeKind:
    return lambda folder: _write(folder / "recipe.yaml", text)


RECIPE_KINDS: dict[str, RecipeKind] = {
    "billion laughs": billion_laughs,
    "wrong types": _recipe("name: [1, 2]\nmodel: {name: 5, kwargs: 3}\n"),
    "invalid YAML": _recipe("name: x\nmodel: {name: deepsign\n  - ]\n"),
    "a list": _recipe("- name: x\n- model: deepsign\n"),
    "unknown key": _recipe("name: x\nbogus_key: 1\n"),
    "not UTF-8": _recipe(b"name: \xff\xfe\n"),
    "nested 1000 deep": _recipe("name: x\nmodel: " + "[" * 1000 + "]" * 1000 + "\n"),
    "python tag": _recipe("name: !!python/object/apply:os.system ['true']\n"),
    "unknown architecture": _recipe("name: x\nmodel: {name: nope}\ndata: {train: [{name: x}]}\n"),
    "unknown built-in name": lambda folder: Bad("no-such-recipe", "no-such-recipe"),
}


# --- dataset roots ---------------------------------------------------------------------

RootKind = Callable[[Path], Bad]
ROOT_KINDS: dict[str, RootKind] = {
    kind: (lambda folder, kind=kind: FILE_KINDS[kind](folder, ""))
    for kind in ("missing", "dangling link", "FIFO", "under a file", "character device")
}
ROOT_KINDS["a file"] = lambda folder: FILE_KINDS["text file"](folder, "")
ROOT_KINDS["empty folder"] = lambda folder: FILE_KINDS["folder"](folder, "")


def _cedar_with(folder: Path, change: Callable[[Path], object], names: str = "") -> Bad:
    """A small CEDAR root whose ``full_org/original_2_2.png`` is given to ``change``."""
    root = write_cedar(folder / "cedar", writers=3, genuine=3, forged=1)
    image = root / "full_org" / "original_2_2.png"
    change(image)
    return Bad.at(root, names or image)


def _replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _forgeries_only(image: Path) -> None:
    for path in image.parent.glob("original_3_*.png"):
        path.unlink()


# Kinds only a command that decodes the images sees (listing commands accept them).
CEDAR_DECODE_KINDS: dict[str, RootKind] = {
    "CEDAR with a corrupt image": lambda f: _cedar_with(f, lambda p: p.write_bytes(_noise())),
    "CEDAR with a FIFO image": lambda f: _cedar_with(f, _replace_with_fifo),
}
CEDAR_KINDS: dict[str, RootKind] = {
    "CEDAR with an unexpected name": lambda f: _cedar_with(
        f, lambda p: shutil.copy(p, p.with_name("scan (copy).png")), "scan (copy).png"
    ),
    "CEDAR writer with forgeries only": lambda f: _cedar_with(f, _forgeries_only, "writer 3"),
}


def writer_folders(folder: Path, writers: int = 3, images: int = 4) -> Path:
    """A valid ``<root>/<writer>/*.png`` root (train-id's layout)."""
    root = folder / "writers"
    for w in range(writers):
        (root / f"w{w}").mkdir(parents=True)
        for i in range(images):
            Image.fromarray(signature_image(w * 10 + i)).save(root / f"w{w}" / f"{i}.png")
    return root


def _writers_with(folder: Path, change: Callable[[Path], object], names: str) -> Bad:
    root = writer_folders(folder)
    change(root)
    return Bad.at(root, root / names)


WRITER_ROOT_KINDS: dict[str, RootKind] = {
    "writer folders with a corrupt image": lambda f: _writers_with(
        f, lambda r: (r / "w1" / "2.png").write_bytes(_noise()), "w1/2.png"
    ),
    "a writer with one image": lambda f: _writers_with(
        f, lambda r: [(r / "w2" / f"{i}.png").unlink() for i in (1, 2, 3)], "w2"
    ),
}


def genki_root(folder: Path, n: int = 6) -> Path:
    """A valid GENKI-4K root: ``files/fileNNNN.jpg`` and ``labels.txt``."""
    root = folder / "genki"
    (root / "files").mkdir(parents=True)
    for i in range(1, n + 1):
        face = np.full((48, 48, 3), 40 * (i % 5), np.uint8)
        Image.fromarray(face).save(root / "files" / f"file{i:04d}.jpg")
    (root / "labels.txt").write_text("".join(f"{i % 2} 0 0 0\n" for i in range(n)))
    return root


def _genki_with(folder: Path, change: Callable[[Path], object], names: str) -> Bad:
    root = genki_root(folder)
    change(root)
    return Bad.at(root, root / names, "genki")


def _labels_folder(root: Path) -> None:
    (root / "labels.txt").unlink()
    (root / "labels.txt").mkdir()


def _affectnet(folder: Path, row: bytes, names: str = "training.csv:3") -> Bad:
    """An AffectNet root whose training.csv has one good row, then ``row``."""
    root = folder / "affectnet"
    (root / "Manually_Annotated_file_lists").mkdir(parents=True)
    (root / "Manually_Annotated_Images" / "1").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(root / "Manually_Annotated_Images" / "1" / "a.jpg")
    Image.new("RGB", (32, 32)).save(folder / "secret.jpg")  # outside the dataset
    header = b"subDirectory_filePath,x,y,w,h,landmarks,expression,valence,arousal\n"
    good = b"1/a.jpg,1,1,20,20,0;0,1,0.5,0.1\n"
    (root / "Manually_Annotated_file_lists" / "training.csv").write_bytes(header + good + row)
    return Bad.at(root, names, "affectnet")


FACE_ROOT_KINDS: dict[str, RootKind] = {
    "GENKI labels.txt with a bad row": lambda f: _genki_with(
        f, lambda r: (r / "labels.txt").write_text("1 0 0 0\nyes 0 0\n"), "labels.txt"
    ),
    "GENKI image missing": lambda f: _genki_with(
        f, lambda r: (r / "files" / "file0003.jpg").unlink(), "files/file0003.jpg"
    ),
    "GENKI labels.txt a folder": lambda f: _genki_with(f, _labels_folder, "labels.txt"),
    "AffectNet CSV with ../ paths": lambda f: _affectnet(f, b"../../secret.jpg,1,1,20,20,,1,0,0\n"),
    "AffectNet CSV not UTF-8": lambda f: _affectnet(
        f, b"1/\xff.jpg,1,1,20,20,,1,0,0\n", "training.csv"
    ),
    "AffectNet CSV with a bad box": lambda f: _affectnet(f, b"1/a.jpg,1,1,-20,nan,,1,0,0\n"),
}
FACE_DECODE_KINDS: dict[str, RootKind] = {
    "GENKI with a corrupt image": lambda f: _genki_with(
        f, lambda r: (r / "files" / "file0002.jpg").write_bytes(_noise()), "files/file0002.jpg"
    ),
}


# --- output paths ----------------------------------------------------------------------

OutputKind = Callable[[Path], Bad]
FILE_OUTPUT_KINDS: dict[str, OutputKind] = {
    "an existing folder": lambda f: _made(f / "out.d", Path.mkdir),
    "under a file": lambda f: _under_a_file(f, "x.out"),
    "dangling link": lambda f: FILE_KINDS["dangling link"](f, ".out"),
    "a full device (/dev/full)": lambda f: Bad.at("/dev/full"),
}
FOLDER_OUTPUT_KINDS: dict[str, OutputKind] = {
    "an existing file": lambda f: FILE_KINDS["text file"](f, ".txt"),
    "under a file": lambda f: _under_a_file(f, "x"),
    "dangling link": lambda f: FILE_KINDS["dangling link"](f, ""),
    "a character device": lambda f: Bad.at("/dev/full"),
}

GROUPS = (
    FILE_KINDS,
    IMAGE_KINDS,
    GREY_ONLY_IMAGE_KINDS,
    VIDEO_KINDS,
    FOLDER_KINDS,
    RUN_KINDS,
    CLASSIFIER_RUN_KINDS,
    VERIFIER_RUN_KINDS,
    GALLERY_KINDS,
    EXISTING_GALLERY_KINDS,
    RECIPE_KINDS,
    ROOT_KINDS,
    CEDAR_DECODE_KINDS,
    CEDAR_KINDS,
    WRITER_ROOT_KINDS,
    FACE_ROOT_KINDS,
    FACE_DECODE_KINDS,
    FILE_OUTPUT_KINDS,
    FOLDER_OUTPUT_KINDS,
)
