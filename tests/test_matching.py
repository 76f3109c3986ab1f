"""The one detection matcher (PASCAL VOC / WIDER FACE rule): one-to-one matches, duplicates
as false positives, the score order, the IoU threshold's edge and the frame totals."""

from __future__ import annotations

import pytest

from inkface.core.errors import InkfaceError
from inkface.faces.detection.matching import MatchCounts, count_matches, match_detections


def test_each_truth_and_detection_is_matched_at_most_once() -> None:
    truths = [(0, 0, 10, 10), (20, 20, 30, 30)]
    detections = [(20, 20, 30, 30), (0, 0, 10, 10)]
    frame = match_detections(detections, truths)
    assert frame.pairs == ((0, 1, 1.0), (1, 0, 1.0))
    assert (frame.tp, frame.fp, frame.fn) == (2, 0, 0)


def test_a_duplicate_detection_is_a_false_positive() -> None:
    truths = [(0, 0, 10, 10)]
    frame = match_detections([(0, 0, 10, 10), (1, 1, 10, 10)], truths)
    assert (frame.tp, frame.fp, frame.fn) == (1, 1, 0)
    assert [p[:2] for p in frame.pairs] == [(0, 0)]


def test_higher_score_claims_the_face_first() -> None:
    truths = [(0, 0, 10, 10)]
    detections = [(1, 1, 10, 10), (0, 0, 10, 10)]  # IoU 0.81, then 1.0
    assert match_detections(detections, truths).pairs[0][0] == 0  # given order
    by_score = match_detections(detections, truths, scores=[0.2, 0.9])
    assert by_score.pairs == ((1, 0, 1.0),) and by_score.fp == 1
    tied = match_detections(detections, truths, scores=[0.5, 0.5])
    assert tied.pairs[0][0] == 0  # ties keep the given order


def test_a_detection_takes_its_best_truth_even_if_that_one_is_taken() -> None:
    # VOC rule: no fall-back to a second-best truth; the second detection is a FP.
    truths = [(0, 0, 10, 10), (0, 0, 10, 12)]
    frame = match_detections([(0, 0, 10, 10), (0, 0, 10, 10)], truths)
    assert [p[:2] for p in frame.pairs] == [(0, 0)]
    assert (frame.tp, frame.fp, frame.fn) == (1, 1, 1)


def test_iou_threshold_is_inclusive() -> None:
    truth = [(0, 0, 10, 20)]
    assert match_detections([(0, 0, 10, 10)], truth).tp == 1  # IoU exactly 0.5
    assert match_detections([(0, 0, 10, 10)], [(0, 0, 10, 21)]).tp == 0  # 100 / 210
    assert match_detections([(0, 0, 10, 10)], truth, iou=0.51).tp == 0
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(InkfaceError, match="iou"):
            match_detections([], [], iou=bad)


def test_empty_frames_and_disjoint_boxes() -> None:
    assert match_detections([], []).pairs == ()
    lonely = match_detections([(0, 0, 5, 5)], [])
    assert (lonely.tp, lonely.fp, lonely.fn) == (0, 1, 0)
    missed = match_detections([(50, 50, 60, 60)], [(0, 0, 10, 10)])
    assert (missed.tp, missed.fp, missed.fn) == (0, 1, 1)


def test_count_matches_sums_frames() -> None:
    truths = [[(0, 0, 10, 10), (20, 20, 30, 30)], []]
    found = [[(0, 0, 10, 10), (1, 1, 10, 10), (50, 50, 60, 60)], [(0, 0, 5, 5)]]
    counts = count_matches(found, truths)
    assert counts == MatchCounts(tp=1, fp=3, fn=1)
    assert (counts.n_detections, counts.n_truths) == (4, 2)
    assert (counts.precision, counts.recall) == (0.25, 0.5)
    assert count_matches([[]], [[]]) == MatchCounts()
    assert (MatchCounts().precision, MatchCounts().recall) == (0.0, 0.0)
    with pytest.raises(InkfaceError):
        count_matches([[]], [[], []])
    with pytest.raises(InkfaceError):
        match_detections([(0, 0, 1, 1)], [], scores=[0.1, 0.2])
