"""Where analysed frames go: labelled boxes drawn on the frame, an annotated video file
(or, for a single image, an annotated image file), JSON Lines records and an optional
live window.

Boxes and labels follow the face-mask report's live demo ("Mask: 99.2%" above a
coloured box): green for the positive / good class (smile, mask worn, happiness), red
for its opposite, and a fixed colour per name for any other class, so a class always
has the same colour. Files are written to a temporary name and renamed when the run
ends cleanly (``inkface.core.atomic``): a failed run leaves no half file.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from inkface.core.errors import InkfaceError
from inkface.core.paths import opencv_path
from inkface.faces.pipeline.results import FrameResult

GREEN, RED, GREY = (0, 200, 0), (0, 0, 230), (160, 160, 160)
GOOD_CLASSES = frozenset({"smile", "smiling", "with_mask", "mask", "happiness", "happy"})
BAD_CLASSES = frozenset(
    {"no_smile", "not_smiling", "without_mask", "no_mask", "mask_weared_incorrect"}
)
DISPLAY_NAMES = {
    "smile": "Smile",
    "no_smile": "No smile",
    "with_mask": "Mask",
    "without_mask": "No Mask",
    "mask_weared_incorrect": "Mask worn incorrectly",
}
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def class_color(label: str) -> tuple[int, int, int]:
    """BGR colour of a class: green if good, red if bad, else a stable hue from its name."""
    key = label.lower()
    if key in GOOD_CLASSES:
        return GREEN
    if key in BAD_CLASSES:
        return RED
    hue = zlib.crc32(key.encode("utf-8")) % 180
    pixel = np.uint8([[[hue, 200, 230]]])
    b, g, r = cv2.cvtColor(pixel, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def label_text(head: str, label: str, score: float) -> str:
    """``Mask: 99.2%`` for classes with a display name (or a capitalised expression),
    ``head: label 51.0%`` for anonymous classes such as ``class_0``."""
    name = DISPLAY_NAMES.get(label)
    if name is None and label.isalpha():
        name = label.replace("_", " ").capitalize()
    if name is None:
        return f"{head}: {label} {100 * score:.1f}%"
    return f"{name}: {100 * score:.1f}%"


def draw_result(image: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of ``image`` with each face's box (coloured by its first head's class) and
    one text line per head above it."""
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    scale = max(0.4, min(1.0, canvas.shape[1] / 900))
    thick = 1 if scale < 0.7 else 2
    for face in result.faces:
        x1, y1, x2, y2 = face.box
        heads = list(face.heads.items())
        color = class_color(heads[0][1].label) if heads else GREY
        cv2.rectangle(canvas, (x1, y1), (x2 - 1, y2 - 1), color, thick)
        lines = [(label_text(name, h.label, h.score), class_color(h.label)) for name, h in heads]
        if not lines and face.track_id is not None:
            lines = [(f"#{face.track_id}", color)]
        y = y1 - 4
        for text, fill in reversed(lines):
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            top = max(th + base, y)
            # Keep the label inside the frame when the face is near its right edge.
            left = max(0, min(x1, canvas.shape[1] - tw - 3))
            cv2.rectangle(canvas, (left, top - th - base), (left + tw + 2, top), fill, -1)
            cv2.putText(
                canvas,
                text,
                (left + 1, top - base),
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                (255, 255, 255),
                thick,
                cv2.LINE_AA,
            )
            y = top - th - base - 1
    return canvas


class VideoSink:
    """Annotated frames into a video file; the size is fixed by the first frame (later
    frames of another size, e.g. from an image folder, are resized to it)."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_CODECS:
            raise InkfaceError(f"{path}: unsupported video type; use {', '.join(VIDEO_CODECS)}")
        self.codec = VIDEO_CODECS[suffix]
        self.fps = float(fps) if fps and fps > 0 else 10.0
        self.frames = 0
        self._size: tuple[int, int] | None = None
        self._writer: cv2.VideoWriter | None = None

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            self._size = (image.shape[1], image.shape[0])
            fourcc = cv2.VideoWriter_fourcc(*self.codec)
            target = opencv_path(self.path, "video output")
            self._writer = cv2.VideoWriter(target, fourcc, self.fps, self._size)
            if not self._writer.isOpened():
                raise InkfaceError(f"{self.path}: OpenCV cannot write {self.codec} video here")
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


class ImageSink:
    """The annotated frame of a single-image source as an image file (``--out x.png``);
    the format follows the suffix. Encoded in memory, so any file name works."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.suffix = self.path.suffix.lower()
        if self.suffix not in IMAGE_OUTPUTS:
            raise InkfaceError(f"{path}: unsupported image type; use {', '.join(IMAGE_OUTPUTS)}")
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self.frames:
            raise InkfaceError(f"{self.path}: an image output takes one frame; use a video type")
        ok, encoded = cv2.imencode(self.suffix, image)
        if not ok:
            raise InkfaceError(f"{self.path}: OpenCV cannot encode a {self.suffix} image")
        self.path.write_bytes(encoded.tobytes())
        self.frames += 1

    def close(self) -> None:
        """Nothing to release: the image is written whole by ``write``."""


def is_image_output(path: str | Path) -> bool:
    """Whether ``--out`` names an image (one annotated frame) rather than a video."""
    return Path(path).suffix.lower() in IMAGE_OUTPUTS


def frame_sink(path: str | Path, fps: float) -> VideoSink | ImageSink:
    """The sink of annotated frames ``path``'s suffix asks for: a video or one image."""
    if is_image_output(path):
        return ImageSink(path)
    if Path(path).suffix.lower() not in VIDEO_CODECS:
        raise InkfaceError(
            f"{path}: unsupported video type; use {', '.join(VIDEO_CODECS)} (or, for a "
            f"single-image source, an image type: {', '.join(IMAGE_OUTPUTS)})"
        )
    return VideoSink(path, fps)


class JsonlSink:
    """One JSON object per line, written through an open text handle."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.records = 0

    def write(self, record: dict[str, Any]) -> None:
        self.handle.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.records += 1


def gui_support() -> tuple[bool, str]:
    """Whether a window can be opened: a display and an OpenCV built with a GUI backend
    (the ``opencv-python-headless`` wheel has none)."""
    info = cv2.getBuildInformation()
    gui = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if "GUI:" in ln), "")
    if gui.upper() in ("", "NONE"):
        return False, "this OpenCV build has no GUI support (headless wheel)"
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False, "no display (DISPLAY is not set)"
    return True, f"OpenCV GUI: {gui}"


class LiveWindow:
    """A ``cv2.imshow`` window; ``show`` returns False once the user presses q or Esc."""

    def __init__(self, title: str = "inkface") -> None:
        self.title = title
        self._open = False

    def show(self, image: np.ndarray) -> bool:
        cv2.imshow(self.title, image)
        self._open = True
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        if self._open:
            cv2.destroyWindow(self.title)
            self._open = False
