"""Synthetic face datasets for the smile, expression and face-mask tasks, in the published
GENKI-4K, class-folder (AffectNet later release / Kaggle masks), FER2013 and FER+ layouts.

Faces are drawn by :mod:`inkface.faces.synth.render` with the label-driven expressions
and accessories of :mod:`inkface.faces.synth.sampling`, whose per-item random streams
make the files identical whatever ``workers`` is. ``boxes.json`` holds each face's true
box, so detectors can be scored on the data
(:func:`inkface.faces.detection.detectors.detection_recall`). Scenes with several faces
and a short video with tracked faces come from :mod:`inkface.faces.synth.scenes`.
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
from inkface.core.progress import show_bars
from inkface.faces.synth.compose import finish, paste_face, random_background
from inkface.faces.synth.render import draw_face
from inkface.faces.synth.sampling import (
    IMAGE_STREAM,
    VOTES_STREAM,
    random_look,
    rng_for,
    sample_expression,
    sample_extras,
    uniform,
)
from inkface.faces.synth.scenes import write_scenes
from inkface.faces.types import crop_face

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


@dataclass(frozen=True)
class RenderedFace:
    """One single-face picture and its ground truth."""

    image: np.ndarray
    box: tuple[int, int, int, int]
    roll: float  # radians, counter-clockwise in the image


def render_single(task: str, label: str, rng: np.random.Generator, size: int) -> RenderedFace:
    """A ``size`` x ``size`` picture of one face of class ``label``, roughly centred."""
    look = random_look(rng)
    patch, alpha = draw_face(
        look,
        sample_expression(task, label, rng),
        sample_extras(task, label, rng),
        tuple(rng.uniform(-0.35, 0.35, 2)),
        rng,
    )
    canvas = random_background(rng, size, size)
    half = size * uniform(rng, 0.2, 0.29)
    centre = (size * (0.5 + uniform(rng, -0.07, 0.07)), size * (0.45 + uniform(rng, -0.05, 0.05)))
    roll_deg = float(np.clip(rng.normal(0.0, 5.0), -15.0, 15.0))  # heads are mostly upright
    box = paste_face(canvas, patch, alpha, look, centre, half, roll_deg)
    return RenderedFace(finish(canvas, rng), box, math.radians(roll_deg))


def fer_crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 48x48 grey face crop of the FER2013 layout."""
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
        rng = rng_for(job.seed, job.task, IMAGE_STREAM, index)
        face = render_single(job.task, label, rng, job.size)
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
            votes = ferplus_votes(label, rng_for(seed, "expression", VOTES_STREAM, i))
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
    with tqdm(total=total, desc="faces", unit="img", disable=not show_bars(progress)) as bar:
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
