"""Safe image decoding shared by every reader.

Pillow is used (not ``cv2.imread``) because it reports what OpenCV hides: the image
mode (16-bit, palette), truncation, and decompression bombs. Every failure becomes an
:class:`~inkface.errors.ImageError` whose message names the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from inkface.errors import ImageError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})
MAX_PIXELS = 50_000_000  # larger than any scanned signature or photo we expect

# Modes that hold 8-bit luminance or colour, which we can convert to grey losslessly.
_GREY_MODES = {"1", "L", "LA", "RGB", "RGBA", "CMYK", "YCbCr"}


def is_image_file(path: Path) -> bool:
    """True when ``path`` has one of the image suffixes inkface reads."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_grey(path: str | Path) -> np.ndarray:
    """Decode ``path`` as an 8-bit grey image (H, W) uint8.

    Refused with a one-line :class:`ImageError`: missing, empty or truncated files,
    non-images, images above ``MAX_PIXELS``, 16/32-bit images and palette images (their
    grey levels depend on a colour table, so a signature's ink could silently become
    background; convert them to 8-bit greyscale first).
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                mode = img.mode
                if img.width * img.height > MAX_PIXELS:
                    raise ImageError(
                        f"{path}: image is {img.width}x{img.height}, above the "
                        f"{MAX_PIXELS:,}-pixel limit"
                    )
                if mode == "P" or mode == "PA":
                    raise ImageError(
                        f"{path}: palette image (mode {mode}) is not supported; "
                        "convert it to 8-bit greyscale"
                    )
                if mode not in _GREY_MODES:
                    raise ImageError(
                        f"{path}: {mode} image is not supported (16/32-bit or float); "
                        "convert it to 8-bit greyscale"
                    )
                img.load()
                if mode in ("LA", "RGBA"):
                    # Composite transparent pixels onto white paper.
                    background = Image.new("RGBA", img.size, (255, 255, 255, 255))
                    img = Image.alpha_composite(background, img.convert("RGBA"))
                grey = img.convert("L")
                array = np.asarray(grey, dtype=np.uint8)
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
