"""Matching detections to true face boxes: the one rule behind every detector score.

The rule is PASCAL VOC's (Everingham et al., IJCV 2010, §4.2; the WIDER FACE evaluation
applies the same greedy matching per image). Detections are taken in descending score
(ties keep their given order; without scores, the given order, which is best-first for
every :class:`~inkface.faces.detection.detectors.FaceDetector`). Each detection is
compared with every true box and takes the one it overlaps most (the lowest index on a
tie). It is a true positive when that overlap is at least ``iou`` and the box is not
matched yet; otherwise it is a false positive, so a second detection of an already found
face counts against precision. True boxes left unmatched are false negatives. Each true
box is thus matched at most once and each detection at most once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inkface.core.errors import InkfaceError
from inkface.faces.types import box_iou

IOU_THRESHOLD = 0.5  # WIDER FACE / PASCAL VOC: overlap of at least 50 %


@dataclass(frozen=True)
class FrameMatch:
    """Matched ``(detection index, truth index, IoU)`` pairs of one frame, and its sizes."""

    pairs: tuple[tuple[int, int, float], ...]
    n_detections: int
    n_truths: int

    @property
    def tp(self) -> int:
        return len(self.pairs)

    @property
    def fp(self) -> int:
        return self.n_detections - self.tp

    @property
    def fn(self) -> int:
        return self.n_truths - self.tp


@dataclass(frozen=True)
class MatchCounts:
    """True positives, false positives and false negatives summed over frames."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def n_detections(self) -> int:
        return self.tp + self.fp

    @property
    def n_truths(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        """TP / detections (0.0 without detections)."""
        return self.tp / self.n_detections if self.n_detections else 0.0

    @property
    def recall(self) -> float:
        """TP / true faces (0.0 without true faces)."""
        return self.tp / self.n_truths if self.n_truths else 0.0


def _check_threshold(iou: float) -> None:
    if not 0.0 < iou <= 1.0:
        raise InkfaceError(f"iou: must be in (0, 1], got {iou}")


def match_detections(
    detections: Sequence[Sequence[float]],
    truths: Sequence[Sequence[float]],
    scores: Sequence[float] | None = None,
    iou: float = IOU_THRESHOLD,
) -> FrameMatch:
    """Match one frame's detection boxes to its true boxes (module docstring's rule).

    Boxes are (x1, y1, x2, y2); ``scores`` (one per detection) set the processing
    order, best first; IoU >= ``iou`` counts as overlapping.
    """
    _check_threshold(iou)
    if scores is not None and len(scores) != len(detections):
        raise InkfaceError(f"scores: {len(scores)} given for {len(detections)} detections")
    order = list(range(len(detections)))
    if scores is not None:
        order.sort(key=lambda k: -float(scores[k]))  # stable: ties keep the given order
    matched: set[int] = set()
    pairs = []
    for k in order:
        overlaps = [box_iou(detections[k], truth) for truth in truths]
        if not overlaps:
            continue
        best = max(range(len(overlaps)), key=lambda j: (overlaps[j], -j))
        if overlaps[best] >= iou and best not in matched:
            matched.add(best)
            pairs.append((k, best, overlaps[best]))
    return FrameMatch(tuple(pairs), len(detections), len(truths))


def count_matches(
    detections: Sequence[Sequence[Sequence[float]]],
    truths: Sequence[Sequence[Sequence[float]]],
    scores: Sequence[Sequence[float]] | None = None,
    iou: float = IOU_THRESHOLD,
) -> MatchCounts:
    """TP / FP / FN over many frames: ``detections[i]`` and ``truths[i]`` (and
    ``scores[i]`` if given) are the boxes of frame ``i``."""
    if len(detections) != len(truths):
        raise InkfaceError(f"{len(detections)} frames of detections but {len(truths)} of truths")
    if scores is not None and len(scores) != len(detections):
        raise InkfaceError(f"scores: {len(scores)} frames given for {len(detections)}")
    tp = fp = fn = 0
    for i, (found, true) in enumerate(zip(detections, truths, strict=True)):
        frame = match_detections(found, true, scores[i] if scores is not None else None, iou)
        tp, fp, fn = tp + frame.tp, fp + frame.fp, fn + frame.fn
    return MatchCounts(tp, fp, fn)
