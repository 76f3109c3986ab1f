"""The input gate: special files refused without being opened, byte and pixel limits
checked before decoding, one mode policy in every reader, one-line errors naming the
file (also for names that are not UTF-8)."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from inkface.cli.main import main, one_line
from inkface.core import images
from inkface.core.errors import ImageError, InkfaceError
from inkface.core.images import decode_image_bytes, read_grey, read_rgb
from inkface.core.input_gate import check_input_file
from inkface.faces.pipeline import sources
from inkface.faces.pipeline.sources import open_source, read_image

TIMEOUT = 120  # seconds: a hang fails the test instead of blocking the suite


def png_header(width: int, height: int) -> bytes:
    """A PNG that is only a signature, an IHDR declaring ``width`` x ``height`` RGB and
    an IEND: a few bytes that claim a huge image."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + end


def bmp_header(width: int, height: int) -> bytes:
    """A 24-bit BMP header declaring ``width`` x ``height``, with no pixels after it."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + info


def _cv2_must_not_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchecked image reached cv2")

    for name in ("imread", "imdecode"):
        monkeypatch.setattr(cv2, name, refuse)


READERS: dict[str, Callable[[Path], np.ndarray]] = {
    "read_grey": read_grey,
    "read_rgb": read_rgb,
    "analyze": read_image,
    "bytes": lambda p: decode_image_bytes(p.read_bytes(), str(p)),
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("huge.png", png_header(20_000, 20_000), "pixels"),
        ("big.png", png_header(8_000, 8_000), "8000x8000, above the 50,000,000-pixel limit"),
        ("huge.bmp", bmp_header(30_000, 30_000), "pixels"),
    ],
)
def test_declared_size_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str, name: str, data: bytes, message
) -> None:
    _cv2_must_not_decode(monkeypatch)
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImageError, match=message) as info:
        READERS[reader](path)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_huge_image_source_never_reaches_cv2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cv2_must_not_decode(monkeypatch)
    (tmp_path / "huge.png").write_bytes(png_header(20_000, 20_000))
    with pytest.raises(ImageError, match=r"huge\.png"):
        open_source(tmp_path / "huge.png")


def test_byte_limit_is_checked_before_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "a.png")
    size = (tmp_path / "a.png").stat().st_size
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", size - 1)
    for reader in READERS.values():
        with pytest.raises(ImageError, match=f"a.png: .*{size:,} bytes, above the"):
            reader(tmp_path / "a.png")


def _animated_gif(path: Path) -> None:
    frames = [Image.new("L", (8, 8), c) for c in (0, 255)]
    frames[0].save(path, save_all=True, append_images=frames[1:])


def _tiff_pages(path: Path) -> None:
    pages = [Image.new("L", (8, 8), c) for c in (0, 255)]
    pages[0].save(path, save_all=True, append_images=pages[1:])


# Each unusual mode, and what every reader does with it: None means "converted".
MODES = [
    ("deep.tif", lambda p: Image.fromarray(np.zeros((8, 8), np.uint16)).save(p), "16/32-bit"),
    ("float.tif", lambda p: Image.fromarray(np.zeros((8, 8), np.float32)).save(p), "16/32-bit"),
    ("anim.gif", _animated_gif, "animated or multi-frame"),
    ("pages.tif", _tiff_pages, "animated or multi-frame"),
    ("cmyk.jpg", lambda p: Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(p), None),
    ("rgba.png", lambda p: Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(p), None),
]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("name", "make", "message"), MODES)
def test_one_mode_policy_in_every_reader(
    tmp_path: Path, reader: str, name: str, make: Callable[[Path], None], message: str | None
) -> None:
    path = tmp_path / name
    make(path)
    if message is None:
        out = READERS[reader](path)
        assert out.dtype == np.uint8 and out.shape[:2] == (8, 8)
        if name == "rgba.png":
            assert int(out.min()) == 255  # transparency on white, in every reader
        return
    with pytest.raises(ImageError, match=message) as info:
        READERS[reader](path)
    assert name in str(info.value)


def test_palette_images_are_rgb_only(tmp_path: Path) -> None:
    Image.new("P", (8, 8)).save(tmp_path / "p.png")
    assert read_rgb(tmp_path / "p.png").shape == (8, 8, 3)
    assert read_image(tmp_path / "p.png").shape == (8, 8, 3)
    with pytest.raises(ImageError, match="palette image"):
        read_grey(tmp_path / "p.png")


def test_paths_that_are_not_regular_files(tmp_path: Path) -> None:
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "file").write_bytes(b"x")
    cases = {
        "folder.png": "is a folder, not a regular file",
        "dangling.png": "is a dangling symbolic link",
        "missing.png": "image file not found",
        "file/under.png": r"not found \(a parent is a file\)",
    }
    for name, message in cases.items():
        with pytest.raises(ImageError, match=message) as info:
            read_rgb(tmp_path / name)
        assert str(info.value).startswith(str(tmp_path / name))
    with pytest.raises(InkfaceError, match="/dev/null: video is a character device"):
        check_input_file("/dev/null", "video")


def test_video_frame_size_is_checked_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "small.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (32, 24))
    for _ in range(2):
        writer.write(np.zeros((24, 32, 3), np.uint8))
    writer.release()
    monkeypatch.setattr(sources, "MAX_PIXELS", 32 * 24 - 1)
    with pytest.raises(InkfaceError, match="frames are 32x24, above the 767-pixel limit"):
        open_source(path)


_READ_FIFO = """
import sys
from inkface.core.errors import InkfaceError
from inkface.core.images import read_grey, read_rgb
from inkface.faces.pipeline.sources import open_source
from inkface.signatures.data.preprocess import prepare_signatures
image, video = sys.argv[1:]
for name, read, path in (
    ("read_grey", read_grey, image), ("read_rgb", read_rgb, image),
    ("open_source", open_source, image), ("open_source", open_source, video),
    ("prepare_signatures", lambda p: prepare_signatures([p], (32, 32)), image),
):
    try:
        read(path)
        print(name, "read it")
    except InkfaceError as exc:
        print(name, "refused:", exc)
