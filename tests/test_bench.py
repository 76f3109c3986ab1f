"""Benchmark helpers on tiny settings: sane numbers and tables, never timing thresholds."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from inkface.core.errors import InkfaceError
from inkface.faces.detection import bench as det_bench
from inkface.faces.detection.detectors import get_detector
from inkface.faces.detection.matching import count_matches
from inkface.faces.pipeline import bench as pipe_bench

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_time_calls_and_system_info() -> None:
    seen: list[int] = []
    times = det_bench.time_calls(seen.append, warmup=2, repeats=3)
    assert seen == [0, 1, 2, 3, 4] and len(times) == 3 and min(times) >= 0
    with pytest.raises(InkfaceError):
        det_bench.time_calls(seen.append, 0, 0)
    info = det_bench.system_info()
    assert {"cpu", "cores", "torch", "opencv", "python", "onnxruntime"} <= set(info)


def test_face_frames_hold_exactly_the_requested_faces() -> None:
    frames, boxes = pipe_bench.face_frames(5, 2)
    assert len(frames) == 2 and all(f.shape == (350, 350, 3) for f in frames)
    assert all(len(b) == 5 for b in boxes) and frames[0].dtype == np.uint8
    detector = get_detector("haar")
    frames, boxes = pipe_bench.face_frames(1, 2, detector=detector)
    for frame, truth in zip(frames, boxes, strict=True):
        found = detector.detect(frame)
        counts = count_matches([[f.box for f in found]], [truth], [[f.score for f in found]])
        assert (counts.tp, counts.fp, counts.fn) == (1, 0, 0)


def test_bench_detectors_tiny() -> None:
    rows = det_bench.bench_detectors(["haar", "nonsense"], side=160, warmup=1, repeats=3, scenes=4)
    haar, nonsense = rows
    assert haar.available and len(haar.spf) == 3 and all(t > 0 for t in haar.spf)
    assert 0.0 <= haar.precision <= 1.0 and 0.0 <= haar.recall <= 1.0 and haar.true_faces > 0
    assert not nonsense.available and "unknown" in nonsense.note
    table = det_bench.format_detector_table(rows, 1, 3, 160)
    assert "160x160" in table and "nonsense   unavailable:" in table and "Table 7.1" in table
    assert table.splitlines()[2].startswith("haar")


def test_bench_pipeline_tiny_torch_only() -> None:
    report = pipe_bench.bench_pipeline(
        frames=2, warmup=1, repeats=1, face_counts=(1, 2), backends=("torch",), threads=1
    )
    assert [(r.faces, r.backend) for r in report.rows] == [("1", "torch"), ("2", "torch")]
    for row in report.rows:
        assert len(row.latencies_ms) == 2 and all(t > 0 for t in row.latencies_ms)
        assert row.classify_ms > 0 and row.detect_ms > 0
    assert report.rows[0].found_per_frame == pytest.approx(1.0)
    table = pipe_bench.format_pipeline_table(report, det_bench.system_info(1))
    assert "torch threads 1" in table and "1.00   1.00" in table


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="no onnxruntime")
def test_bench_pipeline_onnx_side_by_side() -> None:
    report = pipe_bench.bench_pipeline(frames=1, warmup=1, repeats=1, face_counts=(1,), threads=1)
    backends = [r.backend for r in report.rows]
    assert backends[:2] == ["torch", "onnx-fp32"]
    assert "onnx-int8" in backends or any("onnx-int8" in n for n in report.notes)
    table = pipe_bench.format_pipeline_table(report, det_bench.system_info(1))
    assert all(b in table for b in backends)


def test_bench_pipeline_on_a_source(tmp_path) -> None:
    import cv2

    frames, _ = pipe_bench.face_frames(1, 2)
    for k, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"f{k}.png"), frame)
    report = pipe_bench.bench_pipeline(
        str(tmp_path), frames=2, warmup=0, repeats=1, backends=("torch",)
    )
    assert [r.faces for r in report.rows] == ["source"]
    with pytest.raises(InkfaceError, match="no such"):
        pipe_bench.bench_pipeline(str(tmp_path / "nope"), backends=("torch",))
