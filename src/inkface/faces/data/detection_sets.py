"""Readers of the two public face-detection benchmarks in their published layouts.

- **WIDER FACE** (Yang et al., CVPR 2016): ``WIDER_<split>/images/<event>/<name>.jpg`` and
  ``wider_face_split/wider_face_<split>_bbx_gt.txt``, where each image is a line with its
  path relative to ``images/``, a line with the face count, then one line per face:
  ``x1 y1 w h blur expression illumination invalid occlusion pose`` (an image with no
  face still has one all-zero line). Faces flagged ``invalid`` are left out.
- **FDDB** (Jain and Learned-Miller, 2010): ``originalPics/<year>/<month>/<day>/big/
  img_<n>.jpg`` and ``FDDB-folds/FDDB-fold-<01..10>-ellipseList.txt``, where each image is
  a line with its path without ``.jpg``, a line with the face count, then one ellipse
  per face: ``major_radius minor_radius angle centre_x centre_y 1`` (angle in radians,
  of the major axis from the x axis). Each ellipse becomes its axis-aligned bounding box.

Both give ``(image path, [(x1, y1, x2, y2), ...])`` pairs for the detector benchmark.
A missing or malformed file raises InkfaceError naming it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from inkface.core.errors import InkfaceError

Box = tuple[int, int, int, int]
Annotated = list[tuple[Path, list[Box]]]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise InkfaceError(f"{path}: annotation file not found")
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, line.strip()


def _blocks(path: Path) -> Iterator[tuple[str, list[tuple[int, list[str]]]]]:
    """(name, face lines) per image of a ``name / count / count lines`` file."""
    lines = _lines(path)
    for number, name in lines:
        try:
            count = int(next(lines)[1])
        except (StopIteration, ValueError):
            raise InkfaceError(f"{path}:{number + 1}: expected the face count of {name}") from None
        rows = []
        for _ in range(max(count, 1) if path.name.endswith("_bbx_gt.txt") else count):
            try:
                at, text = next(lines)
            except StopIteration:
                raise InkfaceError(f"{path}: ends inside the faces of {name}") from None
            rows.append((at, text.split()))
        yield name, rows[:count]


def read_wider_face(root: str | Path, split: str = "val") -> Annotated:
    """WIDER FACE ``split`` (train / val) under ``root``: images with their valid faces."""
    root = Path(root)
    if split not in ("train", "val"):
        raise InkfaceError(
            f"WIDER FACE split: 'train' or 'val' (test has no labels), got {split!r}"
        )
    notes = root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt"
    images = root / f"WIDER_{split}" / "images"
    out = []
    for name, rows in _blocks(notes):
        boxes = []
        for at, values in rows:
            if len(values) < 8:
                raise InkfaceError(f"{notes}:{at}: expected x1 y1 w h and 6 flags")
            x, y, w, h = (int(float(v)) for v in values[:4])
            if int(values[7]) == 0 and w > 0 and h > 0:
                boxes.append((x, y, x + w, y + h))
        out.append((images / name, boxes))
    return out


def ellipse_box(major: float, minor: float, angle: float, cx: float, cy: float) -> Box:
    """The axis-aligned bounding box of an FDDB ellipse (semi-axes, radians, centre)."""
    c, s = math.cos(angle), math.sin(angle)
    half_w = math.hypot(major * c, minor * s)
    half_h = math.hypot(major * s, minor * c)
    return (round(cx - half_w), round(cy - half_h), round(cx + half_w), round(cy + half_h))


def read_fddb(root: str | Path, folds: tuple[int, ...] = tuple(range(1, 11))) -> Annotated:
    """FDDB images of ``folds`` (1-10) under ``root`` with their faces as boxes."""
    root = Path(root)
    out = []
    for fold in folds:
        notes = root / "FDDB-folds" / f"FDDB-fold-{fold:02d}-ellipseList.txt"
        for name, rows in _blocks(notes):
            boxes = []
            for at, values in rows:
                try:
                    major, minor, angle, cx, cy = (float(v) for v in values[:5])
                except ValueError:
                    raise InkfaceError(f"{notes}:{at}: expected an ellipse of 5 numbers") from None
                boxes.append(ellipse_box(major, minor, angle, cx, cy))
            out.append((root / "originalPics" / f"{name}.jpg", boxes))
    return out
