"""``inkface batch`` / ``inkface.batch``: rows, failures, resume, engines, formats."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from service_runs import blank_png, face_head, face_png, signature_png, verifier_run

import inkface.batch as batch
from inkface import load_predictor
from inkface.batch import output as batch_output
from inkface.cli.main import main
from inkface.core.errors import InkfaceError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two face heads, a verifier, and a folder of faces, a blank, junk and a video."""
    root = tmp_path_factory.mktemp("batch")
    images = root / "images"
    (images / "sub").mkdir(parents=True)
    (images / ".hidden").mkdir()
    for i in range(5):
        (images / ("sub" if i % 2 else ".") / f"face{i}.png").write_bytes(face_png(i))
    (images / ".hidden" / "skipped.png").write_bytes(face_png(9))
    (images / "blank.png").write_bytes(blank_png())
    (images / "junk.jpg").write_bytes(b"not an image")
    sigs = root / "sigs"
    sigs.mkdir()
    for i in range(4):
        (sigs / f"s{i}.png").write_bytes(signature_png(i))
    return {
        "root": root,
        "images": images,
        "sigs": sigs,
        "smile": face_head(root / "smile"),
        "mask": face_head(root / "mask", "mask_mobilenetv2"),
        "verifier": verifier_run(root / "verifier"),
    }


