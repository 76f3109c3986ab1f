"""Reading one batch input: an image's pixels, or a video's frames sampled every N.

Images go through the same gate as every other command (:mod:`inkface.core.images`:
regular files only, byte and pixel limits before decoding, one mode policy). Remote
URLs (``s3://``, ``gs://``, ``https://``...) are read with ``fsspec`` when it is
installed, under the same byte limit. Videos must be local files (OpenCV reads them);
a video that ends before the frame count its header declares is reported as truncated.
Every failure is an :class:`~inkface.core.errors.InkfaceError` whose one line the
batch turns into a failure row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import cv2
import numpy as np

from inkface.batch.inputs import local_path
from inkface.core.errors import ImageError, InkfaceError
from inkface.core.images import MAX_IMAGE_BYTES, MAX_PIXELS, decode_image_bytes, read_rgb
from inkface.core.input_gate import check_input_file
from inkface.core.paths import opencv_path


class SampledFrame(NamedTuple):
    """A video frame kept by ``--every-n-frames``: its index, time and BGR pixels."""

    index: int
    timestamp_s: float
    image: np.ndarray


def read_remote(url: str, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes at ``url`` through fsspec, at most ``max_bytes`` of them."""
    try:
        import fsspec  # optional: only remote manifests need it
    except ImportError:
        raise InkfaceError(
            f"{url}: reading URLs needs fsspec (pip install fsspec, plus s3fs or gcsfs)"
        ) from None
    try:
        with fsspec.open(url, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except ImportError as exc:  # the scheme's driver (s3fs, gcsfs) is missing
        raise InkfaceError(f"{url}: {exc}") from None
    except (OSError, ValueError) as exc:
        raise InkfaceError(f"{url}: cannot be read ({_one_line(exc)})") from None
    if len(data) > max_bytes:
        raise InkfaceError(f"{url}: above the {max_bytes:,}-byte limit")
    return data


def read_image_bgr(location: str) -> np.ndarray:
    """The (H, W, 3) uint8 BGR pixels of the image at ``location`` (path or URL)."""
    path = local_path(location)
    if path is None:
        rgb = decode_image_bytes(read_remote(location), location, "rgb")
    else:
        rgb = read_rgb(path)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def read_signature(location: str) -> str | np.ndarray:
    """A signature for a verifier: a local path as it is (the verifier decodes it with
    its own preprocessing), a remote one decoded to grey pixels."""
    path = local_path(location)
    if path is not None:
        return str(path)
    return decode_image_bytes(read_remote(location), location, "grey")


def sample_frames(location: str, every_n: int) -> Iterator[SampledFrame]:
    """Frames 0, N, 2N... of the local video at ``location``; a video that stops before
    the frame count its header declares raises (after its frames were yielded)."""
    if every_n < 1:
        raise InkfaceError(f"every_n_frames: must be >= 1, got {every_n}")
    path = local_path(location)
    if path is None:
        raise InkfaceError(f"{location}: videos must be local files")
    check_input_file(path, "video file")
    capture = cv2.VideoCapture(opencv_path(path, "video file"))
    try:
        if not capture.isOpened():
            raise InkfaceError(f"{location}: cannot open this video file")
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if width * height > MAX_PIXELS:
            raise InkfaceError(
                f"{location}: frames are {width}x{height}, above the {MAX_PIXELS:,}-pixel limit"
            )
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        fps = fps if 0.0 < fps < 1000.0 else 0.0
        declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        index = 0
        while True:
            keep = index % every_n == 0
            ok = capture.grab()
            if not ok:
                break
            if keep:
                ok, image = capture.retrieve()
                if not ok or image is None:
                    raise InkfaceError(f"{location}: frame {index} cannot be decoded")
                yield SampledFrame(index, index / fps if fps else 0.0, image)
            index += 1
        if index == 0:
            raise InkfaceError(f"{location}: no frame can be read (empty or corrupt video)")
        if declared > 0 and index < declared:
            raise InkfaceError(
                f"{location}: video ends after {index} of the {declared} frames its header "
                "declares (truncated?)"
            )
    finally:
        capture.release()


def failure_reason(exc: BaseException) -> str:
    """The one line a failure row carries."""
    if isinstance(exc, ImageError | InkfaceError):
        return _one_line(exc)
    return f"{type(exc).__name__}: {_one_line(exc)}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
