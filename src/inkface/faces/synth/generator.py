"""Synthetic face datasets for the smile, expression and face-mask tasks, in the published
GENKI-4K, class-folder (AffectNet later release / Kaggle masks), FER2013 and FER+ layouts.

Faces are drawn by :mod:`inkface.faces.synth.render` with label-driven expressions
(smile: mouth curve, teeth and cheek raise; the eight FER+ classes: brows, eyes, mouth
and asymmetry; masks: worn, absent or below the nose). Every image's random stream
derives from ``(seed, task, kind, index)``, so files are identical whatever ``workers``
is. ``boxes.json`` holds each face's true box, so detectors can be scored on the data
(:func:`inkface.faces.detection.detectors.detection_recall`). Scenes with several faces and a
short video with tracked faces come from :mod:`inkface.faces.synth.scenes`.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from inkface.core.atomic import atomic_open, write_json
from inkface.core.errors import InkfaceError
from inkface.core.labels import FERPLUS_CLASSES, MASK_CLASSES, SMILE_CLASSES, TASK_CLASSES
from inkface.core.parallel import process_pool
from inkface.faces.synth import render as fr

EXPRESSIONS = FERPLUS_CLASSES
# FER2013 has no contempt; a contemptuous sneer is closest to its 'Disgust' (1).
FER2013_IDS = {
    "anger": 0,
    "disgust": 1,
    "fear": 2,
    "happiness": 3,
    "sadness": 4,
    "surprise": 5,
    "neutral": 6,
    "contempt": 1,
}
FERPLUS_COLUMNS = (*EXPRESSIONS, "unknown", "NF")
_TASK_IDS = {"smile": 0, "expression": 1, "mask": 2}
# Random streams per image kind (rng_for): single faces, FER+ votes, scenes, video.
_IMAGE, _VOTES, SCENE_STREAM, VIDEO_STREAM = 0, 1, 2, 3
_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 92]


@dataclass(frozen=True)
class FaceGenerationSummary:
    """What :func:`generate_faces` wrote."""

    root: Path
    task: str
    images: int
    classes: dict[str, int]
    seconds: float
    seed: int
    scenes: int = 0
    video: Path | None = None
    video_codec: str | None = None
    files: list[str] = field(default_factory=list, repr=False)


def rng_for(seed: int, task: str, kind: int, index: int) -> np.random.Generator:
    """The random stream of one item (independent of worker scheduling)."""
    key = (_TASK_IDS[task], kind, index)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def sample_expression(task: str, label: str, rng: np.random.Generator) -> fr.Expression:
    """Facial action parameters typical of ``label`` (a class of ``task``)."""
    if task == "smile":
        if label == "smile":
            teeth = bool(rng.random() < 0.65)
            return fr.Expression(
                mouth_curve=_u(rng, 0.55, 1.0),
                mouth_open=_u(rng, 0.15, 0.45) if teeth else 0.0,
                mouth_width=_u(rng, 1.05, 1.3),
                teeth=teeth,
                cheek_raise=_u(rng, 0.5, 1.0),
                eye_open=_u(rng, 0.7, 0.95),
            )
        talking = rng.random() < 0.25
        return fr.Expression(
            brow_raise=_u(rng, -0.3, 0.4),
            mouth_curve=_u(rng, -0.35, 0.12),
            mouth_open=_u(rng, 0.1, 0.35) if talking else 0.0,
            mouth_width=_u(rng, 0.85, 1.05),
            eye_open=_u(rng, 0.85, 1.15),
        )
    if task == "mask":
        return fr.Expression(mouth_curve=_u(rng, -0.2, 0.5), eye_open=_u(rng, 0.8, 1.15))
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
    params = {name: _u(rng, lo, hi) for name, (lo, hi) in table[label].items()}
    if label == "contempt" and rng.random() < 0.5:
        params["smirk"] = -params["smirk"]
    teeth = label in ("anger", "disgust") and rng.random() < 0.5
    if teeth:
        params["mouth_open"] = max(params.get("mouth_open", 0.0), 0.2)
    if label == "happiness":
        teeth = params["mouth_open"] > 0.15
    return fr.Expression(teeth=teeth, **params)


def sample_extras(task: str, label: str, rng: np.random.Generator) -> fr.Extras:
    """Accessories: the mask itself for the mask task, occluders on a few faces."""
    mask = {"with_mask": "proper", "mask_weared_incorrect": "chin"}.get(label, "none")
    colours = ((235, 205, 150), (240, 240, 240), (225, 215, 200), (200, 160, 90), (150, 190, 230))
    colour = tuple(float(v) for v in colours[int(rng.integers(len(colours)))])
    occluder = rng.random()
    return fr.Extras(
        mask=mask if task == "mask" else "none",
        mask_colour=colour,
        mask_low=_u(rng, 0.0, 1.0),
        glasses=bool(occluder < 0.15),
        hand=bool(0.15 <= occluder < 0.22 and mask == "none"),
        strands=int(rng.integers(2, 6)) if 0.22 <= occluder < 0.3 else 0,
    )


@dataclass(frozen=True)
class RenderedFace:
    """One single-face picture and its ground truth."""

    image: np.ndarray
    box: tuple[int, int, int, int]
    roll: float  # radians, counter-clockwise in the image


def render_single(task: str, label: str, rng: np.random.Generator, size: int) -> RenderedFace:
    """A ``size`` x ``size`` picture of one face of class ``label``, roughly centred."""
    look = fr.random_look(rng)
    patch, alpha = fr.draw_face(
        look,
        sample_expression(task, label, rng),
        sample_extras(task, label, rng),
        tuple(rng.uniform(-0.35, 0.35, 2)),
        rng,
    )
    canvas = fr.random_background(rng, size, size)
    half = size * _u(rng, 0.2, 0.29)
    centre = (size * (0.5 + _u(rng, -0.07, 0.07)), size * (0.45 + _u(rng, -0.05, 0.05)))
    roll_deg = float(np.clip(rng.normal(0.0, 5.0), -15.0, 15.0))  # heads are mostly upright
    box = fr.paste_face(canvas, patch, alpha, look, centre, half, roll_deg)
    return RenderedFace(fr.finish(canvas, rng), box, math.radians(roll_deg))


def fer_crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 48x48 grey face crop of the FER2013 layout."""
    from inkface.faces.types import crop_face

    face = crop_face(image, box, margin=0.1, square=True)
    grey = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (48, 48), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class _Job:
    staging: Path
    task: str
    seed: int
    size: int
    items: tuple[tuple[int, str, str], ...]  # (index, label, relative path)


