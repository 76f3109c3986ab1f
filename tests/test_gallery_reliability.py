"""The gallery file under stress (issue 14): bad rows, ``gallery check --repair``, locks,
two enrolling processes, a process killed mid-enrolment, paths that are not files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import corpus
import numpy as np
import pytest
import torch
from service_runs import signature_png
from verification_policies import handmade_policy

from inkface.cli.main import main
from inkface.core.errors import InkfaceError
from inkface.models import get_model
from inkface.models.run import RunMeta, save_run_model
from inkface.signatures.identification import gallery_check
from inkface.signatures.identification.gallery import open_gallery
from inkface.signatures.identification.gallery_check import check_gallery
from inkface.signatures.identification.gallery_store import GalleryLockedError
from inkface.signatures.verification.embedder import Embedder, load_embedder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _run(folder: Path) -> Path:
    torch.manual_seed(0)
    extra = {"verification": handmade_policy()}
    meta = RunMeta("deepsign", {}, (64, 80), {"style": "cedar"}, 0.6, extra=extra)
    save_run_model(folder, get_model("deepsign"), meta)
    return folder


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None) -> dict:
    """A verifier run, signature images and a gallery of ann and bob (three each)."""
    root = tmp_path_factory.mktemp("gallery-parts")
    run = _run(root / "run")
    images = []
    for seed in range(6):
        images.append(root / f"sig{seed}.png")
        images[-1].write_bytes(signature_png(seed))
    embedder = load_embedder(run)
    with open_gallery(root / "gallery.db", embedder) as gallery:
        gallery.enrol("ann", images[:3])
        gallery.enrol("bob", images[3:])
    return {"run": run, "images": images, "gallery": root / "gallery.db", "embedder": embedder}


def _copy(parts: dict, folder: Path) -> Path:
    target = folder / "g.db"
    shutil.copy(parts["gallery"], target)
    return target


def _sql(path: Path, sql: str, *params: object) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute(sql, params)
    db.close()


def _rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _inf_blob(folder: Path, template: Path) -> corpus.Bad:
    (blob,) = _rows(template, "SELECT embedding FROM refs ORDER BY id LIMIT 1")[0]
    values = np.frombuffer(blob, np.float32).copy()
    values[3] = np.inf
    return corpus._edited(corpus._FIRST_REF, values.tobytes())(folder, template)


# kind -> (maker, what the line names besides the gallery, the check's kind, repairable)
ROW_KINDS: dict[str, tuple[Callable, str, str, bool]] = {
    "corrupt identity JSON": (
        corpus.GALLERY_KINDS["corrupt identity JSON"],
        "meta row model_identity",
        "model identity",
        False,
    ),
    "blob of the wrong length": (
        corpus.GALLERY_KINDS["blob of the wrong length"],
        "refs row 1 (writer 'ann')",
        "embedding length",
        True,
    ),
    "blob of the wrong dimension": (
        corpus.GALLERY_KINDS["blob of the wrong dimension"],
        "refs row 1 (writer 'ann')",
        "embedding dimension",
        True,
    ),
    "NaN blob": (corpus.GALLERY_KINDS["NaN blob"], "refs row 1 (writer 'ann')", "non-finite", True),
    "inf blob": (_inf_blob, "refs row 1 (writer 'ann')", "non-finite embedding", True),
    "orphan reference": (
        corpus.GALLERY_KINDS["orphan reference"],
        "refs row 7: its writer id 999",
        "orphan reference",
        True,
    ),
    "corrupt writer thresholds": (
        corpus.GALLERY_KINDS["corrupt writer thresholds"],
        "writer_stats row 1 (writer 'ann')",
        "writer thresholds",
        True,
    ),
    "writer without references": (
        corpus._edited("DELETE FROM refs WHERE writer_id = 2"),
        "writers row 2 (writer 'bob')",
        "writer without references",
        True,
    ),
    "orphan writer stats": (
        corpus._edited(
            "INSERT INTO writer_stats SELECT 77, n_refs, spread, rule, thresholds, updated "
            "FROM writer_stats WHERE writer_id = 1"
        ),
        "writer_stats row 77",
        "orphan writer stats",
        True,
    ),
}


@pytest.mark.parametrize("kind", list(ROW_KINDS))
@pytest.mark.parametrize("with_model", [True, False], ids=["with model", "without model"])
def test_each_bad_row_is_one_line_naming_gallery_and_row(
    kind: str, with_model: bool, parts: dict, tmp_path: Path
) -> None:
    make, names, _, repairable = ROW_KINDS[kind]
    path = Path(make(tmp_path, parts["gallery"]).arg)
    embedder = parts["embedder"] if with_model else None
    with pytest.raises(InkfaceError) as caught:
        open_gallery(path, embedder, create=False)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and names in message
    assert ("gallery check" in message) == repairable
    assert os.listdir(tmp_path) == [path.name]  # no -wal / -shm left beside it


@pytest.mark.parametrize("kind", [k for k, v in ROW_KINDS.items() if v[3]])
def test_check_repair_fixes_each_kind_in_one_transaction(
    kind: str, parts: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, _, check_kind, _ = ROW_KINDS[kind]
    path = Path(make(tmp_path, parts["gallery"]).arg)
    found = check_gallery(path)
    assert not found.ok and found.integrity == ["ok"] and not found.removed
    assert any(check_kind in row.kind for row in found.bad_rows)
    statements: list[str] = []
    real = gallery_check.connect

    def traced(*args: object, **kwargs: object) -> sqlite3.Connection:
        db = real(*args, **kwargs)
        db.set_trace_callback(statements.append)
        return db

    monkeypatch.setattr(gallery_check, "connect", traced)
    repaired = check_gallery(path, repair=True)
    assert repaired.ok and not repaired.remaining and sum(repaired.removed.values()) >= 1
    writes = [s.split()[0].upper() for s in statements if not s.upper().startswith("SELECT")]
    assert writes.count("BEGIN") == 2 and writes.count("COMMIT") == 2  # a read, then one write
    assert [s for s in statements if s.upper().startswith("BEGIN IMMEDIATE")] == ["BEGIN IMMEDIATE"]
    assert _rows(path, "PRAGMA integrity_check") == [("ok",)]
    assert check_gallery(path).ok
    with open_gallery(path, parts["embedder"], create=False) as gallery:
        assert gallery.identify(parts["images"][4]).candidates  # searches again
        for writer in gallery.writers():
            record = gallery.writer_record(str(writer["writer"]))
            assert record["references"] == writer["references"]


def test_a_repair_that_fails_midway_changes_nothing(
    parts: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(corpus.GALLERY_KINDS["NaN blob"](tmp_path, parts["gallery"]).arg)
    before = _rows(path, "SELECT id, writer_id FROM refs ORDER BY id")
    real = gallery_check.remove_rows

    def fails_after_deleting(db: sqlite3.Connection, bad: list) -> dict:
        real(db, bad)
        raise RuntimeError("killed mid-repair")

    monkeypatch.setattr(gallery_check, "remove_rows", fails_after_deleting)
    with pytest.raises(RuntimeError):
        check_gallery(path, repair=True)
    assert _rows(path, "SELECT id, writer_id FROM refs ORDER BY id") == before
    assert not check_gallery(path).ok


def test_nothing_to_repair_writes_nothing(parts: dict, tmp_path: Path) -> None:
    path = _copy(parts, tmp_path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    report = check_gallery(path, repair=True)
    assert report.ok and not report.bad_rows and not report.removed
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(os.listdir(tmp_path)) == ["g.db"]  # no -wal / -shm left


def test_an_unrepairable_identity_stays_and_fails(parts: dict, tmp_path: Path, capsys) -> None:
    path = Path(corpus.GALLERY_KINDS["corrupt identity JSON"](tmp_path, parts["gallery"]).arg)
    report = check_gallery(path, repair=True)
    assert not report.ok and [r.kind for r in report.remaining] == ["model identity"]
    assert main(["gallery", "check", str(path), "--repair"]) == 1
    assert "1 bad rows remain" in capsys.readouterr().out


def test_check_cli_table_json_and_exit_codes(parts: dict, tmp_path: Path, capsys) -> None:
    path = Path(corpus.GALLERY_KINDS["orphan reference"](tmp_path, parts["gallery"]).arg)
    assert main(["gallery", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "integrity ok, 6 bad rows" in out and "orphan reference" in out and "--repair" in out
    assert main(["gallery", "check", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["bad_rows"][0]["row"] == 7
    assert main(["gallery", "check", str(path), "--repair"]) == 0
    assert "removed 6 from refs" in capsys.readouterr().out
    assert main(["gallery", "check", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["gallery", "check", str(tmp_path / "missing.db")]) == 2
    assert "missing.db: gallery not found" in capsys.readouterr().err


def test_a_damaged_file_is_reported_not_repaired(parts: dict, tmp_path: Path, capsys) -> None:
    path = _copy(parts, tmp_path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA writable_schema = ON")  # the index no longer matches its table
    db.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX refs_writer ON refs(source)' "
               "WHERE name = 'refs_writer'")  # fmt: skip
    db.close()
    report = check_gallery(path)
    assert not report.ok and "missing from index refs_writer" in report.integrity[0]
    assert main(["gallery", "check", str(path)]) == 1
    assert "damaged" in capsys.readouterr().out
    assert main(["gallery", "check", str(path), "--repair"]) == 2
    err = capsys.readouterr().err.strip()
    assert str(path) in err and "restore a copy" in err and len(err.splitlines()) == 1
    data = bytearray(path.read_bytes())
    data[4096 : 4096 + 8] = b"\xff" * 8  # page 2's b-tree header
    path.write_bytes(bytes(data))
    assert main(["gallery", "check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{path}: not a readable inkface gallery" in err and len(err.splitlines()) == 1


def test_list_and_remove_need_no_run(parts: dict, tmp_path: Path, capsys) -> None:
    path = _copy(parts, tmp_path)
    assert main(["gallery", "list", "--gallery", str(path)]) == 0
    writers = json.loads(capsys.readouterr().out)["writers"]
    assert [w["writer"] for w in writers] == ["ann", "bob"]
    assert main(["gallery", "list", "--gallery", str(path), "--run", str(parts["run"])]) == 0
    capsys.readouterr()
    assert main(["gallery", "remove", "--gallery", str(path), "--writer", "bob"]) == 0
    assert json.loads(capsys.readouterr().out)["removed_references"] == 3
    other = tmp_path / "other"
    torch.manual_seed(1)  # other weights: another model identity
    save_run_model(other, get_model("deepsign"), RunMeta("deepsign", {}, (64, 80), {}, 0.6))
    assert main(["gallery", "list", "--gallery", str(path), "--run", str(other)]) == 2
    assert "model differs" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("identify --top-k 0", "--top-k"),
        ("identify --top-k -3", "--top-k"),
        ("identify --threshold nan", "--threshold"),
        ("identify --threshold 1.5", "--threshold"),
        ("identify --threshold -0.1", "--threshold"),
        ("verify --writer ann --threshold inf", "--threshold"),
    ],
)
def test_options_are_refused_before_anything_is_opened(
    command: str, flag: str, tmp_path: Path, capsys
) -> None:
    sub, *options = command.split()
    argv = ["gallery", sub, "--gallery", str(tmp_path / "none.db"), "--run", str(tmp_path)]
    assert main([*argv, *options, str(tmp_path / "q.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {flag} ") and len(err.splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_paths_that_are_not_files_are_one_line(parts: dict, tmp_path: Path) -> None:
    embedder: Embedder = parts["embedder"]
    (tmp_path / "link.db").symlink_to(tmp_path / "target.db")
    os.mkfifo(tmp_path / "pipe.db")
    (tmp_path / "folder.db").mkdir()
    for name, words in [
        ("link.db", "dangling symbolic link"),
        ("pipe.db", "FIFO"),
        ("folder.db", "folder"),
    ]:
        with pytest.raises(InkfaceError, match=words) as caught:
            open_gallery(tmp_path / name, embedder, create=True)
        assert str(tmp_path / name) in str(caught.value)
    assert not (tmp_path / "target.db").exists()


def test_the_file_is_created_only_by_a_successful_enrolment(
    parts: dict, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "new.db"
    with open_gallery(path, parts["embedder"]) as gallery:
        assert gallery.writers() == []
    assert not path.exists()
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    base = ["gallery", "enrol", "--gallery", str(path), "--run", str(parts["run"])]
    assert main([*base, "--writer", "ann", str(parts["images"][0]), str(bad)]) == 2
    assert not path.exists()
    broken = _run(tmp_path / "broken")
    meta = json.loads((broken / "meta.json").read_text())
    meta["verification"] = {"format": 1, "operating_points": "lots"}
    (broken / "meta.json").write_text(json.dumps(meta))
    args = ["gallery", "enrol", "--gallery", str(path), "--run", str(broken), "--writer", "x"]
    assert main([*args, str(parts["images"][0])]) == 2
    assert str(broken / "meta.json") in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["bad.png", "broken"]
    assert main([*base, "--writer", "ann", str(parts["images"][0])]) == 0
    assert path.exists() and check_gallery(path).ok


def _hold_lock(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process mid-enrolment
    return other


def test_a_lock_held_past_the_busy_timeout_is_one_clear_line(parts: dict, tmp_path: Path) -> None:
    path = _copy(parts, tmp_path)
    other = _hold_lock(path)
    try:
        with open_gallery(path, parts["embedder"], create=False, timeout=0.3) as gallery:
            start = time.perf_counter()
            with pytest.raises(GalleryLockedError) as caught:
                gallery.enrol("cid", parts["images"][:1])
            assert time.perf_counter() - start >= 0.25  # it waited the timeout first
            assert str(caught.value) == f"{path}: gallery is locked by another process; try again"
            with pytest.raises(GalleryLockedError):
                gallery.remove("ann")
            assert [w["writer"] for w in gallery.writers()] == ["ann", "bob"]  # reads go on
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_lock_shorter_than_the_busy_timeout_is_waited_for(parts: dict, tmp_path: Path) -> None:
    path = _copy(parts, tmp_path)
    other = _hold_lock(path)
    release = threading.Timer(0.5, lambda: (other.execute("ROLLBACK"), other.close()))
    release.start()
    try:
        with open_gallery(path, parts["embedder"], create=False, timeout=10) as gallery:
            assert gallery.enrol("cid", parts["images"][:2]) == 2
    finally:
        release.join()
    assert [w for (w,) in _rows(path, "SELECT name FROM writers ORDER BY name")] == [
        "ann",
        "bob",
        "cid",
    ]


def _enrol_argv(gallery: Path, run: Path, writer: str, images: list[Path]) -> list[str]:
    return [
        sys.executable, "-m", "inkface", "gallery", "enrol", "--gallery", str(gallery),
        "--run", str(run), "--writer", writer, *map(str, images),
    ]  # fmt: skip


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "INKFACE_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
@pytest.mark.parametrize("existing", [True, False], ids=["existing gallery", "new gallery"])
def test_two_processes_enrolling_at_once_both_succeed(
    existing: bool, parts: dict, tmp_path: Path
) -> None:
    path = _copy(parts, tmp_path) if existing else tmp_path / "g.db"
    images = parts["images"] * 20
    procs = [
        subprocess.Popen(
            _enrol_argv(path, parts["run"], writer, images),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=_env(tmp_path),
        )
        for writer in ("cid", "dan")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    names = [w for (w,) in _rows(path, "SELECT name FROM writers ORDER BY name")]
    assert names == (["ann", "bob"] if existing else []) + ["cid", "dan"]
    counts = _rows(path, "SELECT COUNT(*) FROM refs GROUP BY writer_id ORDER BY writer_id")
    assert counts[-2:] == [(len(images),), (len(images),)]
    assert check_gallery(path).ok


@pytest.mark.slow
@pytest.mark.parametrize("existing", [True, False], ids=["existing gallery", "new gallery"])
def test_kill_9_mid_enrolment_leaves_all_or_nothing(
    existing: bool, parts: dict, tmp_path: Path
) -> None:
    """SIGKILL while the enrolment's commit is being written (the WAL grows past its
    header; a new file's pages appear while its rollback journal exists): the file is
    sound and the writer fully enrolled or absent (both happen, by timing)."""
    path = _copy(parts, tmp_path) if existing else tmp_path / "g.db"
    images = parts["images"] * 50
    watched = Path(f"{path}-wal") if existing else path
    proc = subprocess.Popen(
        _enrol_argv(path, parts["run"], "eve", images),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(tmp_path),
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if watched.exists() and watched.stat().st_size > (32 if existing else 0):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.0005)
        assert proc.wait(timeout=60) in (0, -signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
    with open_gallery(path, parts["embedder"], create=True) as gallery:
        enrolled = {str(w["writer"]): w["references"] for w in gallery.writers()}
        assert enrolled.get("eve", len(images)) == len(images)  # all or nothing
        gallery.enrol("fay", parts["images"][:1])  # the gallery still takes changes
    assert _rows(path, "PRAGMA integrity_check") == [("ok",)]
    assert check_gallery(path).ok


def test_a_gallery_that_cannot_be_written_is_read_without_leftovers(
    parts: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opened immutable (root writes any file, so the check is forced here)."""
    from inkface.signatures.identification import gallery_store

    path = _copy(parts, tmp_path)
    monkeypatch.setattr(gallery_store, "_writable", lambda p: False)
    with open_gallery(path, parts["embedder"], create=False) as gallery:
        assert [w["writer"] for w in gallery.writers()] == ["ann", "bob"]
        assert gallery.identify(parts["images"][0]).decision == "ann"
        with pytest.raises(InkfaceError, match=r"gallery is read-only \(cannot be changed\)"):
            gallery.enrol("cid", parts["images"][:1])
    assert sorted(os.listdir(tmp_path)) == ["g.db"]