"""


def test_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    for name in ("pipe.png", "pipe"):
        os.mkfifo(tmp_path / name)
    done = subprocess.run(
        [sys.executable, "-c", _READ_FIFO, str(tmp_path / "pipe.png"), str(tmp_path / "pipe")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5
    for line in lines:
        assert "refused:" in line and "is a FIFO (named pipe), not a regular file" in line
    assert "pipe: video file is a FIFO" in lines[3]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from inkface.faces.classification.classifier import init_untrained_classifier

    return init_untrained_classifier(tmp_path_factory.mktemp("gate") / "run", "smile_cnn")


def _cli(args: list[str | bytes], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inkface", *args],
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=TIMEOUT,
        cwd=cwd,
    )


def _one_error_line(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    for needle in needles:
        assert needle in errors[0]


def test_cli_analyze_refuses_a_fifo_and_bad_names(tmp_path: Path, run_dir: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    os.mkfifo(work / "pipe.png")
    video = os.fsencode(work) + b"/v\xff.mp4"
    with open(video, "wb") as handle:
        handle.write(b"not a video")
    before = sorted(os.listdir(work))
    common = ["--run", str(run_dir), "--no-progress"]
    _one_error_line(_cli(["analyze", "pipe.png", *common], work), "pipe.png", "FIFO")
    # OpenCV crashed the process on such a name (exit -11); now it is one line.
    done = _cli(["analyze", video, *common, "--out", "out.mp4"], work)
    _one_error_line(done, "v\\udcff.mp4", "not valid UTF-8")
    assert sorted(os.listdir(work)) == before


def test_error_lines_stay_one_printable_line() -> None:
    assert one_line("a.png: bad\nthing\r\tx \udcff") == "a.png: bad\\nthing\\r\\tx \\udcff"
    assert one_line("plain × text") == "plain × text"


def test_a_non_utf8_name_on_a_strict_stream_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from inkface.core import download

    dest = tmp_path / os.fsdecode(b"w\xff")
    monkeypatch.setattr(download, "fetch", lambda remote, folder, *a, **k: folder / "x.onnx")
    strict = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", strict)
    assert main(["models", "fetch", "yunet", "--dest", str(dest)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "w\\udcff" in err[0] and err[0].endswith("cannot be written as utf-8")


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    """A phone photo stored sideways with EXIF orientation 6 is read upright."""
    from PIL import Image

    from inkface.core.images import decode_image_bytes, read_rgb

    stored = Image.new("RGB", (40, 20), (255, 255, 255))
    stored.paste((255, 0, 0), (0, 0, 10, 20))  # red stripe on the stored left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, quality=95)
    upright = read_rgb(path)
    assert upright.shape == (40, 20, 3)
    assert upright[2, 10, 0] > 200 and upright[2, 10, 1] < 80  # the stripe is now on top
    assert decode_image_bytes(path.read_bytes(), "upload").shape == (40, 20, 3)
