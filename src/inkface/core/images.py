"""Safe image decoding shared by every reader (signatures, faces, the face pipeline and
the HTTP service), so that every command accepts and refuses the same images.

Pillow is used (not ``cv2.imread``) because it reports what OpenCV hides: the image
mode (16-bit, palette), truncation, and decompression bombs. A file first passes the
input gate (:mod:`inkface.core.input_gate`: a regular file, readable, at most
``MAX_IMAGE_BYTES``); the header's size is checked against ``MAX_PIXELS`` before any
pixel is decoded. The mode policy, the same everywhere:

* 8-bit grey, RGB, CMYK, YCbCr and bilevel images are converted (transparency is
  composited onto white);
* palette images are converted to RGB, but refused as grey (their grey levels depend on
  a colour table, so a signature's ink could silently become background);
* 16/32-bit integer and float images are refused (no rescaling is guessed);
* animated or multi-frame images (GIF, APNG, WebP, multi-page TIFF) are refused rather
  than silently reduced to their first frame.

Every failure becomes an :class:`~inkface.core.errors.ImageError` whose one-line message
names the file.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from inkface.core.errors import ImageError, InkfaceError
from inkface.core.input_gate import open_input_file

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})
# The input limits (README, "Limits"): a file above MAX_IMAGE_BYTES is refused before it is
# opened, an image whose header declares more than MAX_PIXELS pixels before it is decoded.
MAX_IMAGE_BYTES = 256 * 1024 * 1024  # 256 MiB, far above any scan or photo we expect
MAX_PIXELS = 50_000_000  # larger than any scanned signature or photo we expect

# 8-bit modes that convert to grey or RGB without guessing.
_EIGHT_BIT_MODES = {"1", "L", "LA", "RGB", "RGBA", "CMYK", "YCbCr"}


def is_image_file(path: Path) -> bool:
    """True when ``path`` has one of the image suffixes inkface reads."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def _on_white(img: Image.Image) -> Image.Image:
    """Composite transparent pixels onto white paper."""
    background = Image.new("RGBA", img.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, img.convert("RGBA"))


def _decode(
    source: Path | bytes,
    convert: Callable[[Image.Image], np.ndarray],
    palette_ok: bool,
    name: str | None = None,
) -> np.ndarray:
    """Gate, open, check and convert one image; every failure is one ImageError naming
    the file (``name``, or the path). A path must pass the input gate (a regular file of
    at most ``MAX_IMAGE_BYTES``: a FIFO is refused without being opened); the pixel limit
    is checked from the header, before the pixels are decoded."""
    label = name if name is not None else str(source)
    with contextlib.ExitStack() as stack:
        if isinstance(source, bytes):
            if len(source) > MAX_IMAGE_BYTES:
                raise ImageError(
                    f"{label}: image is {len(source):,} bytes, above the "
                    f"{MAX_IMAGE_BYTES:,}-byte limit"
                )
            stream: BinaryIO = io.BytesIO(source)
        else:
            stream = stack.enter_context(
                open_input_file(source, "image file", MAX_IMAGE_BYTES, error=ImageError)
            )
        array = _decode_stream(stream, label, convert, palette_ok)
    if array.size == 0:
        raise ImageError(f"{label}: image has no pixels")
    return array


def _decode_stream(
    stream: BinaryIO,
    label: str,
    convert: Callable[[Image.Image], np.ndarray],
    palette_ok: bool,
) -> np.ndarray:
    """Decode an open image stream under the mode policy of the module docstring."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as img:
                _check_header(img, label, palette_ok)
                img.load()
                # Phone photos store "rotate me" in EXIF: show pixels the way people see them.
                img = ImageOps.exif_transpose(img)
                if img.mode in ("LA", "RGBA", "P", "PA"):
                    img = _on_white(img)
                return convert(img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not a readable image (unknown or corrupt format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{label}: image declares more than {MAX_PIXELS:,} pixels (decompression bomb guard)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{label}: cannot decode image ({_one_line(exc)})") from None


def _check_header(img: Image.Image, label: str, palette_ok: bool) -> None:
    """Size, mode and frame count, from the header alone (nothing decoded yet)."""
    if img.width * img.height > MAX_PIXELS:
        raise ImageError(
            f"{label}: image is {img.width}x{img.height}, above the {MAX_PIXELS:,}-pixel limit"
        )
    if getattr(img, "is_animated", False):
        raise ImageError(
            f"{label}: animated or multi-frame image ({img.format}) is not supported; "
            "save the frame you want as a single image"
        )
    if img.mode in ("P", "PA") and not palette_ok:
        raise ImageError(
            f"{label}: palette image (mode {img.mode}) is not supported; "
            "convert it to 8-bit greyscale"
        )
    if img.mode not in _EIGHT_BIT_MODES | {"P", "PA"}:
        raise ImageError(
            f"{label}: {img.mode} image is not supported (16/32-bit or float); "
            "convert it to 8 bits per channel"
        )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def read_grey(path: str | Path) -> np.ndarray:
    """Decode ``path`` as an 8-bit grey image (H, W) uint8.

    Refused with a one-line :class:`ImageError`: missing, empty or truncated files,
    anything but a regular file (FIFOs, devices, folders, dangling links), files above
    ``MAX_IMAGE_BYTES``, non-images, images above ``MAX_PIXELS``, 16/32-bit, multi-frame
    and palette images (their grey levels depend on a colour table, so a signature's ink
    could silently become background; convert them to 8-bit greyscale first).
    """
    return _decode(Path(path), _to_grey, palette_ok=False)


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode ``path`` as (H, W, 3) uint8 RGB (photos: palette images are accepted, grey
    is replicated, transparency composited onto white); failures as :func:`read_grey`."""
    return _decode(Path(path), _to_rgb, palette_ok=True)


ColorMode = Literal["grey", "rgb"]


def decode_image_bytes(data: bytes, name: str, mode: ColorMode = "rgb") -> np.ndarray:
    """Decode an uploaded image held in memory with the same checks as the file readers
    (``grey``: (H, W) as :func:`read_grey`; ``rgb``: (H, W, 3) as :func:`read_rgb`).
    ``name`` (a form field or file name) is what the one-line error names."""
    if not data:
        raise ImageError(f"{name}: empty file, not an image")
    if mode == "grey":
        return _decode(data, _to_grey, palette_ok=False, name=name)
    if mode == "rgb":
        return _decode(data, _to_rgb, palette_ok=True, name=name)
    raise InkfaceError(f"mode: expected grey or rgb, got {mode!r}")


def _to_grey(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), np.uint8)


def _to_rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), np.uint8)


def list_images(folder: str | Path | None, what: str) -> list[Path]:
    """Every image under ``folder`` (recursively, sorted); an error when there is none."""
    if folder is None:
        raise InkfaceError(f"{what} folder not given")
    root = Path(folder)
    if not root.is_dir():
        raise InkfaceError(f"{root}: {what} folder not found")
    files = (p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    paths = sorted(p for p in files if is_image_file(p))
    if not paths:
        raise InkfaceError(f"{root}: {what} folder holds no images")
    return paths
