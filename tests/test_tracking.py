"""IoU tracker and per-track probability smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from inkface.core.errors import InkfaceError
from inkface.faces.pipeline.tracking import IoUTracker, iou_matrix, match_boxes, smooth_probs


def _ids(tracks) -> list[int]:
    return [t.track_id for t in tracks]


@pytest.mark.parametrize("matcher", ["hungarian", "greedy"])
def test_ids_persist_while_boxes_move(matcher: str) -> None:
    tracker = IoUTracker(matcher=matcher)
    a, b = (10, 10, 60, 60), (200, 50, 260, 110)
    first = _ids(tracker.update([a, b]))
    assert first == [1, 2]
    for step in range(1, 6):
        moved_a = (10 + 4 * step, 10 + 2 * step, 60 + 4 * step, 60 + 2 * step)
        moved_b = (200 - 3 * step, 50, 260 - 3 * step, 110)
        # detections arrive in the other order: ids must follow the boxes, not the order
        assert _ids(tracker.update([moved_b, moved_a])) == [2, 1]


def test_new_faces_get_new_ids_and_lost_tracks_expire() -> None:
    tracker = IoUTracker(max_age=2)
    tracker.update([(0, 0, 50, 50)])
    assert _ids(tracker.update([(0, 0, 50, 50), (100, 100, 150, 150)])) == [1, 2]
    for _ in range(2):  # face 1 disappears; kept while misses <= max_age
        tracker.update([(100, 100, 150, 150)])
    assert sorted(t.track_id for t in tracker.tracks) == [1, 2]
    assert _ids(tracker.current()) == [2]
    tracker.update([(100, 100, 150, 150)])  # third miss: expired
    assert [t.track_id for t in tracker.tracks] == [2]
    # a face reappearing where track 1 was gets a fresh id
    assert _ids(tracker.update([(100, 100, 150, 150), (0, 0, 50, 50)])) == [2, 3]


def test_min_hits_confirms_tracks_after_a_streak() -> None:
    tracker = IoUTracker(min_hits=3)
    box = (0, 0, 40, 40)
    for _ in range(3):  # the first min_hits updates report everything
        (track,) = tracker.update([box])
        assert tracker.confirmed(track)
    (late,) = tracker.update([box, (100, 0, 140, 40)])[1:]
    assert not tracker.confirmed(late)
    tracker.update([box, (100, 0, 140, 40)])
    (_, late) = tracker.update([box, (100, 0, 140, 40)])
    assert tracker.confirmed(late)


def test_hungarian_beats_greedy_on_a_crossing() -> None:
    iou = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert match_boxes(iou, 0.3, "hungarian") == [(0, 1), (1, 0)]
    assert match_boxes(iou, 0.3, "greedy") == [(0, 0)]
    assert match_boxes(np.zeros((0, 3)), 0.3) == []
    assert iou_matrix([(0, 0, 10, 10)], [(0, 0, 10, 10), (5, 0, 15, 10)]).round(3).tolist() == [
        [1.0, 0.333]
    ]


def test_ema_damps_a_one_frame_flip() -> None:
    tracker = IoUTracker()
    (track,) = tracker.update([(0, 0, 10, 10)])
    steady, flip = np.array([0.9, 0.1]), np.array([0.1, 0.9])
    for _ in range(5):
        smooth_probs(track, "smile", steady, 0.6)
    damped = smooth_probs(track, "smile", flip, 0.6)
    assert int(np.argmax(damped)) == 0 and damped[1] < 0.5
    # without smoothing the label flips at once; with it, it follows after a few frames
    assert int(np.argmax(smooth_probs(track, "raw", flip, 0.0))) == 1
    for _ in range(3):
        value = smooth_probs(track, "smile", flip, 0.6)
    assert int(np.argmax(value)) == 1
    assert np.isclose(value.sum(), 1.0)


def test_bad_options() -> None:
    with pytest.raises(InkfaceError):
        IoUTracker(matcher="magic")  # type: ignore[arg-type]
    with pytest.raises(InkfaceError):
        IoUTracker(min_hits=0)
    (track,) = IoUTracker().update([(0, 0, 5, 5)])
    with pytest.raises(InkfaceError, match="smoothing"):
        smooth_probs(track, "h", np.array([1.0, 0.0]), 1.0)
