"""The image sets the detector benchmark scores on, each with its true face boxes.

- synthetic multi-face scenes of the mask task (0-5 faces per 512x384 frame);
- synthetic single-face images per mask class (``with_mask``, ``without_mask``,
  ``mask_weared_incorrect``), so precision and recall can be split by class;
- OpenCV's sample photos from Debian's ``opencv-doc``: ``messi5.jpg`` (one clear frontal
  face, hand-annotated below) and pictures without human faces (``fruits.jpg``,
  ``baboon.jpg``) for false positives;
- optionally WIDER FACE or FDDB in their published layouts
  (:mod:`inkface.faces.data.detection_sets`).

Every score is :func:`inkface.faces.detection.matching.count_matches` at IoU 0.5.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inkface.core.errors import InkfaceError
from inkface.core.labels import MASK_CLASSES
from inkface.faces.data.detection_sets import read_fddb, read_wider_face
from inkface.faces.detection.detectors import FaceDetector
from inkface.faces.detection.matching import MatchCounts, count_matches
from inkface.faces.synth.generator import generate_faces
from inkface.faces.types import Box

SAMPLE_DIR = Path("/usr/share/doc/opencv-doc/examples/data")  # Debian opencv-doc
MESSI_FACE: Box = (227, 94, 264, 131)  # the frontal face in messi5.jpg (548x342)
NO_FACE_IMAGES = ("fruits.jpg", "baboon.jpg")


@dataclass(frozen=True)
class EvalSet:
    """Images and their true boxes under one name."""

    name: str
    images: list[np.ndarray]
    truths: list[list[Box]]


def score(detector: FaceDetector, images: Sequence[np.ndarray], truths) -> MatchCounts:
    """TP / FP / FN of ``detector`` over ``images`` at IoU 0.5."""
    found = [detector.detect(image) for image in images]
    return count_matches(
        [[f.box for f in faces] for faces in found],
        truths,
        [[f.score for f in faces] for faces in found],
    )


def synthetic_sets(scenes: int, per_class: int, seed: int = 0) -> list[EvalSet]:
    """``scenes`` mask-task scenes, then ``per_class`` single-face images of each mask
    class (128x128, as the generator writes the mask dataset)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="inkface-detsets-") as tmp:
        root = Path(tmp)
        n = max(5 * scenes, per_class * len(MASK_CLASSES))
        generate_faces(
            root, "mask", n, seed=seed, scenes=True, n_frames=1, workers=1, progress=False
        )
        truth = json.loads((root / "scenes" / "boxes.json").read_text())
        names = sorted(truth)[:scenes]
        out.append(
            EvalSet(
                "scenes",
                [cv2.imread(str(root / "scenes" / name)) for name in names],
                [[tuple(f["box"]) for f in truth[name]] for name in names],
            )
        )
        singles = json.loads((root / "boxes.json").read_text())
        for label in MASK_CLASSES:
            rels = sorted(r for r in singles if r.startswith(f"{label}/"))[:per_class]
            images = [cv2.imread(str(root / rel)) for rel in rels]
            out.append(EvalSet(label, images, [[tuple(singles[rel])] for rel in rels]))
    return out


def sample_photos(folder: Path = SAMPLE_DIR) -> tuple[EvalSet, EvalSet]:
    """``messi5.jpg`` with its face, and the no-face pictures with none; InkfaceError
    when Debian's opencv-doc samples are not installed."""

    def load(name: str) -> np.ndarray:
        image = cv2.imread(str(folder / name))
        if image is None:
            raise InkfaceError(
                f"{folder / name}: missing; install Debian's opencv-doc "
                "(`apt-get install opencv-doc`)"
            )
        return image

    messi = EvalSet("messi5", [load("messi5.jpg")], [[MESSI_FACE]])
    empty = EvalSet("no-face", [load(n) for n in NO_FACE_IMAGES], [[] for _ in NO_FACE_IMAGES])
    return messi, empty


def benchmark_set(kind: str, root: str | Path, limit: int | None = None) -> EvalSet:
    """The first ``limit`` images of WIDER FACE (val) or FDDB (all folds) under ``root``."""
    if kind == "wider":
        items = read_wider_face(root, "val")
    elif kind == "fddb":
        items = read_fddb(root)
    else:
        raise InkfaceError(f"benchmark: 'wider' or 'fddb', got {kind!r}")
    items = items[:limit] if limit else items
    images = []
    for path, _ in items:
        image = cv2.imread(str(path))
        if image is None:
            raise InkfaceError(f"{path}: listed in the {kind} annotations but not readable")
        images.append(image)
    return EvalSet(kind, images, [boxes for _, boxes in items])
