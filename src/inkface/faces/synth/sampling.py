"""Random parameters of synthetic faces, and the random stream of every generated item.

Each item (a single face, its FER+ votes, a scene, a video frame) draws from its own
stream derived from ``(seed, task, kind, index)`` (:func:`rng_for`), so files are the
same whatever the number of workers. Per label, :func:`sample_expression` sets the facial
actions (smile: mouth curve, teeth and cheek raise; the eight FER+ classes: brows, eyes,
mouth and asymmetry), :func:`sample_extras` the mask (worn, absent or below the nose) and
occluders, and :func:`random_look` the person.
"""

from __future__ import annotations

import numpy as np

from inkface.faces.synth.render import Expression, Extras, FaceLook

_TASK_IDS = {"smile": 0, "expression": 1, "mask": 2}
# Random streams per item kind (the ``kind`` of rng_for).
IMAGE_STREAM, VOTES_STREAM, SCENE_STREAM, VIDEO_STREAM = 0, 1, 2, 3


def rng_for(seed: int, task: str, kind: int, index: int) -> np.random.Generator:
    """The random stream of one item (independent of worker scheduling)."""
    key = (_TASK_IDS[task], kind, index)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One uniform draw in [lo, hi) as a Python float."""
    return float(rng.uniform(lo, hi))


def sample_expression(task: str, label: str, rng: np.random.Generator) -> Expression:
    """Facial action parameters typical of ``label`` (a class of ``task``)."""
    if task == "smile":
        if label == "smile":
            teeth = bool(rng.random() < 0.65)
            return Expression(
                mouth_curve=uniform(rng, 0.55, 1.0),
                mouth_open=uniform(rng, 0.15, 0.45) if teeth else 0.0,
                mouth_width=uniform(rng, 1.05, 1.3),
                teeth=teeth,
                cheek_raise=uniform(rng, 0.5, 1.0),
                eye_open=uniform(rng, 0.7, 0.95),
            )
        talking = rng.random() < 0.25
        return Expression(
            brow_raise=uniform(rng, -0.3, 0.4),
            mouth_curve=uniform(rng, -0.35, 0.12),
            mouth_open=uniform(rng, 0.1, 0.35) if talking else 0.0,
            mouth_width=uniform(rng, 0.85, 1.05),
            eye_open=uniform(rng, 0.85, 1.15),
        )
    if task == "mask":
        return Expression(mouth_curve=uniform(rng, -0.2, 0.5), eye_open=uniform(rng, 0.8, 1.15))
    table = {
        "neutral": dict(mouth_curve=(-0.1, 0.1)),
        "happiness": dict(
            mouth_curve=(0.6, 1.0),
            mouth_open=(0.0, 0.4),
            mouth_width=(1.05, 1.3),
            cheek_raise=(0.5, 1.0),
            eye_open=(0.7, 0.9),
        ),
        "surprise": dict(
            brow_raise=(0.4, 0.8),
            eye_open=(1.15, 1.35),
            mouth_open=(0.45, 0.75),
            mouth_width=(0.8, 1.0),
        ),
        "sadness": dict(
            brow_tilt=(-0.8, -0.4),
            brow_raise=(0.0, 0.2),
            eye_open=(0.75, 0.9),
            mouth_curve=(-0.8, -0.45),
            mouth_width=(0.85, 1.0),
        ),
        "anger": dict(
            brow_raise=(-1.0, -0.6),
            brow_tilt=(0.7, 1.0),
            eye_open=(0.75, 0.95),
            mouth_curve=(-0.35, -0.1),
            mouth_width=(0.75, 0.95),
        ),
        "disgust": dict(
            brow_raise=(-0.6, -0.3),
            brow_tilt=(0.2, 0.5),
            eye_open=(0.6, 0.8),
            mouth_curve=(-0.5, -0.25),
            mouth_open=(0.1, 0.25),
            nose_wrinkle=(0.6, 1.0),
        ),
        "fear": dict(
            brow_raise=(0.3, 0.7),
            brow_tilt=(-0.8, -0.4),
            eye_open=(1.15, 1.35),
            mouth_open=(0.3, 0.55),
            mouth_width=(1.1, 1.3),
            mouth_curve=(-0.3, -0.1),
        ),
        "contempt": dict(smirk=(0.55, 0.9), mouth_curve=(-0.1, 0.05), eye_open=(0.8, 0.95)),
    }
    params = {name: uniform(rng, lo, hi) for name, (lo, hi) in table[label].items()}
    if label == "contempt" and rng.random() < 0.5:
        params["smirk"] = -params["smirk"]
    teeth = label in ("anger", "disgust") and rng.random() < 0.5
    if teeth:
        params["mouth_open"] = max(params.get("mouth_open", 0.0), 0.2)
    if label == "happiness":
        teeth = params["mouth_open"] > 0.15
    return Expression(teeth=teeth, **params)


def sample_extras(task: str, label: str, rng: np.random.Generator) -> Extras:
    """Accessories: the mask itself for the mask task, occluders on a few faces."""
    mask = {"with_mask": "proper", "mask_weared_incorrect": "chin"}.get(label, "none")
    colours = ((235, 205, 150), (240, 240, 240), (225, 215, 200), (200, 160, 90), (150, 190, 230))
    colour = tuple(float(v) for v in colours[int(rng.integers(len(colours)))])
    occluder = rng.random()
    return Extras(
        mask=mask if task == "mask" else "none",
        mask_colour=colour,
        mask_low=uniform(rng, 0.0, 1.0),
        glasses=bool(occluder < 0.15),
        hand=bool(0.15 <= occluder < 0.22 and mask == "none"),
        strands=int(rng.integers(2, 6)) if 0.22 <= occluder < 0.3 else 0,
    )


def _colour(values, rng: np.random.Generator, jitter: float = 0.1) -> tuple[float, float, float]:
    base = np.asarray(values, np.float32) * rng.uniform(1 - jitter, 1 + jitter)
    return tuple(float(v) for v in np.clip(base, 0, 255))


_HAIR = ((20, 20, 25), (30, 45, 70), (40, 70, 120), (120, 160, 200), (90, 90, 95), (30, 50, 140))
_IRIS = ((40, 60, 90), (120, 90, 50), (60, 110, 70), (30, 30, 40))


def random_look(rng: np.random.Generator) -> FaceLook:
    """A random person: skin tone from dark brown to pale, head shape, hair, features."""
    tone = rng.uniform(0.0, 1.0)
    skin = np.array([55, 85, 140]) + tone * np.array([150, 140, 105])
    skin = _colour(skin, rng, 0.04)
    return FaceLook(
        skin=skin,
        ratio=float(rng.uniform(1.22, 1.42)),
        jaw=float(rng.uniform(0.0, 1.0)),
        hair=_colour(_HAIR[int(rng.integers(len(_HAIR)))], rng),
        hair_style=int(rng.integers(0, 4)),
        iris=_colour(_IRIS[int(rng.integers(len(_IRIS)))], rng),
        lips=tuple(float(v) for v in np.asarray(skin) * np.array([0.7, 0.58, 0.88])),
        clothes=tuple(float(v) for v in rng.uniform(20, 235, 3)),
        eye_gap=float(rng.uniform(0.34, 0.42)),
        brow_thick=float(rng.uniform(0.05, 0.09)),
        nose_len=float(rng.uniform(0.5, 0.65)),
    )
