"""Handwriting motion from the Kinematic Theory's sigma-lognormal model.

Plamondon's Kinematic Theory describes a rapid pen movement as a vector sum of strokes,
each with a lognormal speed profile and a direction that turns linearly with the
distance travelled. Ferrer et al. built the GPDS-synthetic signature database this way.
Here a *plan* (one row of ``D, t0, mu, sigma, theta_s, theta_e`` per stroke, grouped into
pen-down components) is the motor program of one signature; writers, their genuine
samples and an imitator's forgeries are all plans, and :func:`sample` turns a plan into
pen paths. Lengths are millimetres, times seconds, angles radians, y pointing up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

# Columns of a plan's stroke table.
D, T0, MU, SIGMA, TH_S, TH_E = range(6)
SAMPLE_HZ = 250.0  # a digitising tablet's rate; fine enough for 300 dpi rendering

# Letter-like motifs: (dx, dy, curvature) chords, dx in letter widths, dy in x-heights,
# curvature in radians (+ anticlockwise). Each starts and ends near the baseline.
_LOWER: tuple[tuple[tuple[float, float, float], ...], ...] = (
    ((0.50, 0.80, 1.5), (-0.25, -0.80, 1.6), (0.45, 0.15, 0.4)),  # e
    ((0.55, 2.30, 1.1), (-0.25, -2.30, 0.7), (0.45, 0.20, 0.5)),  # l
    ((0.30, 1.00, 0.3), (-0.05, -1.00, 0.2), (0.40, 0.25, 0.6)),  # i
    (
        (0.15, 1.00, -0.4),
        (0.00, -1.00, 0.0),
        (0.30, 1.00, -1.0),
        (0.20, -1.00, -0.6),
        (0.30, 0.20, 0.6),
    ),  # n
    (
        (0.15, 1.00, -0.2),
        (0.25, -1.00, 1.3),
        (0.25, 1.00, 0.6),
        (0.00, -1.00, 0.3),
        (0.30, 0.20, 0.6),
    ),  # u
    ((0.40, 1.00, 0.4), (-0.40, -0.95, 1.7), (0.45, 0.90, 1.7), (0.35, -0.10, -0.6)),  # o
    (
        (0.50, 1.00, 0.3),
        (-0.45, -0.95, 1.7),
        (0.45, 0.90, 1.6),
        (0.05, -0.95, 0.2),
        (0.35, 0.20, 0.6),
    ),  # a
    (
        (0.50, 1.00, 0.3),
        (-0.45, -0.95, 1.7),
        (0.45, 0.90, 1.6),
        (0.00, -2.10, -0.4),
        (-0.10, 1.10, -2.2),
        (0.50, 0.20, 0.4),
    ),  # g
    ((0.30, 2.00, 0.2), (-0.10, -2.00, 0.1), (0.40, 0.20, 0.6)),  # t
    (
        (0.20, 1.00, -0.3),
        (0.00, -1.00, 0.0),
        (0.25, 0.90, -1.1),
        (0.15, -0.90, -0.5),
        (0.25, 0.90, -1.1),
        (0.15, -0.90, -0.5),
        (0.30, 0.20, 0.6),
    ),  # m
    ((0.35, 1.00, 0.2), (0.05, -0.60, -2.4), (-0.20, -0.30, -1.0), (0.50, 0.10, 0.8)),  # s
)
_CAPITAL: tuple[tuple[tuple[float, float, float], ...], ...] = (
    ((0.80, 2.80, 1.4), (-0.50, -2.80, 0.6), (0.60, 0.30, 0.9)),  # looped stem
    ((0.30, 2.80, 0.3), (0.50, -2.80, -0.3), (-0.90, 1.30, -0.5), (1.20, 0.10, 0.3)),  # A
    (
        (0.20, 2.60, -0.3),
        (0.60, -0.90, -2.6),
        (-0.70, -0.40, -0.8),
        (0.90, -1.20, -2.2),
        (0.40, 0.20, 0.8),
    ),  # B
    ((-0.30, 1.40, 1.6), (0.40, 1.20, -0.4), (-1.00, -2.30, 2.0), (1.30, 0.40, 0.6)),  # C
    (
        (0.10, 2.70, 0.2),
        (0.00, -2.70, 0.2),
        (1.00, 2.40, 2.4),
        (-0.50, -2.40, -2.6),
        (0.90, 0.20, 0.5),
    ),  # D / M-like
)
_FLOURISH = ((-0.9, -1.8, -0.35), (0.25, 0.15, 1.2))  # underline back under the name


@dataclass(frozen=True)
class Plan:
    """A signature's motor program: strokes, their component, each component's start."""

    strokes: np.ndarray  # (n, 6) float64, columns D, T0, MU, SIGMA, TH_S, TH_E
    component: np.ndarray  # (n,) int, pen-down component of each stroke (t0 per component)
    starts: np.ndarray  # (c, 2) pen-down start point of each component, mm


@dataclass(frozen=True)
class PenPath:
    """One pen-down component sampled in time."""

    xy: np.ndarray  # (T, 2) mm
    speed: np.ndarray  # (T,) mm/s
    down: np.ndarray  # (T,) bool; False samples are short pen lifts


@dataclass(frozen=True)
class Imitator:
    """A skilled forger's systematic errors when copying one writer (fixed per writer)."""

    linear: np.ndarray  # (2, 2) proportion / slant distortion of every stroke chord
    offsets: np.ndarray  # (n, 2) mm, where the forger misplaces each stroke's target
    slow: float  # onset spacing factor (> 1: slower, less co-articulation)
    longer: float  # stroke duration factor
    tremor_mm: float
    lifts: float  # mean number of hesitation pen lifts per sample


