"""Outputs: atomic replacement for regular files only, ``-`` as standard output, links,
FIFOs and devices written to (never replaced), unusable paths refused before any work,
an annotated image for an image source, and a quiet exit on a closed pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from inkface.cli.main import main
from inkface.core.atomic import atomic_open, atomic_path, check_output_path, write_json
from inkface.core.errors import InkfaceError

TIMEOUT = 120


def test_check_output_path(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    refused = {
        "folder": "--out is a folder; give a file name",
        "file/x.mp4": "--out cannot be created: .*file is a file, not a folder",
        "file/deeper/x.mp4": "--out cannot be created: .*file is a file, not a folder",
        "dangling": "--out is a dangling symbolic link",
    }
    for name, message in refused.items():
        with pytest.raises(InkfaceError, match=message) as info:
            check_output_path(tmp_path / name, "--out")
        assert str(info.value).startswith(str(tmp_path / name))
    for name in ("new.json", "new/sub/x.json", "file"):
        assert check_output_path(tmp_path / name, "--out") == tmp_path / name
    assert check_output_path("-", "--jsonl") == Path("-")
    assert check_output_path("/dev/null", "--out") == Path("/dev/null")
    assert check_output_path(tmp_path / "folder", "--dest", folder=True) == tmp_path / "folder"
    with pytest.raises(InkfaceError, match="--dest is a file, not a folder"):
        check_output_path(tmp_path / "file", "--dest", folder=True)
    with pytest.raises(InkfaceError, match="must be a folder, not standard output"):
        check_output_path("-", "--dest", folder=True)


def test_atomic_writers_refuse_a_folder_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "out.json").mkdir()
    with pytest.raises(InkfaceError, match=r"out\.json: output is a folder"):
        write_json(tmp_path / "out.json", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_dash_means_standard_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_json("-", {"a": 1})
    with atomic_open("-") as handle:
        handle.write("line\n")
    assert capsys.readouterr().out == '{\n  "a": 1\n}\nline\n'
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_a_symbolic_link_is_written_through_not_replaced(tmp_path: Path) -> None:
    """What ``--jsonl /dev/stdout`` did as root, on a link the test owns: the link must
    stay a link, and the file it points to gets the bytes."""
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with atomic_open(link, "w", encoding="utf-8") as handle:
        handle.write("new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    with atomic_path(link, suffix=".bin") as tmp:
        tmp.write_bytes(b"bytes")
    assert link.is_symlink() and real.read_bytes() == b"bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.jsonl", "real.jsonl"]


def test_a_fifo_is_streamed_to(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_json(fifo, {"x": 1})
    reader.join(timeout=30)
    assert got == [b'{\n  "x": 1\n}\n']
    assert fifo.is_fifo()  # still a FIFO, not replaced by a regular file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.fifo"]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from inkface.faces.classification.classifier import init_untrained_classifier

    root = tmp_path_factory.mktemp("outputs")
    cv2.imwrite(str(root / "img.png"), np.full((60, 80, 3), 120, np.uint8))
    (root / "frames").mkdir()
    cv2.imwrite(str(root / "frames" / "a.png"), np.full((60, 80, 3), 90, np.uint8))
    run = init_untrained_classifier(root / "run", "smile_cnn")
    return {"img": root / "img.png", "frames": root / "frames", "run": run}


def _analyze(scene: dict[str, Path], source: str | Path, *extra: str) -> int:
    args = ["analyze", str(source), "--run", str(scene["run"]), "--no-progress", *extra]
    return main(args)


def test_analyze_refuses_unusable_outputs_before_work(
    tmp_path: Path,
    scene: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from inkface.faces.pipeline import analyze as pipeline

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("work started before the outputs were checked")

    monkeypatch.setattr(pipeline, "load_heads", no_work)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    cases = [
        (scene["img"], ["--jsonl", str(tmp_path / "folder")], "folder: --jsonl is a folder"),
        (scene["img"], ["--out", str(tmp_path / "file" / "x.mp4")], "file is a file, not a"),
        (scene["img"], ["--out", str(tmp_path / "x.gif")], "x.gif: unsupported video type"),
        (scene["frames"], ["--out", str(tmp_path / "x.png")], "needs a single-image source"),
    ]
    for source, extra, message in cases:
        assert _analyze(scene, source, *extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]


def test_analyze_writes_an_annotated_image(
    tmp_path: Path, scene: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "annotated.png"
    assert _analyze(scene, scene["img"], "--out", str(out)) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["outputs"] == [str(out)]
    image = cv2.imread(str(out))
    assert image is not None and image.shape == (60, 80, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.png"]


def test_analyze_jsonl_dash_goes_to_stdout(
    tmp_path: Path,
    scene: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _analyze(scene, scene["img"], "--jsonl", "-") == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert len(records) == 1 and records[0]["frame"] == 0
    assert json.loads(captured.err.strip().splitlines()[-1])["outputs"] == ["-"]
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_models_fetch_refuses_a_file_as_dest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from inkface.core import download

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download started before --dest was checked")

    monkeypatch.setattr(download, "fetch", no_download)
    (tmp_path / "file").write_text("x")
    assert main(["models", "fetch", "yunet", "--dest", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'file'}: --dest is a file, not a folder"]
    assert main(["models", "fetch", "yunet", "--dest", str(tmp_path / "file" / "x")]) == 2
    assert "file is a file, not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_closed_stdout_ends_quietly() -> None:
    """``inkface ... | head -3``: the reader goes away before the output is written."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "inkface", "models", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # long before the interpreter has started
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 141, err
    assert b"Traceback" not in err and b"BrokenPipeError" not in err and err == b""