def _rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_folder_rows_failures_and_summary(parts: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    runs = {"smile": parts["smile"], "mask": parts["mask"]}
    summary = batch.predict(parts["images"], runs, out)
    rows = _rows(out)
    inputs = {Path(r["input"]).name for r in rows}
    assert inputs == {f"face{i}.png" for i in range(5)} | {"blank.png", "junk.jpg"}
    by_name = {Path(r["input"]).name: r for r in rows}
    assert by_name["junk.jpg"]["status"] == "failed"
    assert (
        "junk.jpg" in by_name["junk.jpg"]["error"]
        and "not a readable image" in (by_name["junk.jpg"]["error"])
    )
    assert by_name["blank.png"]["status"] == "no_face"
    assert (by_name["blank.png"]["width"], by_name["blank.png"]["height"]) == (40, 30)
    faces = [r for r in rows if r["status"] == "ok"]
    assert faces, "the synthetic faces are found by the Haar cascade"
    for row in faces:
        assert row["x1"] < row["x2"] <= row["width"] and row["y1"] < row["y2"] <= row["height"]
        assert row["frame"] is None and row["error"] is None
        assert row["smile_label"] in ("smile", "no_smile")
        assert row["smile_p_smile"] + row["smile_p_no_smile"] == pytest.approx(1.0, abs=1e-5)
        mask_probs = [v for k, v in row.items() if k.startswith("mask_p_")]
        assert len(mask_probs) >= 2 and sum(mask_probs) == pytest.approx(1.0, abs=1e-5)
    # The summary counts every row and lists the failure with its reason.
    saved = json.loads((tmp_path / "results.summary.json").read_text())
    assert saved == summary.to_dict()
    assert summary.inputs == summary.scored == 7 and summary.skipped == 0
    assert summary.failed == 1 and summary.failures[0]["input"].endswith("junk.jpg")
    assert summary.faces == len(faces) and summary.no_face == len(rows) - len(faces) - 1
    assert sum(summary.labels["smile_label"].values()) == len(faces)
    assert not batch_output.parts_folder(out).exists()


def test_rows_match_the_predictor_on_the_same_crops(parts: dict[str, Path], tmp_path: Path) -> None:
    """A head's probabilities are those ``load_predictor(run).predict`` gives the crop."""
    out = tmp_path / "r.parquet"
    batch.predict(parts["images"], {"smile": parts["smile"]}, out, batch_size=1)
    row = next(r for r in _rows(out) if r["status"] == "ok")
    image = cv2.imread(row["input"])
    from inkface.faces.types import crop_face

    crop = crop_face(image, (row["x1"], row["y1"], row["x2"], row["y2"]), 0.1, square=True)
    expected = load_predictor(parts["smile"]).predict([crop])[0]
    assert row["smile_label"] == expected.label
    assert row["smile_p_smile"] == pytest.approx(expected.probabilities["smile"], abs=1e-6)


def test_rerun_skips_written_inputs_and_scores_new_ones(
    parts: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        (folder / f"f{i}.png").write_bytes(face_png(i))
    out = tmp_path / "r.parquet"
    first = batch.predict(folder, {"smile": parts["smile"]}, out)
    again = batch.predict(folder, {"smile": parts["smile"]}, out)
    assert (again.scored, again.skipped, again.rows) == (0, 3, first.rows)
    (folder / "f3.png").write_bytes(face_png(3))
    more = batch.predict(folder, {"smile": parts["smile"]}, out)
    assert (more.scored, more.skipped) == (1, 3)
    names = [Path(r["input"]).name for r in _rows(out)]
    assert sorted(set(names)) == ["f0.png", "f1.png", "f2.png", "f3.png"]
    assert len(names) == more.rows


def test_an_interrupted_job_resumes_from_its_parts(
    parts: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts written before an interruption are kept; the rerun scores the rest only."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        (folder / f"f{i}.png").write_bytes(face_png(i))
    out = tmp_path / "r.parquet"
    monkeypatch.setattr(batch_output, "PART_ROWS", 1)
    real_score = batch.BatchPredictor.score
    seen: list[str] = []

    def interrupted(self: batch.BatchPredictor, inputs: list) -> pa.Table:
        if len(seen) == 4:
            raise KeyboardInterrupt
        seen.extend(str(i.location) for i in inputs)
        return real_score(self, inputs)

    monkeypatch.setattr(batch.BatchPredictor, "score", interrupted)
    with pytest.raises(KeyboardInterrupt):
        batch.predict(folder, {"smile": parts["smile"]}, out, batch_size=1)
    assert not out.exists() and len(list(batch_output.parts_folder(out).glob("part-*"))) == 4
    monkeypatch.setattr(batch.BatchPredictor, "score", real_score)
    resumed = batch.predict(folder, {"smile": parts["smile"]}, out, batch_size=1)
    assert (resumed.skipped, resumed.scored) == (4, 2)
    whole = tmp_path / "whole.parquet"
    batch.predict(folder, {"smile": parts["smile"]}, whole, batch_size=1)
    assert _rows(out) == _rows(whole)


@pytest.mark.slow
def test_engines_give_identical_rows(parts: dict[str, Path], tmp_path: Path) -> None:
    """One process, a pool of two, and Ray Data with two actors: the same rows in the
    same order (same batch size: a head's float sums depend on the batch it runs in)."""
    runs = {"smile": parts["smile"]}
    tables = {}
    for name, options in {
        "local1": {"workers": 1},
        "local2": {"workers": 2},
        "ray2": {"engine": "ray", "workers": 2},
    }.items():
        out = tmp_path / f"{name}.parquet"
        summary = batch.predict(parts["images"], runs, out, batch_size=3, threads=1, **options)
        assert summary.scored == 7 and summary.failed == 1
        tables[name] = pq.read_table(out)
    assert tables["local1"].equals(tables["local2"])
    assert tables["local1"].equals(tables["ray2"])


def test_csv_output_holds_the_parquet_rows(parts: dict[str, Path], tmp_path: Path) -> None:
    runs = {"smile": parts["smile"]}
    batch.predict(parts["images"], runs, tmp_path / "r.parquet")
    batch.predict(parts["images"], runs, tmp_path / "r.csv")
    schema = pq.read_schema(tmp_path / "r.parquet")
    options = pa_csv.ConvertOptions(
        column_types={f.name: f.type for f in schema},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    from_csv = pa_csv.read_csv(tmp_path / "r.csv", convert_options=options)
    assert from_csv.to_pylist() == _rows(tmp_path / "r.parquet")
    again = batch.predict(parts["images"], runs, tmp_path / "r.csv")  # resume reads CSV too
    assert again.scored == 0 and again.skipped == 7


def test_manifest_with_relative_paths_urls_and_missing_files(
    parts: dict[str, Path], tmp_path: Path
) -> None:
    images = parts["images"]
    manifest = tmp_path / "list.txt"
    manifest.write_text(
        "# faces to score\n"
        f"{images / 'face0.png'}\n"
        f"file://{images / 'face2.png'}\n"
        "missing.png\n"
        "\n"
        "memory://inkface-test/face4.png\n"
    )
    import fsspec

    with fsspec.open("memory://inkface-test/face4.png", "wb") as handle:
        handle.write((images / "face0.png").read_bytes())
    out = tmp_path / "r.parquet"
    summary = batch.predict(manifest, {"smile": parts["smile"]}, out)
    rows = _rows(out)
    assert [r["input"] for r in rows] == [
        str(images / "face0.png"),
        f"file://{images / 'face2.png'}",
        str(tmp_path / "missing.png"),
        "memory://inkface-test/face4.png",
    ]
    assert [r["status"] for r in rows] == ["ok", "ok", "failed", "ok"]
    assert "missing.png" in rows[2]["error"] and summary.failed == 1
    assert rows[0]["smile_p_smile"] == pytest.approx(rows[3]["smile_p_smile"], abs=1e-6)


def test_csv_manifest_needs_a_path_column(parts: dict[str, Path], tmp_path: Path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text("file\nface0.png\n")
    with pytest.raises(InkfaceError, match=r"list\.csv: manifest has no 'path' column"):
        batch.predict(manifest, {"smile": parts["smile"]}, tmp_path / "r.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.csv"]


def _video(path: Path, frames: int) -> Path:
    face = cv2.imdecode(np.frombuffer(face_png(0), np.uint8), cv2.IMREAD_COLOR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 160))
    for i in range(frames):
        writer.write(np.roll(face, i, axis=1))
    writer.release()
    return path


def test_videos_are_sampled_every_n_frames_and_truncation_is_a_failure(
    parts: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    _video(folder / "a.avi", 12)
    whole = _video(tmp_path / "b.avi", 40).read_bytes()
    (folder / "b.avi").write_bytes(whole[: len(whole) // 2])
    (folder / "c.mp4").write_bytes(b"not a video")
    out = tmp_path / "r.parquet"
    summary = batch.predict(folder, {"smile": parts["smile"]}, out, every_n_frames=5)
    rows = _rows(out)
    a = [r for r in rows if r["input"].endswith("a.avi")]
    assert [r["frame"] for r in a] == [0, 5, 10]
    assert [r["timestamp_s"] for r in a] == [0.0, 0.5, 1.0]
    b = [r for r in rows if r["input"].endswith("b.avi")]
    assert b[-1]["status"] == "failed" and "truncated" in b[-1]["error"]
    assert all(r["status"] != "failed" for r in b[:-1]) and len(b) > 1
    c = [r for r in rows if r["input"].endswith("c.mp4")]
    assert len(c) == 1 and c[0]["status"] == "failed"
    assert summary.failed == 2


def test_verification_pairs(parts: dict[str, Path], tmp_path: Path) -> None:
    sigs = parts["sigs"]
    manifest = tmp_path / "pairs.csv"
    manifest.write_text(
        "questioned,reference\n"
        f"{sigs / 's0.png'},{sigs / 's1.png'};{sigs / 's2.png'}\n"
        f"{sigs / 's3.png'},{sigs / 's0.png'}\n"
        f"{sigs / 'nope.png'},{sigs / 's0.png'}\n"
    )
    out = tmp_path / "pairs.parquet"
    summary = batch.predict(manifest, {"sig": parts["verifier"]}, out)
    rows = _rows(out)
    assert [r["status"] for r in rows] == ["ok", "ok", "failed"]
    verifier = load_predictor(parts["verifier"])
    expected = verifier.verify([sigs / "s1.png", sigs / "s2.png"], sigs / "s0.png")
    assert json.loads(rows[0]["references"]) == [str(sigs / "s1.png"), str(sigs / "s2.png")]
    assert rows[0]["distance"] == pytest.approx(expected.distance, rel=1e-6)
    assert rows[0]["decision"] == expected.decision and rows[0]["k"] == 2
    assert "nope.png" in rows[2]["error"]
    assert summary.mode == "pairs" and sum(summary.labels["decision"].values()) == 2
    again = batch.predict(manifest, {"sig": parts["verifier"]}, out)
    assert again.skipped == 3 and again.scored == 0


def test_batch_predictor_pickles_small_and_takes_ray_and_pandas_batches(
    parts: dict[str, Path],
) -> None:
    predictor = batch.BatchPredictor({"smile": parts["smile"]})
    images = [str(parts["images"] / "face0.png"), str(parts["images"] / "junk.jpg")]
    direct = predictor.score(images)
    shipped = pickle.loads(pickle.dumps(predictor))
    assert len(pickle.dumps(predictor)) < 2000  # settings only: models load where it lands
    ray_batch = {"location": np.array(images, dtype=object)}
    assert shipped(ray_batch).equals(direct)
    import pandas as pd

    assert shipped(pd.DataFrame({"location": images})).equals(direct)
    per_input = shipped.per_input(images)
    assert len(per_input) == 2 and json.loads(per_input[1])[0]["status"] == "failed"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "{tmp}"], "--out"),
        (["--out", "{tmp}/r.json"], "must end in .parquet or .csv"),
        (["--out", "{tmp}/r.parquet", "--workers", "0"], "workers"),
        (["--out", "{tmp}/r.parquet", "--batch-size", "-1"], "batch_size"),
        (["--out", "{tmp}/r.parquet", "--every-n-frames", "0"], "every_n_frames"),
        (["--out", "{tmp}/r.parquet", "--engine", "ray", "--gpus-per-worker", "-1"], "gpus"),
        (["--out", "{tmp}/r.parquet", "--run", "sig={verifier}"], "scored alone"),
        (
            ["--out", "{tmp}/r.parquet", "--engine", "ray", "--ray-address", "127.0.0.1:1"],
            "answers",
        ),
    ],
)
def test_bad_settings_are_one_line_errors_before_any_work(
    parts: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    fill = {"tmp": tmp_path, "verifier": parts["verifier"]}
    args = ["batch", str(parts["images"]), "--run", f"smile={parts['smile']}"]
    code = main([*args, *(a.format(**fill) for a in argv)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_dry_run_lists_what_would_be_scored(
    parts: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.parquet"
    args = ["batch", str(parts["images"]), "--run", f"smile={parts['smile']}", "--out", str(out)]
    assert main([*args, "--dry-run"]) == 0
    listed = capsys.readouterr()
    assert len(listed.out.splitlines()) == 7 and "7 inputs to score, 0 already" in listed.err
    assert list(tmp_path.iterdir()) == []
    assert main([*args, "--no-progress"]) == 0
    assert "scored 7 inputs" in capsys.readouterr().out
    assert main([*args, "--dry-run"]) == 0
    assert capsys.readouterr().out == ""


def test_signature_embeddings_are_reused_until_the_file_changes(
    parts: dict[str, Path], tmp_path: Path
) -> None:
    """References recur across pairs and chunks: each is embedded once per predictor,
    and again only when its file changes (size or modification time)."""
    sigs = tmp_path / "sigs"
    sigs.mkdir()
    for i in range(3):
        (sigs / f"s{i}.png").write_bytes(signature_png(i))
    predictor = batch.BatchPredictor({"sig": parts["verifier"]})
    pair = batch.BatchInput("pair", str(sigs / "s0.png"), (str(sigs / "s1.png"),))
    calls: list[int] = []
    predictor.load()
    verifier = predictor._loaded.verifier
    real_backend = verifier.backend

    def counting(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return real_backend(x)

    verifier.backend = counting
    first = predictor.score([pair, pair]).to_pylist()
    again = predictor.score([pair]).to_pylist()
    assert calls == [2] and first[0]["distance"] == again[0]["distance"]
    (sigs / "s1.png").write_bytes(signature_png(2) + b"\0")  # another image, another size
    changed = predictor.score([pair]).to_pylist()
    assert calls == [2, 1] and changed[0]["distance"] != first[0]["distance"]