def _render_chunk(job: _Job) -> list[tuple[int, list[int], float, bytes]]:
    out = []
    for index, label, rel in job.items:
        face = render_single(job.task, label, rng_for(job.seed, job.task, _IMAGE, index), job.size)
        target = job.staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(target), face.image, _JPEG):
            raise OSError(f"{target}: OpenCV could not write the image")
        crop = fer_crop(face.image, face.box).tobytes() if job.task == "expression" else b""
        out.append((index, list(face.box), face.roll, crop))
    return out


def _plan(task: str, n: int) -> list[tuple[int, str, str]]:
    """(index, label, relative path) of every single-face image, classes interleaved."""
    classes = TASK_CLASSES[task]
    digits = max(4, len(str(n)))
    counts = dict.fromkeys(classes, 0)
    plan = []
    for i in range(n):
        label = classes[i % len(classes)]
        if task == "smile":
            rel = f"files/file{i + 1:0{digits}d}.jpg"
        else:
            counts[label] += 1
            rel = f"{label}/{counts[label]:0{digits}d}.jpg"
        plan.append((i, label, rel))
    return plan


def _top_level(task: str, scenes: bool) -> list[str]:
    names = {
        "smile": ["files", "labels.txt"],
        "expression": [*EXPRESSIONS, "fer2013.csv", "fer2013new.csv"],
        "mask": list(MASK_CLASSES),
    }[task] + ["boxes.json"]
    return [*names, "scenes"] if scenes else names


