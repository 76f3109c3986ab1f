"""The command line: help, version, data commands, info, verify and error exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from layouts import write_cedar

from inkface import __version__
from inkface.cli.main import COMMAND_MODULES, build_parser, main


def test_help_lists_every_command_with_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert len(commands) >= len(COMMAND_MODULES)
    for name in ("data", "train", "verify", "info", "reproduce", "demo", "gallery", "export"):
        assert name in commands and name in out


def test_version_from_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "inkface", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"inkface {__version__}"


def test_synth_info_cache_commands(tmp_path: Path, capsys) -> None:
    out = tmp_path / "synth"
    args = [
        "data",
        "synth-signatures",
        "--out",
        str(out),
        "--writers",
        "3",
        "--genuine",
        "3",
        "--forgeries",
        "2",
        "--seed",
        "1",
        "--workers",
        "1",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["files"] == 15
    assert main(["data", "info", "--dataset", "cedar", "--root", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["writers"], info["genuine"], info["forged"]) == (3, 9, 6)
    cache = tmp_path / "cache"
    args = [
        "data",
        "cache",
        "--dataset",
        "cedar",
        "--root",
        str(out),
        "--size",
        "32x48",
        "--cache-dir",
        str(cache),
        "--workers",
        "1",
    ]
    assert main(args) == 0
    cached = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert cached["images"] == 15 and Path(cached["cache_file"]).is_file()
    # Asking again for the same layout into a non-empty folder is refused.
    assert main(["data", "synth-signatures", "--out", str(out), "--writers", "1"]) == 2
    assert "error:" in capsys.readouterr().err


def test_info_prints_the_paper_table(capsys) -> None:
    assert main(["info", "mobilenetv2_signature"]) == 0
    out = capsys.readouterr().out
    assert "721,589" in out and "(7, 7, 1280)" in out
    assert main(["info", "no-such-model"]) == 2
    assert "valid names" in capsys.readouterr().err


def test_verify_errors_are_one_line(tmp_path: Path, capsys) -> None:
    root = write_cedar(tmp_path / "c", 1, 2, 1)
    image = str(root / "full_org" / "original_1_1.png")
    assert main(["verify", "--run", str(tmp_path / "norun"), image, image]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "norun" in err and "\n" not in err
    assert main(["verify", "--run", str(tmp_path), image]) == 2
    assert "at least one reference" in capsys.readouterr().err


def test_verify_operating_point_and_train_arguments(tmp_path: Path, capsys) -> None:
    import torch

    from inkface.models import get_model
    from inkface.models.run import RunMeta, save_run_model

    root = write_cedar(tmp_path / "c", 1, 3, 1)
    images = [str(p) for p in sorted((root / "full_org").glob("*.png"))]
    torch.manual_seed(0)
    run = tmp_path / "run"
    meta = RunMeta("deepsign", {}, (64, 80), {"style": "cedar"}, 0.5)
    save_run_model(run, get_model("deepsign"), meta)  # a run from before operating points
    assert main(["verify", "--run", str(run), *images]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["operating_point"] == "accuracy" and printed["k"] == 2 and printed["notes"]
    assert main(["verify", "--run", str(run), "--operating-point", "far=0.01", *images]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "available: accuracy" in err
    assert main(["train", "--out", str(tmp_path / "x")]) == 2
    assert "--recipe" in capsys.readouterr().err
    argv = [
        "train",
        "--init-from",
        str(run),
        "--root",
        f"folder={root}",
        "--out",
        str(tmp_path / "y"),
    ]
    assert main([*argv, "--recipe", "deepsign-demo"]) == 2  # recipe reads cedar, not folder
    assert "error:" in capsys.readouterr().err
