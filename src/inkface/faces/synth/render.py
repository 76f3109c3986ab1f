"""Draw one synthetic face, upright, in a square work patch with OpenCV and NumPy.

The patch is ``PATCH_SIDE`` pixels square with a head ``HEAD_HALF_WIDTH`` pixels wide on
either side of ``HEAD_CENTRE``. The face has the grey-level structure Viola-Jones' Haar
cascade keys on (the smile report, §5.5.1): a dark band of brows and eye sockets above
lighter cheeks, a lit nose bridge between the sockets, a darker mouth, and a head shaded
towards its outline; masks, glasses, a hand and hair strands are drawn over it.
:mod:`inkface.faces.synth.compose` then shrinks and rotates the patch into a picture.

Appearance (:class:`FaceLook`), expression (:class:`Expression`) and accessories
(:class:`Extras`) are plain parameters, so a generator can sample them per label
(:mod:`inkface.faces.synth.sampling`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PATCH_SIDE = 256  # work patch side (pixels)
HEAD_HALF_WIDTH = 64.0  # head half-width in the patch
HEAD_CENTRE = (PATCH_SIDE / 2, 0.42 * PATCH_SIDE)  # (x, y) of the head centre in the patch
_P, _A = PATCH_SIDE, HEAD_HALF_WIDTH  # short names for the drawing arithmetic below
_CX, _CY = HEAD_CENTRE


@dataclass(frozen=True)
class FaceLook:
    """A person's appearance: skin, head shape, hair and features (BGR colours)."""

    skin: tuple[float, float, float]
    ratio: float  # head half-height / half-width
    jaw: float  # 0 round .. 1 narrow chin
    hair: tuple[float, float, float]
    hair_style: int  # 0 short, 1 long, 2 buzz, 3 fringe
    iris: tuple[float, float, float]
    lips: tuple[float, float, float]
    clothes: tuple[float, float, float]
    eye_gap: float  # eye centre distance from the midline, in head half-widths
    brow_thick: float
    nose_len: float


@dataclass(frozen=True)
class Expression:
    """Facial action parameters (roughly FACS-like, all dimensionless)."""

    brow_raise: float = 0.0  # -1 lowered .. 1 raised (AU1+2 / AU4)
    brow_tilt: float = 0.0  # >0 inner ends down (anger), <0 inner ends up (sadness, fear)
    eye_open: float = 1.0  # 0.3 squint .. 1.4 wide
    mouth_curve: float = 0.0  # -1 corners down .. 1 smile
    mouth_open: float = 0.0  # 0 closed .. 1 wide open
    mouth_width: float = 1.0
    teeth: bool = False
    smirk: float = 0.0  # one-sided corner raise (contempt), -1 .. 1
    cheek_raise: float = 0.0  # 0 .. 1 (AU6): folds and cheek highlight
    nose_wrinkle: float = 0.0  # 0 .. 1 (AU9, disgust)


@dataclass(frozen=True)
class Extras:
    """Accessories and occluders."""

    mask: str = "none"  # none, proper (nose and mouth), chin (below the nose or on the chin)
    mask_colour: tuple[float, float, float] = (230.0, 200.0, 150.0)
    mask_low: float = 0.0  # for 'chin': 0 just below the nose .. 1 on the chin only
    glasses: bool = False
    hand: bool = False
    strands: int = 0


def _grid() -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:_P, 0:_P].astype(np.float32)
    return xs - _CX, ys - _CY


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(_CX + x), round(_CY + y)