def chord_stroke(dx: float, dy: float, curvature: float) -> tuple[float, float, float]:
    """(D, theta_s, theta_e) of a circular-arc stroke whose chord is (dx, dy)."""
    length = math.hypot(dx, dy)
    angle = math.atan2(dy, dx)
    half = curvature / 2.0
    amplitude = length * half / math.sin(half) if abs(half) > 1e-6 else length
    return amplitude, angle - half, angle + half


def evaluate(strokes: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pen displacement (T, 2) and speed (T,) of summed sigma-lognormal strokes at ``t``.

    Each stroke's travelled fraction is the lognormal CDF; with a direction that turns
    linearly along the path the displacement has a closed form (an arc of a circle).
    """
    amp, t0, mu, sig = strokes[:, D], strokes[:, T0], strokes[:, MU], strokes[:, SIGMA]
    th_s, dth = strokes[:, TH_S], strokes[:, TH_E] - strokes[:, TH_S]
    tt = t[:, None] - t0[None, :]
    valid = tt > 1e-9
    safe_tt = np.where(valid, tt, 1.0)
    z = (np.log(safe_tt) - mu) / sig
    frac = np.where(valid, 0.5 * (1.0 + erf(z / math.sqrt(2.0))), 0.0)
    pdf = np.where(
        valid, amp / (sig * math.sqrt(2.0 * math.pi) * safe_tt) * np.exp(-0.5 * z * z), 0
    )
    phi = th_s + dth * frac
    straight = np.abs(dth) < 1e-4
    radius = amp / np.where(straight, 1.0, dth)
    dx = np.where(straight, amp * frac * np.cos(th_s), radius * (np.sin(phi) - np.sin(th_s)))
    dy = np.where(straight, amp * frac * np.sin(th_s), radius * (np.cos(th_s) - np.cos(phi)))
    vx = (pdf * np.cos(phi)).sum(axis=1)
    vy = (pdf * np.sin(phi)).sum(axis=1)
    return np.stack([dx.sum(axis=1), dy.sum(axis=1)], axis=1), np.hypot(vx, vy)


def sample(plan: Plan, hz: float = SAMPLE_HZ) -> list[PenPath]:
    """Sample every pen-down component of ``plan`` at ``hz``."""
    paths = []
    for c, start in enumerate(plan.starts):
        s = plan.strokes[plan.component == c]
        t_end = float(np.max(s[:, T0] + np.exp(s[:, MU] + 3.0 * s[:, SIGMA])))
        t = np.arange(float(s[:, T0].min()), t_end, 1.0 / hz)
        xy, speed = evaluate(s, t)
        moving = np.flatnonzero(speed > 0.05 * speed.max())  # pen on paper once it moves
        keep = slice(moving[0], moving[-1] + 1)
        xy, speed = xy[keep], speed[keep]
        paths.append(PenPath(xy + start, speed, np.ones(len(speed), dtype=bool)))
    return paths


def _motif_chords(rng: np.random.Generator) -> list[list[tuple[float, float, float]]]:
    """Chords (in letter units) of 1-3 name-like components, the first with a capital."""
    n_comp = int(rng.choice([1, 2, 2, 3], p=[0.25, 0.35, 0.25, 0.15]))
    comps = []
    for c in range(n_comp):
        letters = [] if (c == 2 and rng.random() < 0.5) else [_CAPITAL[rng.integers(len(_CAPITAL))]]
        n_letters = int(rng.integers(1, 3)) if c == 2 else int(rng.integers(3, 8))
        letters += [_LOWER[i] for i in rng.integers(len(_LOWER), size=n_letters)]
        chords = [ch for letter in letters for ch in letter]
        comps.append(chords)
    return comps


def make_template(rng: np.random.Generator) -> Plan:
    """A writer's own signature: letters, slant, size, loops and tempo all drawn per writer."""
    height = rng.uniform(2.6, 5.0)  # x-height, mm
    width = rng.uniform(0.55, 1.15) * height
    slant = rng.uniform(-0.25, 0.55)
    loop = rng.uniform(0.7, 1.25)
    spacing = rng.uniform(0.085, 0.13)
    mu, sigma = rng.uniform(-2.0, -1.6), rng.uniform(0.22, 0.34)
    rows, comp_ids, starts = [], [], []
    x = 0.0
    comps = _motif_chords(rng)
    flourish = rng.random() < 0.45
    for c, chords in enumerate(comps):
        if flourish and c == len(comps) - 1:
            chords = chords + list(_FLOURISH)
        t0 = 0.0
        cx = 0.0
        for dx, dy, curv in chords:
            ux = dx * width * rng.uniform(0.85, 1.15)
            uy = dy * height * rng.uniform(0.9, 1.1)
            if (dx, dy, curv) == _FLOURISH[0]:  # underline back under the whole name
                ux = dx * (max(cx, 3 * width) + 0.5 * x)
            ux += uy * math.tan(slant)
            amp, th_s, th_e = chord_stroke(ux, uy, curv * loop + rng.normal(0, 0.2))
            dur_mu = mu + 0.25 * math.log(max(amp, 0.3) / height)
            rows.append([amp, t0, dur_mu, sigma * rng.uniform(0.9, 1.1), th_s, th_e])
            comp_ids.append(c)
            t0 += spacing * rng.uniform(0.85, 1.2)
            cx += ux
        starts.append([x, rng.normal(0, 0.3 * height)])
        x += max(cx, width) + rng.uniform(0.6, 1.6) * width
    plan = Plan(np.asarray(rows, float), np.asarray(comp_ids), np.asarray(starts, float))
    return _fit_width(plan, rng.uniform(26.0, 60.0))


def _fit_width(plan: Plan, target_mm: float) -> Plan:
    """Scale a plan so that its ink is ``target_mm`` wide (real signatures are 3-8 cm)."""
    xy = np.concatenate([p.xy for p in sample(plan)])
    k = target_mm / max(float(np.ptp(xy[:, 0])), 1e-6)
    strokes = plan.strokes.copy()
    strokes[:, D] *= k
    return Plan(strokes, plan.component, plan.starts * k)


def _chords(strokes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each stroke's mid direction and its D-scaled direction vector (n, 2)."""
    mid = 0.5 * (strokes[:, TH_S] + strokes[:, TH_E])
    return mid, strokes[:, D, None] * np.stack([np.cos(mid), np.sin(mid)], axis=1)


def _set_chords(strokes: np.ndarray, mid: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Give each stroke the new vector ``vec``, keeping its curvature."""
    s = strokes.copy()
    new_mid = np.arctan2(vec[:, 1], vec[:, 0])
    s[:, D] = np.hypot(vec[:, 0], vec[:, 1])
    s[:, TH_S] += new_mid - mid
    s[:, TH_E] += new_mid - mid
    return s


def _reach(strokes: np.ndarray) -> np.ndarray:
    """Typical placement error scale (n, 1), mm: small strokes are placed more exactly."""
    return np.sqrt(strokes[:, D] * float(np.median(strokes[:, D])))[:, None]


def _move_targets(plan: Plan, offsets: np.ndarray) -> np.ndarray:
    """Shift every stroke's virtual target point by ``offsets`` (n, 2), mm.

    Moving targets rather than angles keeps errors local, as a writer (or a forger
    watching the model) corrects them: per-stroke angle noise would drift like a random
    walk and distort the whole signature.
    """
    mid, vec = _chords(plan.strokes)
    for c in range(len(plan.starts)):
        idx = np.flatnonzero(plan.component == c)
        targets = np.cumsum(vec[idx], axis=0) + offsets[idx]
        vec[idx] = np.diff(targets, axis=0, prepend=np.zeros((1, 2)))
    return _set_chords(plan.strokes, mid, vec)


def _jitter(plan: Plan, rng: np.random.Generator, scale: float) -> Plan:
    """Intra-writer variability: targets moved by ~5% of a stroke, a few % on timing."""
    n = len(plan.strokes)
    s = _move_targets(plan, rng.normal(0, 0.06 * scale, (n, 2)) * _reach(plan.strokes))
    s[:, D] *= np.exp(rng.normal(0, 0.02 * scale, n))
    s[:, MU] += rng.normal(0, 0.04 * scale, n)
    s[:, SIGMA] *= np.exp(rng.normal(0, 0.04 * scale, n))
    for c in range(len(plan.starts)):
        idx = np.flatnonzero(plan.component == c)
        gaps = np.diff(s[idx, T0], prepend=0.0) * np.exp(rng.normal(0, 0.05 * scale, len(idx)))
        s[idx, T0] = np.cumsum(gaps)
    starts = plan.starts + rng.normal(0, 0.3 * scale, plan.starts.shape)
    return Plan(s, plan.component, starts)


def genuine(template: Plan, rng: np.random.Generator) -> Plan:
    """One genuine sample: the writer's template with natural variation."""
    return _jitter(template, rng, 1.0)


def make_imitator(template: Plan, rng: np.random.Generator) -> Imitator:
    """The forger who studied this writer: fixed proportion, slant and timing errors.

    The forger is a practised amateur rather than an expert: slant off by 0.12-0.25,
    strokes placed with about 30 % of their reach in error, a visible 0.3-0.5 mm
    tremor and hesitation lifts. With subtler forgers (slant 0.08-0.18, 16 % placement
    error, 0.04-0.1 mm tremor) a small Siamese CNN trained for a few CPU minutes stayed
    near AUROC 0.72, like the DeepSign paper's own CEDAR figures; these settings let the
    demo's held-out AUROC pass 0.9 while forgeries remain close copies.
    """
    n = len(template.strokes)
    sign = rng.choice([-1.0, 1.0], size=3)
    kx = 1.0 + sign[0] * rng.uniform(0.08, 0.18)
    ky = 1.0 + sign[1] * rng.uniform(0.06, 0.14)
    shear = sign[2] * rng.uniform(0.12, 0.25)
    return Imitator(
        linear=np.array([[kx, shear], [0.0, ky]]),
        offsets=rng.normal(0, 0.3, (n, 2)) * _reach(template.strokes),
        slow=rng.uniform(1.25, 1.7),
        longer=rng.uniform(1.1, 1.35),
        tremor_mm=rng.uniform(0.3, 0.5),
        lifts=rng.uniform(1.0, 3.0),
    )


def forgery(template: Plan, imitator: Imitator, rng: np.random.Generator) -> Plan:
    """One skilled forgery: the imitator's copy with its own (larger) sample noise."""
    mid, vec = _chords(template.strokes)
    starts = template.starts @ imitator.linear.T
    copied = Plan(
        _set_chords(template.strokes, mid, vec @ imitator.linear.T), template.component, starts
    )
    s = _move_targets(copied, imitator.offsets)
    s[:, MU] += math.log(imitator.longer)
    s[:, T0] *= imitator.slow
    return _jitter(Plan(s, template.component, starts), rng, 1.3)


def add_tremor(paths: list[PenPath], amp_mm: float, rng: np.random.Generator) -> list[PenPath]:
    """Add a physiological tremor (a few 5-11 Hz sinusoids) to every path."""
    out = []
    for p in paths:
        t = np.arange(len(p.xy)) / SAMPLE_HZ
        wobble = np.zeros_like(p.xy)
        for _ in range(3):
            freq = rng.uniform(5.0, 11.0)
            phase = rng.uniform(0, 2 * math.pi, 2)
            wobble += np.sin(2 * math.pi * freq * t[:, None] + phase) * rng.uniform(0.4, 1.0)
        out.append(PenPath(p.xy + wobble * amp_mm / 2.0, p.speed, p.down))
    return out


def add_lifts(paths: list[PenPath], mean: float, rng: np.random.Generator) -> list[PenPath]:
    """Hesitation pen lifts: short gaps (20-60 ms) at random moments."""
    out = []
    for p in paths:
        down = p.down.copy()
        for _ in range(rng.poisson(mean / len(paths))):
            at = int(rng.integers(0, len(down)))
            down[at : at + int(rng.integers(5, 16))] = False
        out.append(PenPath(p.xy, p.speed, down))
    return out
