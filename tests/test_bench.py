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
from inkface.faces.pipeline import bench_realtime as realtime

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


def test_detector_flags_on_bench(capsys) -> None:
    from inkface.cli import main as cli_main

    report = pipe_bench.bench_pipeline(
        frames=1, warmup=0, repeats=1, face_counts=(1,), backends=("torch",),
        detector_options={"min_neighbors": 4},
    )  # fmt: skip
    assert [r.faces for r in report.rows] == ["1"]
    one = ["bench", "detectors", "--size", "64", "--large", "none", "--warmup", "0", "--repeats",
           "1", "--scenes", "2", "--per-class", "0", "--samples", "/nonexistent"]  # fmt: skip
    assert cli_main.main([*one, "--detector", "haar", "--detector-option", "min_neighbors=3"]) == 0
    assert "haar" in capsys.readouterr().out
    assert cli_main.main([*one, "--detectors", "haar,lbp", "--detector-option", "a=1"]) == 2
    assert "exactly one detector" in capsys.readouterr().err
    assert cli_main.main(["bench", "realtime", "--systems", "nope"]) == 2
    assert "--systems" in capsys.readouterr().err


def test_realtime_naive_loop_and_pipeline_row(tmp_path) -> None:
    from inkface.faces.classification.classifier import init_untrained_classifier

    frames, _ = pipe_bench.face_frames(1, 3, side=160)
    video = realtime.write_video(frames, tmp_path / "v.avi")
    run = init_untrained_classifier(tmp_path / "smile", "smile_cnn")
    fps, latencies, det, cls, faces = realtime.naive_loop(
        video, "haar", run, tmp_path / "naive.avi", (1, 1)
    )
    assert len(latencies) == 3 and fps > 0 and det > 0 and cls >= 0
    row = realtime.pipeline_row("s", "inkface", video, "haar", run, tmp_path / "p.avi", threads=2)
    assert row.fps > 0 and row.faces == pytest.approx(faces)
    assert (tmp_path / "naive.avi").stat().st_size > 0 and (tmp_path / "p.avi").is_file()


def test_realtime_table_and_targets() -> None:
    mask, blaze = realtime.SYSTEMS[0].label, realtime.SYSTEMS[2].label
    busy = "busy core: ssd + mobilenetv2"
    rows = [
        (mask, "naive", 2.0), (mask, "inkface", 12.0), (blaze, "naive", 3.0),
        (blaze, "inkface", 50.0), (blaze, "inkface int8", 61.0),
        (realtime.faces_label(1), "inkface int8", 40.0),
        (realtime.faces_label(5), "inkface int8", 30.0),
        (busy, "default (2 threads)", 9.0), (busy, "--threads 1", 10.0),
    ]  # fmt: skip
    report = realtime.RealtimeReport(video="v", frames=3, many_faces=5)
    report.rows = [realtime.Row(s, r, f, 10.0, 20.0, 5.0, 2.0, 1.0) for s, r, f in rows]
    verdicts = [(round(value, 2), met) for _, value, _, met in realtime.targets(report)]
    assert verdicts == [(6.0, True), (61.0, True), (0.75, False), (0.9, True)]
    table = realtime.format_realtime_table(report, {"cpu": "x"})
    assert "   6.00" in table and "  20.33" in table and "MISSED (6% short)" in table
    assert table.count(" met") == 3
