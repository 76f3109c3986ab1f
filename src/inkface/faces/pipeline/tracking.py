"""Face tracks across video frames (IoU matching, SORT-style ages) and per-track smoothing
of class probabilities so labels do not flicker from one frame to the next.

The smile report's pipeline (§7.3) classifies every frame independently; on video that
makes a borderline face's label flip frame to frame. Tracking gives each face an id and
an exponential moving average of its probabilities per classifier head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from inkface.core.errors import InkfaceError
from inkface.faces.types import Box, box_iou


@dataclass
class Track:
    """One tracked face: last box, how often and how recently it was matched, and its
    smoothed probabilities per head."""

    track_id: int
    box: Box
    score: float
    hits: int = 1
    streak: int = 1
    misses: int = 0
    probs: dict[str, np.ndarray] = field(default_factory=dict)


def iou_matrix(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> np.ndarray:
    """(len(a), len(b)) pairwise IoU."""
    out = np.zeros((len(a), len(b)), np.float64)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i, j] = box_iou(x, y)
    return out


def match_boxes(
    iou: np.ndarray, threshold: float, method: Literal["hungarian", "greedy"] = "hungarian"
) -> list[tuple[int, int]]:
    """(row, col) pairs of an IoU matrix with IoU >= ``threshold``: the assignment that
    maximises total IoU (Hungarian, ``scipy.optimize.linear_sum_assignment``) or greedy
    best-IoU-first."""
    if iou.size == 0:
        return []
    if method == "hungarian":
        rows, cols = linear_sum_assignment(-iou)
        pairs = zip(rows.tolist(), cols.tolist(), strict=True)
        return sorted((r, c) for r, c in pairs if iou[r, c] >= threshold)
    if method != "greedy":
        raise InkfaceError(f"matcher: unknown {method!r}; use hungarian or greedy")
    pairs: list[tuple[int, int]] = []
    used_r: set[int] = set()
    used_c: set[int] = set()
    order = np.argsort(-iou, axis=None, kind="stable")
    for flat in order.tolist():
        r, c = divmod(flat, iou.shape[1])
        if iou[r, c] < threshold:
            break
        if r not in used_r and c not in used_c:
            pairs.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return sorted(pairs)


class IoUTracker:
    """Greedy or Hungarian IoU tracker (SORT without the Kalman filter).

    ``update(boxes)`` matches the new detections to live tracks by IoU >=
    ``iou_threshold``, starts a track for every unmatched detection and drops tracks not
    matched for more than ``max_age`` updates. A track counts as *confirmed* once it has
    been matched ``min_hits`` times in a row (or during the first ``min_hits`` updates,
    so the first frames are not blank). Between detector runs the pipeline keeps the
    tracks' last boxes (no motion model: faces move little in a few frames at video
    rates, and a wrong extrapolation is worse than a slightly stale box).
    """

    def __init__(
        self,
        iou_threshold: float = 0.3,
        max_age: int = 5,
        min_hits: int = 1,
        matcher: Literal["hungarian", "greedy"] = "hungarian",
    ) -> None:
        if not 0.0 <= iou_threshold <= 1.0:
            raise InkfaceError(f"iou_threshold: must be in [0, 1], got {iou_threshold}")
        if max_age < 0 or min_hits < 1:
            raise InkfaceError(f"max_age >= 0 and min_hits >= 1, got {max_age}, {min_hits}")
        if matcher not in ("hungarian", "greedy"):
            raise InkfaceError(f"matcher: unknown {matcher!r}; use hungarian or greedy")
        self.iou_threshold = iou_threshold
        self.max_age = max_age
        self.min_hits = min_hits
        self.matcher = matcher
        self.tracks: list[Track] = []
        self.updates = 0
        self._next_id = 1

    def update(self, boxes: Sequence[Box], scores: Sequence[float] | None = None) -> list[Track]:
        """Match one frame's detections; the track of each detection, in input order."""
        scores = list(scores) if scores is not None else [1.0] * len(boxes)
        self.updates += 1
        iou = iou_matrix([t.box for t in self.tracks], boxes)
        pairs = match_boxes(iou, self.iou_threshold, self.matcher)
        matched_tracks = {r for r, _ in pairs}
        result: list[Track | None] = [None] * len(boxes)
        for r, c in pairs:
            track = self.tracks[r]
            track.box, track.score = tuple(boxes[c]), float(scores[c])
            track.hits += 1
            track.streak += 1
            track.misses = 0
            result[c] = track
        for r, track in enumerate(self.tracks):
            if r not in matched_tracks:
                track.misses += 1
                track.streak = 0
        self.tracks = [t for t in self.tracks if t.misses <= self.max_age]
        for c, box in enumerate(boxes):
            if result[c] is None:
                track = Track(self._next_id, tuple(box), float(scores[c]))
                self._next_id += 1
                self.tracks.append(track)
                result[c] = track
        return [t for t in result if t is not None]

    def confirmed(self, track: Track) -> bool:
        """Whether ``track`` has been seen often enough to report."""
        return track.streak >= self.min_hits or self.updates <= self.min_hits

    def current(self) -> list[Track]:
        """Tracks matched at the latest update (what a frame without detection shows)."""
        return [t for t in self.tracks if t.misses == 0]


def _ema(previous: np.ndarray | None, probs: np.ndarray, smoothing: float) -> np.ndarray:
    if not 0.0 <= smoothing < 1.0:
        raise InkfaceError(f"smoothing: must be in [0, 1), got {smoothing}")
    probs = np.asarray(probs, np.float64)
    if previous is None or previous.shape != probs.shape:
        return probs.copy()
    return smoothing * previous + (1.0 - smoothing) * probs


def smooth_probs(track: Track, head: str, probs: np.ndarray, smoothing: float) -> np.ndarray:
    """Exponential moving average of one head's probabilities on ``track``.

    ``s_t = smoothing * s_(t-1) + (1 - smoothing) * p_t``; ``smoothing`` 0 turns it off,
    0.6 (default) lets a new class win after two or three consistent frames while a
    single-frame flip is damped. The first frame of a track takes ``p`` as it is.
    """
    value = _ema(track.probs.get(head), probs, smoothing)
    track.probs[head] = value
    return value


class ProbSmoother:
    """:func:`smooth_probs` keyed by track id instead of stored on the :class:`Track`.

    The pipeline's classify stage owns one, so it never touches the tracker, which the
    detect stage updates at the same time for a later frame (the two run in their own
    threads). ``retain`` drops the state of tracks the tracker has dropped; track ids are
    never reused, so the results equal :func:`smooth_probs` on the tracks themselves.
    """

    def __init__(self, smoothing: float) -> None:
        _ema(None, np.zeros(1), smoothing)  # validates
        self.smoothing = smoothing
        self._state: dict[int, dict[str, np.ndarray]] = {}

    def smooth(self, track_id: int, head: str, probs: np.ndarray) -> np.ndarray:
        """The smoothed probabilities of ``head`` on track ``track_id`` after ``probs``."""
        heads = self._state.setdefault(track_id, {})
        value = _ema(heads.get(head), probs, self.smoothing)
        heads[head] = value
        return value

    def retain(self, track_ids: frozenset[int] | set[int]) -> None:
        """Forget every track not in ``track_ids`` (memory stays bounded on long videos)."""
        for gone in self._state.keys() - track_ids:
            del self._state[gone]