def _poly(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.stack([xs + _CX, ys + _CY], axis=1).round().astype(np.int32)


def _blob(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-0.5 * (((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2))


def _fill(img: np.ndarray, mask: np.ndarray, colour: tuple[float, float, float], k=1.0) -> None:
    """Paint ``colour`` where ``mask`` (float 0..1) is set, with opacity ``k``."""
    x, y, w, h = cv2.boundingRect((mask > 0.002).astype(np.uint8))
    if w == 0 or h == 0:
        return
    m = (mask[y : y + h, x : x + w] * k)[..., None]
    region = img[y : y + h, x : x + w]
    region *= 1.0 - m
    region += m * np.asarray(colour, np.float32)


def _layer(draw) -> np.ndarray:
    """A float mask drawn by ``draw(canvas)`` on a blank uint8 patch."""
    canvas = np.zeros((_P, _P), np.uint8)
    draw(canvas)
    return canvas.astype(np.float32) / 255.0


def _head_mask(x: np.ndarray, y: np.ndarray, look: FaceLook) -> np.ndarray:
    b = look.ratio * _A
    narrow = 1.0 - 0.28 * look.jaw * np.clip(y / b, 0.0, 1.0) ** 2
    r = (x / (_A * narrow)) ** 2 + (y / b) ** 2
    return np.clip((1.0 - r) * 40.0, 0.0, 1.0), r


def _eyes(img, x, y, look: FaceLook, ex: Expression, eye_y: float) -> None:
    ew = 0.19 * _A
    eh = max(0.02, 0.085 * _A * ex.eye_open**0.6)
    for side in (-1.0, 1.0):
        cx = side * look.eye_gap * _A
        almond = np.clip((1.0 - ((x - cx) / ew) ** 2 - ((y - eye_y) / eh) ** 2) * 6.0, 0, 1)
        _fill(img, almond, tuple(0.45 * v + 95.0 for v in look.skin))
        iris = np.clip((1.0 - ((x - cx) ** 2 + (y - eye_y) ** 2) / (0.1 * _A) ** 2) * 8, 0, 1)
        _fill(img, iris * almond, look.iris)
        pupil = np.clip((1.0 - ((x - cx) ** 2 + (y - eye_y) ** 2) / (0.045 * _A) ** 2) * 8, 0, 1)
        _fill(img, pupil * almond, (15.0, 15.0, 15.0))
        lid = _layer(
            lambda c, cx=cx: cv2.ellipse(
                c, _pt(cx, eye_y), (int(ew * 1.05), int(eh * 1.05)), 0, 180, 360, 255, 4
            )
        )
        _fill(img, lid, (25.0, 22.0, 25.0), 0.9)


def _brows(img, look: FaceLook, ex: Expression, eye_y: float) -> None:
    base = eye_y - 0.26 * _A - 0.08 * _A * ex.brow_raise
    thick = max(2, int(look.brow_thick * _A))
    for side in (-1.0, 1.0):
        inner_y = base + 0.1 * _A * ex.brow_tilt + 0.02 * _A
        outer_y = base + 0.03 * _A
        xs = side * np.linspace(0.12, 0.62, 12) * _A
        t = np.linspace(0.0, 1.0, 12)
        ys = (
            inner_y
            + (outer_y - inner_y) * t
            - 0.06 * _A * np.sin(np.pi * t) * (1 - 0.4 * ex.brow_tilt)
        )
        mask = _layer(lambda c, xs=xs, ys=ys: cv2.polylines(c, [_poly(xs, ys)], False, 255, thick))
        _fill(img, mask, tuple(0.6 * v for v in look.hair), 0.95)


def _mouth(img, look: FaceLook, ex: Expression, mouth_y: float) -> None:
    mw = 0.32 * _A * ex.mouth_width
    t = np.linspace(-1.0, 1.0, 25)
    xs = t * mw
    corner = 0.16 * _A
    centre = mouth_y - corner * ex.mouth_curve * t**2 - corner * ex.smirk * np.clip(t, 0, 1) ** 2
    centre = centre + 0.02 * _A * ex.mouth_curve  # a smile bows the middle slightly down
    gap = 0.2 * _A * ex.mouth_open * np.sqrt(np.clip(1 - t**2, 0, 1))
    lip = np.sqrt(np.clip(1 - t**2, 0, 1))
    upper = centre - gap - 0.06 * _A * lip
    lower = centre + gap + (0.08 + 0.05 * max(ex.mouth_curve, 0.0)) * _A * lip
    lips = _layer(
        lambda c: cv2.fillPoly(c, [_poly(np.r_[xs, xs[::-1]], np.r_[upper, lower[::-1]])], 255)
    )
    _fill(img, lips, look.lips, 0.95)
    if ex.mouth_open > 0.05 or ex.teeth:
        g = np.maximum(gap, 0.025 * _A * lip * (1.0 if ex.teeth else 0.0))
        inner = _layer(
            lambda c: cv2.fillPoly(
                c, [_poly(np.r_[xs, xs[::-1]], np.r_[centre - g, (centre + g)[::-1]])], 255
            )
        )
        _fill(img, inner, (35.0, 25.0, 45.0))
        if ex.teeth:
            top = centre - g
            bottom = top + np.minimum(2 * g, 0.09 * _A * lip)
            teeth = _layer(
                lambda c: cv2.fillPoly(
                    c, [_poly(np.r_[xs, xs[::-1]], np.r_[top, bottom[::-1]])], 255
                )
            )
            _fill(img, teeth * inner, (225.0, 235.0, 240.0))
    line = _layer(lambda c: cv2.polylines(c, [_poly(xs, centre)], False, 255, 2))
    _fill(img, line, (30.0, 25.0, 40.0), 0.8)


def _mask(img, alpha, x, y, look: FaceLook, extras: Extras, nose_y: float, head) -> None:
    b = look.ratio * _A
    if extras.mask == "proper":
        top = nose_y - 0.2 * _A
    else:
        top = nose_y + 0.12 * _A + extras.mask_low * 0.45 * _A
    bottom = b * 1.02
    edge = top + 0.3 * _A * (x / _A) ** 2  # rides over the nose, lower on the cheeks
    region = np.clip((y - edge) * 0.5, 0, 1) * np.clip((bottom - y) * 0.5, 0, 1)
    wide = (x / (_A * 0.98)) ** 2 + (y / (b * 1.02)) ** 2 <= 1.0
    cloth = region * wide * np.clip((head + 0.2), 0, 1)
    _fill(img, cloth, extras.mask_colour)
    shade = 1.0 - 0.2 * np.clip(np.abs(x) / _A, 0, 1) ** 2 - 0.08 * np.clip((y - top) / _A, 0, 1)
    img[:] = np.where(cloth[..., None] > 0.5, img * shade[..., None], img)
    mouth = _blob(x, y, 0.0, nose_y + 0.36 * _A, 0.32 * _A, 0.07 * _A) * cloth
    img *= (1.0 - 0.35 * mouth)[..., None]  # the mouth's shadow through the cloth
    for k in (0.3, 0.55, 0.8):  # pleats
        py = top + k * (bottom - top) * 0.8
        pleat = _layer(lambda c, py=py: cv2.line(c, _pt(-0.7 * _A, py), _pt(0.7 * _A, py), 255, 2))
        _fill(img, pleat * cloth, tuple(0.75 * v for v in extras.mask_colour))
    for side in (-1, 1):  # ear loops
        loop = _layer(
            lambda c, s=side: cv2.line(
                c, _pt(s * _A, top + 4), _pt(s * 1.02 * _A, -0.05 * b), 255, 3
            )
        )
        _fill(img, loop, extras.mask_colour)
        alpha[:] = np.maximum(alpha, loop)


def _extras(img, x, y, look: FaceLook, extras: Extras, eye_y: float, rng) -> None:
    if extras.glasses:

        def frames(c):
            for side in (-1, 1):
                cv2.ellipse(
                    c,
                    _pt(side * look.eye_gap * _A, eye_y),
                    (int(0.27 * _A), int(0.19 * _A)),
                    0,
                    0,
                    360,
                    255,
                    3,
                )
            cv2.line(c, _pt(-0.12 * _A, eye_y - 4), _pt(0.12 * _A, eye_y - 4), 255, 3)

        _fill(img, _layer(frames), (20.0, 20.0, 20.0), 0.9)
    if extras.hand:
        side = rng.choice([-1.0, 1.0])
        cx, cy = side * rng.uniform(0.55, 0.8) * _A, rng.uniform(0.7, 1.1) * _A
        hand = _blob(x, y, cx, cy, 0.32 * _A, 0.42 * _A)
        hand = np.clip((hand - 0.45) * 8.0, 0, 1)
        _fill(img, hand, tuple(0.92 * v for v in look.skin))
        for k in range(3):  # finger gaps
            gx = cx - 0.2 * _A + k * 0.2 * _A
            seam = _layer(lambda c, gx=gx: cv2.line(c, _pt(gx, cy - 0.4 * _A), _pt(gx, cy), 255, 2))
            _fill(img, seam * hand, tuple(0.6 * v for v in look.skin), 0.7)
    for _ in range(extras.strands):
        x0 = rng.uniform(-0.6, 0.6) * _A
        xs = x0 + np.cumsum(rng.normal(0.0, 0.04 * _A, 10))
        ys = np.linspace(-0.9, -0.2, 10) * _A * look.ratio
        strand = _layer(lambda c, xs=xs, ys=ys: cv2.polylines(c, [_poly(xs, ys)], False, 255, 2))
        _fill(img, strand, look.hair, 0.9)


def draw_face(
    look: FaceLook,
    ex: Expression,
    extras: Extras,
    light: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The upright face in the work patch: (BGR float32 image, alpha float32 in 0..1)."""
    x, y = _grid()
    b = look.ratio * _A
    img = np.zeros((_P, _P, 3), np.float32)
    alpha = np.zeros((_P, _P), np.float32)
    # Shoulders and neck.
    neck = ((np.abs(x) < 0.55 * _A) & (y > 0) & (y < 1.55 * b)).astype(np.float32)
    _fill(img, neck, tuple(0.72 * v for v in look.skin))
    body = _layer(
        lambda c: cv2.ellipse(
            c, _pt(0, 1.95 * b), (int(2.1 * _A), int(0.9 * b)), 0, 0, 360, 255, -1
        )
    )
    _fill(img, body, look.clothes)
    alpha = np.maximum(alpha, np.maximum(body, neck))
    # Hair behind the head.
    long = look.hair_style == 1
    back = (x / (1.12 * _A)) ** 2 + ((y + 0.08 * b) / (1.08 * b)) ** 2 <= 1.0
    if long:
        back |= (np.abs(x) < 1.15 * _A) & (y > -0.2 * b) & (y < 1.25 * b)
    if look.hair_style != 2:
        _fill(img, back.astype(np.float32), look.hair)
        alpha = np.maximum(alpha, back.astype(np.float32))
    # Ears, then the head with a lit-from-the-front shading.
    for side in (-1, 1):
        ear = _blob(x, y, side * 0.98 * _A, -0.02 * b, 0.12 * _A, 0.22 * _A) > 0.5
        _fill(img, ear.astype(np.float32), tuple(0.85 * v for v in look.skin))
        alpha = np.maximum(alpha, ear.astype(np.float32))
    head, r = _head_mask(x, y, look)
    shade = 1.0 - 0.3 * np.clip(r, 0, 1) ** 2
    eye_y = -0.06 * b
    sockets = sum(
        _blob(x, y, s * look.eye_gap * _A, eye_y - 0.03 * _A, 0.23 * _A, 0.15 * _A) for s in (-1, 1)
    )
    shade -= 0.32 * sockets
    nose_y = eye_y + look.nose_len * _A
    shade += 0.12 * _blob(x, y, 0.0, (eye_y + nose_y) / 2, 0.07 * _A, 0.35 * _A)
    shade += 0.06 * _blob(x, y, 0.0, eye_y - 0.45 * _A, 0.5 * _A, 0.2 * _A)  # forehead
    shade -= 0.08 * sum(
        _blob(x, y, s * 0.13 * _A, nose_y - 0.12 * _A, 0.05 * _A, 0.22 * _A) for s in (-1, 1)
    )
    mouth_y = eye_y + (look.nose_len + 0.36) * _A
    shade -= 0.1 * _blob(x, y, 0.0, mouth_y + 0.32 * _A, 0.3 * _A, 0.08 * _A)  # under the lip
    if ex.cheek_raise > 0:
        shade += (
            0.1
            * ex.cheek_raise
            * sum(_blob(x, y, s * 0.5 * _A, nose_y, 0.18 * _A, 0.12 * _A) for s in (-1, 1))
        )
    skin = np.asarray(look.skin, np.float32) * shade[..., None]
    img = img * (1 - head[..., None]) + skin * head[..., None]
    alpha = np.maximum(alpha, head)
    # Hair cap over the top of the head.
    if look.hair_style != 2:
        hairline = -0.55 * b + 0.25 * _A * (x / _A) ** 2
        if look.hair_style == 3:
            hairline = hairline + 0.18 * _A
        cap = ((y < hairline) & back).astype(np.float32)
        _fill(img, cap, look.hair)
    else:
        cap = ((y < -0.6 * b) * head).astype(np.float32)
        _fill(
            img, cap, tuple(0.55 * v + 0.45 * h for v, h in zip(look.skin, look.hair, strict=True))
        )
    _brows(img, look, ex, eye_y)
    _eyes(img, x, y, look, ex, eye_y)

    # Nose: nostrils and wing lines; folds from the nose to the mouth corners.
    def nose(c):
        for s in (-1, 1):
            cv2.ellipse(
                c, _pt(s * 0.09 * _A, nose_y), (int(0.055 * _A), int(0.03 * _A)), 0, 0, 360, 255, -1
            )
            cv2.ellipse(
                c,
                _pt(s * 0.1 * _A, nose_y - 0.04 * _A),
                (int(0.1 * _A), int(0.09 * _A)),
                0,
                90 - s * 60,
                90 + s * 60,
                160,
                2,
            )

    _fill(img, _layer(nose), tuple(0.45 * v for v in look.skin), 0.9)
    if ex.nose_wrinkle > 0:

        def wrinkle(c):
            for k in range(3):
                yy = eye_y + (0.12 + 0.08 * k) * _A
                cv2.line(c, _pt(-0.1 * _A, yy), _pt(0.1 * _A, yy), 255, 2)

        _fill(img, _layer(wrinkle), tuple(0.6 * v for v in look.skin), 0.8 * ex.nose_wrinkle)
    if ex.cheek_raise > 0:

        def folds(c):
            mw = 0.32 * _A * ex.mouth_width
            for s in (-1, 1):
                pts = _poly(
                    np.array([s * 0.2, s * 0.34, s * (mw / _A + 0.08)]) * _A,
                    np.array([nose_y - 0.02 * _A, nose_y + 0.2 * _A, mouth_y + 0.05 * _A]),
                )
                cv2.polylines(c, [pts], False, 255, 2)

        _fill(img, _layer(folds), tuple(0.6 * v for v in look.skin), 0.7 * ex.cheek_raise)
    _mouth(img, look, ex, mouth_y)
    if extras.mask != "none":
        _mask(img, alpha, x, y, look, extras, nose_y, head)
    _extras(img, x, y, look, extras, eye_y, rng)
    gx, gy = light
    img *= (1.0 + (gx * x + gy * y) / (2.5 * _A))[..., None]
    return np.clip(img, 0, 255), alpha


def face_box_in_patch(look: FaceLook) -> tuple[float, float, float, float]:
    """The face's reference box in patch coordinates (cheek to cheek, brows to chin)."""
    b = look.ratio * _A
    return (_CX - 1.1 * _A, _CY - 0.06 * b - 0.8 * _A, _CX + 1.1 * _A, _CY + b)
