"""Frame sources, sinks, the face pipeline / ``analyze`` and the ``inkface analyze`` CLI on
synthetic scenes with small untrained classifiers."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from deadline import within

from inkface.cli import main as cli_main
from inkface.core.errors import InkfaceError
from inkface.faces.classification.classifier import init_untrained_classifier, load_face_classifier
from inkface.faces.pipeline.analyze import analyze
from inkface.faces.pipeline.sinks import class_color, draw_result, gui_support, label_text
from inkface.faces.pipeline.sources import (
    FolderSource,
    Frame,
    FrameSource,
    ImageSource,
    open_source,
)
from inkface.faces.synth.generator import generate_faces

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FRAMES = 8
STAGES = {"read", "detect", "classify", "track", "draw", "total"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pipeline")
    generate_faces(
        root / "faces", "smile", 20, seed=4, size=96, scenes=True, n_frames=FRAMES,
        workers=1, progress=False,
    )  # fmt: skip
    scenes = root / "faces" / "scenes"
    folder = root / "folder"
    folder.mkdir()
    for k, name in enumerate(sorted(scenes.glob("frame_*.jpg"))[:3]):
        (folder / f"b{k}.jpg").write_bytes(name.read_bytes())
    cv2.imwrite(str(folder / "a_blank.png"), np.full((200, 240, 3), 128, np.uint8))
    (folder / "c_corrupt.jpg").write_bytes(b"not a jpeg at all")
    (folder / "notes.txt").write_text("ignored")
    return {
        "video": next(scenes.glob("video.*")),
        "scenes": scenes,
        "folder": folder,
        "smile": init_untrained_classifier(root / "smile", "smile_cnn"),
        "mask": init_untrained_classifier(root / "mask", "mask_mobilenetv2"),
    }


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sources(data: dict[str, Path]) -> None:
    video = open_source(data["video"])
    frames = list(video)
    video.close()
    assert video.frame_count == FRAMES and len(frames) == FRAMES and video.fps == 12.0
    assert [f.index for f in frames] == list(range(FRAMES))
    assert frames[3].timestamp_s == pytest.approx(3 / 12.0)
    image = open_source(data["scenes"] / "frame_0001.jpg")
    assert isinstance(image, ImageSource) and len(list(image)) == 1
    with pytest.warns(UserWarning, match="c_corrupt.jpg"):
        folder = open_source(data["folder"])
        got = list(folder)
    assert isinstance(folder, FolderSource)
    assert [p.name for p in folder.files] == [
        "a_blank.png",
        "b0.jpg",
        "b1.jpg",
        "b2.jpg",
        "c_corrupt.jpg",
    ]
    assert len(got) == 4 and folder.skipped == 1 and got[0].image.shape == (200, 240, 3)
    for bad in ("no/such/file.mp4", str(data["folder"] / "notes.txt"), "http://127.0.0.1:9/x"):
        with pytest.raises(InkfaceError, match=r"no such|cannot open"):
            open_source(bad)
    with pytest.raises(InkfaceError, match="not a readable image"):
        open_source(data["folder"] / "c_corrupt.jpg")


def test_labels_and_colours() -> None:
    assert label_text("mask", "with_mask", 0.992) == "Mask: 99.2%"
    assert label_text("smile", "no_smile", 0.87) == "No smile: 87.0%"
    assert label_text("head", "class_1", 0.5) == "head: class_1 50.0%"
    assert class_color("with_mask") == class_color("smile") != class_color("without_mask")
    assert class_color("sadness") == class_color("sadness") != class_color("anger")
    ok, reason = gui_support()
    assert isinstance(ok, bool) and reason


def test_analyze_video_writes_one_record_per_frame(data: dict[str, Path], tmp_path: Path) -> None:
    out, jsonl = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    summary = analyze(
        data["video"], {"smile": data["smile"]}, out_video=out, out_jsonl=jsonl, progress=False
    )
    records = _records(jsonl)
    assert summary.frames == FRAMES == len(records)
    assert [r["frame"] for r in records] == list(range(FRAMES))
    assert summary.faces == sum(len(r["faces"]) for r in records) > FRAMES
    face = next(f for r in records for f in r["faces"])
    assert set(face) >= {"box", "track_id", "score", "heads"}
    head = face["heads"]["smile"]
    assert head["label"] in ("no_smile", "smile") and set(head["probs"]) == {"no_smile", "smile"}
    assert head["score"] == pytest.approx(max(head["probs"].values()), abs=1e-3)
    assert all(set(r["timings_ms"]) >= STAGES for r in records)
    ids = [f["track_id"] for r in records for f in r["faces"]]
    assert len(ids) > len(set(ids))  # some face keeps its id across frames
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    capture.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.mp4"]
    assert summary.p99_ms >= summary.p50_ms > 0 and summary.mean_fps > 0


def test_folder_with_zero_face_frames_and_two_heads(data: dict[str, Path], tmp_path: Path) -> None:
    heads = {
        "smile": load_face_classifier(data["smile"], prefer="torch"),
        "mask": data["mask"],
    }
    jsonl = tmp_path / "two.jsonl"
    with pytest.warns(UserWarning, match="skipping"):
        summary = analyze(data["folder"], heads, out_jsonl=jsonl, out_video=tmp_path / "v.avi",
                          progress=False)  # fmt: skip
    records = _records(jsonl)
    assert summary.frames == 4 and summary.skipped == 1 and len(records) == 4
    assert records[0]["faces"] == []  # the blank frame
    faces = [f for r in records for f in r["faces"]]
    assert faces and all(set(f["heads"]) == {"smile", "mask"} for f in faces)
    assert set(faces[0]["heads"]["mask"]["probs"]) == {"with_mask", "without_mask"}
    assert (tmp_path / "v.avi").stat().st_size > 0


def test_detect_every_reuses_tracked_boxes(data: dict[str, Path], tmp_path: Path) -> None:
    jsonl = tmp_path / "every.jsonl"
    analyze(data["video"], {"smile": data["smile"]}, out_jsonl=jsonl, detect_every=3,
            progress=False, max_frames=7)  # fmt: skip
    records = _records(jsonl)
    assert len(records) == 7
    assert [r["detected"] for r in records] == [k % 3 == 0 for k in range(7)]
    for k in (1, 2, 4, 5):
        last = records[k - k % 3]
        assert [f["box"] for f in records[k]["faces"]] == [f["box"] for f in last["faces"]]
    assert all(r["timings_ms"]["detect"] < 1.0 for r in records if not r["detected"])


def test_failed_run_leaves_no_files(data: dict[str, Path], tmp_path: Path) -> None:
    head = load_face_classifier(data["smile"], prefer="torch")
    calls = {"n": 0}
    real = head.backend

    def flaky(batch: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] > 2:
            raise RuntimeError("backend died")
        return real(batch)

    head.backend = flaky  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match="died"):
        analyze(data["video"], {"smile": head}, out_video=tmp_path / "x.mp4",
                out_jsonl=tmp_path / "x.jsonl", progress=False)  # fmt: skip
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InkfaceError, match="unsupported video"):
        analyze(data["video"], {"smile": data["smile"]}, out_video=tmp_path / "x.gif")
    with pytest.raises(InkfaceError, match="run folder"):
        analyze(data["video"], {"smile": tmp_path / "missing"})
    assert list(tmp_path.iterdir()) == []


def test_draw_result_marks_faces(data: dict[str, Path]) -> None:
    from inkface.faces.detection.detectors import get_detector
    from inkface.faces.pipeline.analyze import FacePipeline

    image = cv2.imread(str(data["scenes"] / "frame_0001.jpg"))
    pipe = FacePipeline(get_detector("haar"), {"smile": load_face_classifier(data["smile"])})
    result = pipe.process(image)
    drawn = draw_result(image, result)
    assert drawn.shape == image.shape
    changed = np.any(drawn != image, axis=2)
    assert changed.any() == bool(result.faces)
    for face in result.faces:
        x1, y1, _, y2 = face.box
        assert changed[y1:y2, x1].any()


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> None:
    """``inkface`` with the analyze and bench commands, whether or not main lists them."""
    modules = tuple(cli_main.COMMAND_MODULES)
    extra = tuple(m for m in ("inkface.cli.analyze", "inkface.cli.bench") if m not in modules)
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", modules + extra)


def test_analyze_cli(wired: None, data: dict[str, Path], tmp_path: Path, capsys) -> None:
    out, jsonl = tmp_path / "cli.mp4", tmp_path / "cli.jsonl"
    argv = ["analyze", str(data["video"]), "--task", "smile", "--run", str(data["smile"]),
            "--head", f"mask={data['mask']}", "--out", str(out), "--jsonl", str(jsonl),
            "--max-frames", "3", "--backend", "torch", "--threads", "1", "--no-progress",
            "--show"]  # fmt: skip
    assert cli_main.main(argv) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["frames"] == 3 and out.is_file() and len(_records(jsonl)) == 3
    if not gui_support()[0]:
        assert "no live window" in captured.err
    faces = [f for r in _records(jsonl) for f in r["faces"]]
    assert all(set(f["heads"]) == {"smile", "mask"} for f in faces)
    bad = ["analyze", str(tmp_path / "missing.mp4"), "--task", "smile", "--run", str(data["smile"])]
    assert cli_main.main(bad) == 2
    assert "missing.mp4" in capsys.readouterr().err
    assert cli_main.main(["analyze", str(data["video"]), "--head", "oops"]) == 2


def _without_timings(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "timings_ms"} for r in records]


def test_overlapped_stages_give_the_sequential_results(
    data: dict[str, Path], tmp_path: Path
) -> None:
    runs = {}
    for name, threads in (("sequential", 1), ("overlapped", 2)):
        jsonl = tmp_path / f"{name}.jsonl"
        summary = within(lambda t=threads, j=jsonl: analyze(
            data["video"], {"smile": data["smile"]}, out_jsonl=j, detect_every=2,
            threads=t, backend="torch", progress=False))  # fmt: skip
        assert summary.threads["overlap"] == (threads > 1) and summary.dropped == 0
        runs[name] = _records(jsonl)
    assert [r["frame"] for r in runs["overlapped"]] == list(range(FRAMES))
    assert _without_timings(runs["overlapped"]) == _without_timings(runs["sequential"])
    assert all(set(r["timings_ms"]) >= STAGES for r in runs["overlapped"])


class _LiveFrames(FrameSource):
    """A camera stand-in: ``n`` frames as fast as it can, whether or not anyone keeps up."""

    live = True

    def __init__(self, image: np.ndarray, n: int) -> None:
        super().__init__()
        self.name, self.image, self.n, self.produced = "fake camera", image, n, 0

    def __iter__(self):
        for k in range(self.n):
            self.produced += 1
            yield Frame(k, k / 30.0, self.image)


def test_live_source_drops_frames_and_counts_them(data: dict[str, Path]) -> None:
    head = load_face_classifier(data["smile"], prefer="torch")
    real = head.backend

    def slow(batch: np.ndarray) -> np.ndarray:
        time.sleep(0.03)
        return real(batch)

    head.backend = slow  # type: ignore[assignment]
    image = cv2.imread(str(data["scenes"] / "frame_0001.jpg"))
    source = _LiveFrames(image, 40)
    summary = within(lambda: analyze(source, {"smile": head}, threads=2, progress=False))
    assert source.produced == 40 and summary.dropped > 0
    assert summary.frames + summary.dropped == 40
    assert any("dropped" in n for n in summary.notes)
    # A file is never dropped from, however slow the heads.
    summary = within(lambda: analyze(data["video"], {"smile": head}, threads=2, progress=False))
    assert summary.frames == FRAMES and summary.dropped == 0


def test_detector_failure_stops_the_run_cleanly(data: dict[str, Path], tmp_path: Path) -> None:
    from inkface.faces.detection.detectors import get_detector

    haar, calls = get_detector("haar"), {"n": 0}

    class Flaky:
        name = "flaky"

        def detect(self, image: np.ndarray):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("detector died")
            return haar.detect(image)

    with pytest.raises(RuntimeError, match="detector died"):
        within(lambda: analyze(data["video"], {"smile": data["smile"]}, detector=Flaky(),
                                out_video=tmp_path / "x.mp4", out_jsonl=tmp_path / "x.jsonl",
                                threads=2, progress=False))  # fmt: skip
    assert list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name in ("read", "detect", "classify")]
    with pytest.raises(InkfaceError, match=r"model\.int8\.onnx"):
        analyze(data["video"], {"smile": data["smile"]}, precision="int8", progress=False)
    with pytest.raises(InkfaceError, match="give a detector name"):
        analyze(data["video"], {"smile": data["smile"]}, detector=haar, detector_options={"a": 1})


def test_detector_flags_on_analyze_and_face_crops(
    wired: None, data: dict[str, Path], tmp_path: Path, capsys
) -> None:
    from inkface.faces.detection.detectors import haar_dir

    cascade = haar_dir() / "haarcascade_frontalface_default.xml"
    jsonl = tmp_path / "flags.jsonl"
    argv = ["analyze", str(data["video"]), "--run", str(data["smile"]), "--jsonl", str(jsonl),
            "--detector", "haar", "--detector-weights", str(cascade), "--detect-size", "120",
            "--detector-option", "min_neighbors=3", "--threads", "2", "--no-progress"]  # fmt: skip
    assert cli_main.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames"] == FRAMES and summary["threads"]["total"] == 2
    assert len(_records(jsonl)) == FRAMES
    for bad, message in (
        (["--detector", "auto", "--detector-weights", str(cascade)], "takes no"),
        (["--detector-option", "oops"], "KEY=VALUE"),
        (["--detector-option", "no_such_option=1"], "bad option"),
    ):
        base = ["analyze", str(data["video"]), "--run", str(data["smile"]), "--no-progress"]
        assert cli_main.main(base + bad) == 2
        assert message in capsys.readouterr().err
    crops = ["data", "face-crops", "--dataset", "genki", "--root", str(tmp_path / "genki"),
             "--size", "32", "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]  # fmt: skip
    generate_faces(tmp_path / "genki", "smile", 6, seed=1, size=96, workers=1, progress=False)
    assert cli_main.main([*crops, "--detector-weights", str(cascade),
                          "--detector-option", "min_neighbors=2"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["crops"] + report["no_face"] == 6
    assert cli_main.main([*crops, "--detector", "none", "--detector-option", "x=1"]) == 2
    assert "takes no" in capsys.readouterr().err


def test_analyze_task_must_agree_with_the_run(
    wired: None, data: dict[str, Path], tmp_path: Path, capsys
) -> None:
    from inkface.cli.analyze import parse_heads
    from inkface.faces.pipeline.analyze import run_face_task
    from inkface.models.run import RunMeta

    assert parse_heads("mask", data["mask"], []) == {"mask": data["mask"]}
    argv = ["analyze", str(data["video"]), "--task", "smile", "--run", str(data["mask"]),
            "--jsonl", str(tmp_path / "x.jsonl"), "--no-progress"]  # fmt: skip
    assert cli_main.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(data["mask"] / "meta.json") in err[0] and "mask" in err[0]
    assert list(tmp_path.iterdir()) == []

    def meta(**extra: object) -> RunMeta:
        return RunMeta("smile_cnn", {}, (32, 32), {}, None, "face-classification", extra)

    assert run_face_task(meta(face_task="expression", head="smile")) == "expression"
    assert run_face_task(meta(head="mask", class_names=["a", "b"])) == "mask"
    assert run_face_task(meta(head="mine", class_names=["no_smile", "smile"])) == "smile"
    assert run_face_task(meta(head="mine", class_names=["class_0", "class_1"])) is None
