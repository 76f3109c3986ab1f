"""Safe image decoding shared by every reader.

Pillow is used (not ``cv2.imread``) because it reports what OpenCV hides: the image
mode (16-bit, palette), truncation, and decompression bombs. Every failure becomes an
:class:`~inkface.core.errors.ImageError` whose message names the file.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from inkface.core.errors import ImageError, InkfaceError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})
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
    """Open, check and convert one image; every failure is one ImageError naming the
    file (``name``, or the path). The pixel limit is checked from the header, before
    the pixels are decoded."""
    path = name if name is not None else source
    opened = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(opened) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise ImageError(
                        f"{path}: image is {img.width}x{img.height}, above the "
                        f"{MAX_PIXELS:,}-pixel limit"
                    )
                if img.mode in ("P", "PA") and not palette_ok:
                    raise ImageError(
                        f"{path}: palette image (mode {img.mode}) is not supported; "
                        "convert it to 8-bit greyscale"
                    )
                if img.mode not in _EIGHT_BIT_MODES | {"P", "PA"}:
                    raise ImageError(
                        f"{path}: {img.mode} image is not supported (16/32-bit or float); "
                        "convert it to 8 bits per channel"
                    )
                img.load()
                if img.mode in ("LA", "RGBA", "P", "PA"):
                    img = _on_white(img)
                array = convert(img)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not a readable image (unknown or corrupt format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path}: image is too large (decompression bomb guard)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: cannot decode image ({exc})") from None
    if array.size == 0:
        raise ImageError(f"{path}: image has no pixels")
    return array


def read_grey(path: str | Path) -> np.ndarray:
    """Decode ``path`` as an 8-bit grey image (H, W) uint8.

    Refused with a one-line :class:`ImageError`: missing, empty or truncated files,
    non-images, images above ``MAX_PIXELS``, 16/32-bit images and palette images (their
    grey levels depend on a colour table, so a signature's ink could silently become
    background; convert them to 8-bit greyscale first).
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
