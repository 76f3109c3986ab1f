"""Where the face pipeline's frames come from: an image, a folder of images, a video file,
a webcam or a network stream, behind one iterable interface.

Every source yields :class:`Frame` tuples ``(index, timestamp_s, image_bgr)`` and tells
its ``fps`` and ``frame_count`` (``None`` for live sources). Images are decoded by
:mod:`inkface.core.images` (never by ``cv2``), so an image whose header declares a huge
size is refused before decoding, as in every other command. Files that cannot be read
raise :class:`~inkface.core.errors.InkfaceError` naming them; a corrupt image inside a folder
is skipped with a warning and counted in ``skipped`` (one bad file should not stop a
long batch, §7.3 of the smile report runs the pipeline over a stream of frames).
"""

from __future__ import annotations

import errno
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from inkface.core.errors import ImageError, InkfaceError
from inkface.core.images import MAX_PIXELS, read_rgb
from inkface.core.input_gate import check_input_file
from inkface.core.paths import opencv_path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm"})
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
FOLDER_FPS = 10.0  # nominal rate of an image folder (timestamps and the annotated video)
# stat() errors that mean "nothing there" (those Path.exists() answers False to)
_MISSING = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


class Frame(NamedTuple):
    """One frame: its position, its time in seconds and its BGR uint8 pixels."""

    index: int
    timestamp_s: float
    image: np.ndarray


class FrameSource:
    """Base class: iterate for frames; ``close()`` (or ``with``) frees the device."""

    name: str = ""
    fps: float | None = None
    frame_count: int | None = None
    live: bool = False

    def __init__(self) -> None:
        self.skipped = 0

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the capture device or file (nothing to do for images)."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_image(path: Path) -> np.ndarray:
    """A BGR uint8 image, or :class:`ImageError` naming the file.

    Decoded by :func:`inkface.core.images.read_rgb`, the reader every other command uses:
    the same input gate (regular files only, byte and pixel limits checked before
    decoding) and the same mode policy.
    """
    return np.ascontiguousarray(read_rgb(path)[:, :, ::-1])


class ImageSource(FrameSource):
    """A single picture: one frame at time 0."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = str(self.path)
        self.frame_count = 1
        self._image = read_image(self.path)  # fail now, naming the file

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(0, 0.0, self._image)


class FolderSource(FrameSource):
    """The images of a folder in sorted name order, at a nominal ``fps``.

    Files whose suffix is not an image's are ignored; images that fail to decode are
    skipped with a warning (``skipped`` counts them) so frame indices stay contiguous.
    """

    def __init__(self, path: str | Path, fps: float = FOLDER_FPS) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = str(self.path)
        self.fps = float(fps)
        self.files = sorted(
            p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not self.files:
            raise InkfaceError(f"{self.path}: no image files in this folder")
        self.frame_count = len(self.files)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        for path in self.files:
            try:
                image = read_image(path)
            except ImageError as exc:
                self.skipped += 1
                warnings.warn(f"skipping {exc}", stacklevel=2)
                continue
            yield Frame(index, index / self.fps, image)
            index += 1


class CaptureSource(FrameSource):
    """A ``cv2.VideoCapture``: video file, webcam index or stream URL.

    Files get timestamps ``index / fps`` (exact and repeatable); live sources get the
    wall-clock time since the first frame.
    """

    def __init__(self, target: str | int, name: str, live: bool) -> None:
        super().__init__()
        self.name = name
        self.live = live
        kind = "stream or camera" if live else "video file"
        self._cap = cv2.VideoCapture(
            opencv_path(target, kind) if isinstance(target, str) else target
        )
        if not self._cap.isOpened():
            self._cap.release()
            raise InkfaceError(f"{name}: cannot open this {kind}")
        width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if width * height > MAX_PIXELS:
            self._cap.release()
            raise InkfaceError(
                f"{name}: frames are {width}x{height}, above the {MAX_PIXELS:,}-pixel limit"
            )
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.0 < fps < 1000.0 else None
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = None if live or count <= 0 else count

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        start = time.monotonic()
        while self._cap.isOpened():
            ok, image = self._cap.read()
            if not ok or image is None:
                break
            live = self.live or not self.fps
            yield Frame(index, time.monotonic() - start if live else index / self.fps, image)
            index += 1

    def close(self) -> None:
        self._cap.release()


def open_source(spec: str | Path, fps: float = FOLDER_FPS) -> FrameSource:
    """The frame source ``spec`` names.

    ``"0"``, ``"1"``... : webcam index; ``rtsp://``, ``http(s)://``... : network stream;
    a folder: its images (sorted, at ``fps``); an image file; a character device such as
    ``/dev/video0``: a camera; any other regular file: a video. FIFOs, sockets and other
    special files are refused without being opened (reading one could block forever).
    """
    text = str(spec).strip()
    if not text:
        raise InkfaceError("source: empty")
    if text.isdigit():
        return CaptureSource(int(text), f"camera {text}", live=True)
    if text.lower().startswith(STREAM_SCHEMES):
        return CaptureSource(text, text, live=True)
    path = Path(text)
    try:
        path.stat()
    except OSError as exc:
        if exc.errno not in _MISSING:  # a name too long (ENAMETOOLONG), no access...
            raise InkfaceError(f"{path}: source cannot be read ({exc.strerror})") from None
        what = "dangling symbolic link" if path.is_symlink() else "no such file or folder"
        raise InkfaceError(f"{path}: {what} (source)") from None
    if path.is_dir():
        return FolderSource(path, fps)
    if path.is_char_device() and path.suffix.lower() not in IMAGE_SUFFIXES:
        return CaptureSource(str(path), str(path), live=True)  # a camera: /dev/video0
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    check_input_file(path, "video file")  # FIFOs, sockets... refused without opening
    source = CaptureSource(str(path), str(path), live=False)
    if source.frame_count is None and source.fps is None:
        source.close()
        raise InkfaceError(f"{path}: not a readable video file")
    return source