def _refuse_existing(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / name
        if path.is_dir() and any(path.iterdir()):
            raise InkfaceError(f"{path}: already holds a dataset; choose an empty output folder")
        if path.exists() and not path.is_dir():
            raise InkfaceError(f"{path}: already exists; choose an empty output folder")


def _usage(i: int, n: int) -> str:
    """FER2013's row order: Training rows, then PublicTest, then PrivateTest (80/10/10)."""
    if i < round(0.8 * n):
        return "Training"
    return "PublicTest" if i < round(0.9 * n) else "PrivateTest"


def ferplus_votes(label: str, rng: np.random.Generator) -> list[int]:
    """Ten taggers' votes over FER+'s columns with ``label`` holding a clear majority."""
    votes = [0] * len(FERPLUS_COLUMNS)
    main = int(rng.integers(6, 11))
    votes[FERPLUS_COLUMNS.index(label)] = main
    confusable = [c for c in EXPRESSIONS if c != label] + ["unknown"]
    for _ in range(10 - main):
        other = "neutral" if label != "neutral" and rng.random() < 0.5 else None
        other = other or confusable[int(rng.integers(len(confusable)))]
        votes[FERPLUS_COLUMNS.index(other)] += 1
    return votes


def _write_expression_csvs(staging: Path, plan, results, seed: int) -> None:
    n = len(plan)
    with (
        atomic_open(staging / "fer2013.csv", "w", encoding="utf-8", newline="") as old,
        atomic_open(staging / "fer2013new.csv", "w", encoding="utf-8", newline="") as new,
    ):
        old.write("emotion,pixels,Usage\n")
        new.write("Usage,Image name," + ",".join(FERPLUS_COLUMNS) + "\n")
        for (i, label, _), (_, _, _, crop) in zip(plan, results, strict=True):
            pixels = " ".join(map(str, np.frombuffer(crop, np.uint8)))
            usage = _usage(i, n)
            old.write(f"{FER2013_IDS[label]},{pixels},{usage}\n")
            votes = ferplus_votes(label, rng_for(seed, "expression", _VOTES, i))
            new.write(f"{usage},fer{i:07d}.png," + ",".join(map(str, votes)) + "\n")


def _validate(task: str, n: int, seed: int, size: int, n_frames: int, workers) -> None:
    if task not in TASK_CLASSES:
        raise InkfaceError(f"task: unknown {task!r}; choose one of {', '.join(TASK_CLASSES)}")
    for name, value, least in (
        ("n", n, 1),
        ("seed", seed, 0),
        ("size", size, 48),
        ("frames", n_frames, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InkfaceError(f"{name}: must be an integer >= {least}, got {value!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InkfaceError(f"workers: must be a positive integer or None, got {workers!r}")


def _run_jobs(jobs: list[_Job], workers: int, progress: bool, total: int) -> list:
    results = []
    with tqdm(total=total, desc="faces", unit="img", disable=not progress) as bar:
        if workers == 1:
            for job in jobs:
                results.extend(_render_chunk(job))
                bar.update(len(job.items))
        else:
            with process_pool(workers) as pool:
                for job, done in zip(jobs, pool.map(_render_chunk, jobs), strict=True):
                    results.extend(done)
                    bar.update(len(job.items))
    return sorted(results, key=lambda r: r[0])


def generate_faces(
    out: str | Path,
    task: str,
    n: int,
    seed: int = 0,
    size: int = 128,
    scenes: bool = False,
    n_frames: int = 48,
    workers: int | None = None,
    progress: bool = True,
) -> FaceGenerationSummary:
    """Write ``n`` synthetic single-face images of ``task`` to ``out`` in its layout.

    smile: GENKI-4K (``files/fileNNNN.jpg``, ``labels.txt``: ``smile yaw pitch roll``).
    expression: ``<class>/NNNN.jpg`` plus ``fer2013.csv`` and ``fer2013new.csv``.
    mask: ``with_mask/``, ``without_mask/``, ``mask_weared_incorrect/``. Always
    ``boxes.json`` (relative path -> true face box). ``scenes=True`` adds ``scenes/``
    (multi-face frames and a video with tracks). Files are staged in
    ``out/.partial-faces-<task>`` and moved into place only when all are written.
    """
    _validate(task, n, seed, size, n_frames, workers)
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise InkfaceError(f"{root}: output path exists and is not a folder")
    names = _top_level(task, scenes)
    _refuse_existing(root, names)
    started = time.perf_counter()
    staging = root / f".partial-faces-{task}"
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted run of ours
    staging.mkdir(parents=True)
    plan = _plan(task, n)
    n_workers = max(1, min(workers or min(2, os.cpu_count() or 1), n))
    chunk = max(1, math.ceil(n / (n_workers * 4)))
    jobs = [_Job(staging, task, seed, size, tuple(plan[i : i + chunk])) for i in range(0, n, chunk)]
    results = _run_jobs(jobs, n_workers, progress, n)
    write_json(
        staging / "boxes.json", {rel: r[1] for (_, _, rel), r in zip(plan, results, strict=True)}
    )
    if task == "smile":
        with atomic_open(staging / "labels.txt", "w", encoding="utf-8") as handle:
            for (_, label, _), (_, _, roll, _) in zip(plan, results, strict=True):
                handle.write(f"{SMILE_CLASSES.index(label)} 0.000000 0.000000 {roll:.6f}\n")
    elif task == "expression":
        _write_expression_csvs(staging, plan, results, seed)
    scene_info = None
    if scenes:
        from inkface.faces.synth.scenes import write_scenes

        scene_info = write_scenes(staging / "scenes", task, seed, size, n, n_frames)
    for name in names:
        entry = staging / name
        if not entry.exists():
            continue
        target = root / name
        if target.is_dir():
            target.rmdir()  # empty (checked above)
        os.replace(entry, target)
    shutil.rmtree(staging)
    counts = {c: sum(1 for _, label, _ in plan if label == c) for c in TASK_CLASSES[task]}
    return FaceGenerationSummary(
        root=root,
        task=task,
        images=n,
        classes=counts,
        seconds=time.perf_counter() - started,
        seed=seed,
        scenes=scene_info.frames if scene_info else 0,
        video=root / "scenes" / scene_info.video if scene_info else None,
        video_codec=scene_info.codec if scene_info else None,
        files=[rel for _, _, rel in plan],
    )
