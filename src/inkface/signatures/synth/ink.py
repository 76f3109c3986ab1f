"""Render pen paths as a scanned signature: ink on paper, grey, 8-bit.

Stroke width and ink density follow pen speed (a slow pen leaves a wider, darker line,
which is how a hesitant forgery shows in a scan); lines are drawn anti-aliased on a 2x
canvas and reduced, then laid on paper with low-frequency shading, grain and a slight
scanner blur. The image is cropped to the ink plus a random margin, so sizes vary like
real scans (CEDAR's are roughly 300-900 px wide, paper above its 225 threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from inkface.signatures.synth.lognormal import PenPath

_SUPER = 2  # supersampling factor of the drawing canvas
_SHIFT = 3  # fractional bits of the coordinates handed to OpenCV
_LEVELS = 6  # quantised ink-density levels (one polylines call per width and level)
V_REF = 45.0  # mm/s: the speed at which the pen leaves its nominal width


@dataclass(frozen=True)
class InkStyle:
    """How one sample lands on paper: pose, pen, pressure, paper."""

    px_per_mm: float
    rotation: float  # radians
    scale: float
    shear: float  # extra slant of the whole signature
    pen_mm: float  # nominal line width
    pressure: float  # multiplies width and darkness
    ink_tone: float  # grey level of fully saturated ink
    paper_tone: float  # mean grey level of the paper
    paper_noise: float  # standard deviation of the paper grain
    margin_px: int


def _to_pixels(paths: list[PenPath], style: InkStyle) -> list[np.ndarray]:
    """Apply rotation, shear and scale; flip y (image rows grow downwards)."""
    c, s = math.cos(style.rotation), math.sin(style.rotation)
    k = style.scale * style.px_per_mm
    m = k * np.array([[c, -s], [s, c]]) @ np.array([[1.0, style.shear], [0.0, 1.0]])
    m = np.array([[1.0, 0.0], [0.0, -1.0]]) @ m
    return [p.xy @ m.T for p in paths]


def _widths(speed: np.ndarray, style: InkStyle) -> tuple[np.ndarray, np.ndarray]:
    """Line width (px) and ink density (0..1) from pen speed and pressure."""
    slow = np.clip((V_REF / (speed + 0.15 * V_REF)) ** 0.4, 0.6, 1.8)
    # the pen lands and leaves with less pressure: taper the first and last 40 ms
    ramp = np.minimum(np.arange(len(speed)), np.arange(len(speed))[::-1])
    slow = slow * np.clip(0.55 + 0.045 * ramp, None, 1.0)
    width = style.pen_mm * style.px_per_mm * style.scale * style.pressure * slow
    density = np.clip(0.5 + 0.35 * slow * style.pressure, 0.35, 1.0)
    return width, density


def _draw(
    canvas: np.ndarray, pts: np.ndarray, width: np.ndarray, density: np.ndarray, down: np.ndarray
) -> None:
    """Draw segments grouped by (thickness, density level) with anti-aliasing."""
    seg_ok = down[:-1] & down[1:]
    if not seg_ok.any():
        return
    fixed = np.round(pts * _SUPER * (1 << _SHIFT)).astype(np.int32)
    thick = np.maximum(1, np.round(_SUPER * 0.5 * (width[:-1] + width[1:]))).astype(np.int32)
    level = np.minimum(_LEVELS - 1, (0.5 * (density[:-1] + density[1:]) * _LEVELS).astype(int))
    key = thick * _LEVELS + level
    segs = np.stack([fixed[:-1], fixed[1:]], axis=1)  # (T-1, 2, 2)
    for k in np.unique(key[seg_ok]):
        sel = segs[seg_ok & (key == k)]
        colour = int(255 * (k % _LEVELS + 1) / _LEVELS)
        cv2.polylines(canvas, list(sel), False, colour, int(k // _LEVELS), cv2.LINE_AA, _SHIFT)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Random field in [0, 1] varying over about ``cell`` pixels."""
    h, w = shape
    coarse = rng.random((h // cell + 2, w // cell + 2), dtype=np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


def render(paths: list[PenPath], style: InkStyle, rng: np.random.Generator) -> np.ndarray:
    """Grey uint8 image of ``paths`` (dark ink on light paper), cropped with a margin."""
    pix = _to_pixels(paths, style)
    inks = [_widths(p.speed, style) for p in paths]
    max_w = max(float(w.max()) for w, _ in inks)
    drawn = np.concatenate([q[p.down] for q, p in zip(pix, paths, strict=True)])
    lo = drawn.min(axis=0) - style.margin_px - max_w
    hi = drawn.max(axis=0) + style.margin_px + max_w
    width, height = (math.ceil(float(v)) for v in hi - lo)
    canvas = np.zeros((height * _SUPER, width * _SUPER), np.uint8)
    for q, p, (w, d) in zip(pix, paths, inks, strict=True):
        _draw(canvas, q - lo, w, d, p.down)
    alpha = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    alpha = alpha.astype(np.float32) * (1.0 / 255.0)
    alpha *= 0.8 + 0.2 * _smooth_field(rng, (height, width), 24)  # uneven ink flow
    paper = style.paper_tone + 6.0 * (_smooth_field(rng, (height, width), 96) - 0.5)
    paper += style.paper_noise * rng.standard_normal((height, width), dtype=np.float32)
    img = paper - (paper - style.ink_tone) * np.clip(alpha, 0.0, 1.0)
    img = cv2.GaussianBlur(img, (3, 3), 0.6)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def binarise(grey: np.ndarray) -> np.ndarray:
    """Ink 0 on paper 255, like BHSig260's distributed (already binarised) images."""
    paper = float(np.median(grey))
    ink = float(grey.min())
    return np.where(grey < 0.5 * (paper + ink), 0, 255).astype(np.uint8)
