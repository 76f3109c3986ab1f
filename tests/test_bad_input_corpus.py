"""The bad-input corpus (issue 14) pushed through every entry point.

Each case hands one kind of bad input (``tests/corpus.py``) to one entry point that reads
that kind of thing, everything else valid, and expects a clear error: exit status 2, no
traceback, one ``error:`` line naming the offending file or field, no new file left
behind, and a return within a few seconds. The CLI runs in-process through
``inkface.cli.main.main`` (a per-call ``SIGALRM`` turns a hang into a failure); the cases
only a real process shows (a FIFO that blocks, a crash, a traceback at exit) run as
subprocesses, side by side, under a timeout. Failures in files being edited elsewhere are
``xfail(strict=True)`` with their cause and fix (``KNOWN``). ``INKFACE_CORPUS_TABLE=FILE``
appends every case's outcome to FILE (the corpus table of the issue).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import corpus
import pytest
import torch
from corpus import FILE_KINDS, Bad
from layouts import write_cedar
from service_runs import face_head, face_png, signature_png
from test_download import _Server
from verification_policies import handmade_policy

import inkface
from inkface.cli.main import main, one_line
from inkface.core.errors import InkfaceError
from inkface.faces.detection import weights
from inkface.models import get_model
from inkface.models.run import RunMeta, save_run_model
from inkface.signatures.identification.gallery import open_gallery
from inkface.signatures.verification.embedder import load_embedder

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.filterwarnings("ignore:skipping .*:UserWarning"),
]

SECONDS = 10.0  # "a few seconds" on a shared 2-core machine; the hard limit is twice that
CLEAR = "clear error"


# --- the valid parts every case needs, built once ---------------------------------------


@dataclass(frozen=True)
class Parts:
    root: Path
    verifier: str  # a DeepSign run with a hand-made decision policy
    face: str  # an untrained smile CNN run
    signature: str
    face_image: str
    gallery: str  # writers ann and bob, three references each
    cedar: str
    writers: str  # <root>/<writer>/*.png (train-id, fine-tuning)
    genki: str
    sig_recipe: str
    face_recipe: str


SIG_RECIPE = """\
name: corpus-signatures
model: {name: deepsign}
data: {train: [{name: cedar}], test: [{name: cedar}], input_size: 48x64}
optimizer: {name: adam, lr: 0.001}
training: {batch_pairs: 8, max_epochs: 1, accelerator: cpu}
evaluation: {bootstrap: 10}
"""
FACE_RECIPE = """\
name: corpus-smile
task: smile
head: smile
model: {name: smile_cnn}
data: {train: [{name: genki}], detector: null}
training: {optimizer: {name: adam, lr: 0.001}, batch_size: 4, max_epochs: 1}
accelerator: cpu
"""


def _verifier(folder: Path) -> str:
    torch.manual_seed(0)
    extra = {"verification": handmade_policy()}
    meta = RunMeta("deepsign", {}, (64, 80), {"style": "cedar"}, 0.6, extra=extra)
    save_run_model(folder, get_model("deepsign"), meta)
    return str(folder)


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None) -> Iterator[Parts]:
    root = tmp_path_factory.mktemp("corpus-parts")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INKFACE_CACHE_DIR", str(root / "cache"))
        verifier = _verifier(root / "verifier")
        images = [root / f"sig{seed}.png" for seed in range(4)]
        for seed, image in enumerate(images):
            image.write_bytes(signature_png(seed))
        (root / "face.png").write_bytes(face_png())
        with open_gallery(root / "gallery.db", load_embedder(verifier)) as gallery:
            gallery.enrol("ann", images[:3])
            gallery.enrol("bob", images[1:])
        (root / "sig.yaml").write_text(SIG_RECIPE)
        (root / "face.yaml").write_text(FACE_RECIPE)
        yield Parts(
            root=root,
            verifier=verifier,
            face=str(face_head(root / "face")),
            signature=str(images[0]),
            face_image=str(root / "face.png"),
            gallery=str(root / "gallery.db"),
            cedar=str(write_cedar(root / "cedar", writers=4, genuine=3, forged=2)),
            writers=str(corpus.writer_folders(root)),
            genki=str(corpus.genki_root(root)),
            sig_recipe=str(root / "sig.yaml"),
            face_recipe=str(root / "face.yaml"),
        )


# --- running one case and judging what happened -----------------------------------------


class Hang(BaseException):
    """Raised by the alarm in a call that runs past the hard limit."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _tree(roots: list[Path]) -> set[str]:
    """Every file (not folder: an empty folder left behind is harmless) under ``roots``."""
    return {os.path.join(d, n) for root in roots for d, _, files in os.walk(root) for n in files}


Call = list[str] | Callable[[], object]


@dataclass
class Result:
    code: int | None
    err: str
    seconds: float
    new_files: list[str]
    crash: str = ""


def run_case(call: Call, capsys: pytest.CaptureFixture[str], watch: list[Path]) -> Result:
    """Run a CLI argv in-process, or an API call (an InkfaceError counts as exit 2)."""
    before = _tree(watch)
    capsys.readouterr()
    code, crash, api_error = None, "", ""
    start = time.perf_counter()
    try:
        with deadline(2 * SECONDS):
            if callable(call):
                call()
                code = 0
            else:
                code = main(call)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 2
    except InkfaceError as exc:  # the API's clear error
        code, api_error = 2, f"error: {one_line(str(exc))}\n"
    except Hang as exc:
        crash = f"hang: {exc}"
    except Exception:
        crash = "traceback: " + traceback.format_exc(limit=-4)
    seconds = time.perf_counter() - start
    err = capsys.readouterr().err + api_error
    return Result(code, err, seconds, sorted(_tree(watch) - before), crash)


def outcome(result: Result, names: str) -> str:
    """``clear error`` or what went wrong instead (the corpus table's outcomes)."""
    if result.crash:
        return result.crash
    if "Traceback" in result.err:
        return f"traceback: {result.err[-2000:]}"
    if result.code == 0:
        return "accepted silently" + (f" (left {result.new_files})" if result.new_files else "")
    if result.new_files:
        return f"partial output: {result.new_files}"
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    errors += [line for line in result.err.splitlines() if ": error: " in line]  # argparse
    if result.code != 2 or len(errors) != 1:
        return f"unclear error (exit {result.code}): {result.err[-600:]!r}"
    wanted = one_line(names)
    if not any(
        w in errors[0] for w in (wanted, wanted.replace("-", "_"), wanted.replace("-", " "))
    ):
        return f"error without the name: {wanted!r} not in {errors[0]}"
    if result.seconds > SECONDS:
        return f"slow ({result.seconds:.1f} s): {errors[0]}"
    return CLEAR


def expect_clear_error(result: Result, names: str, case: str) -> None:
    found = outcome(result, names)
    table = os.environ.get("INKFACE_CORPUS_TABLE")
    if table:
        errors = [line for line in result.err.splitlines() if "error:" in line]
        kind = found.partition(":")[0].partition(" (")[0]
        shown = errors[0] if found == CLEAR and errors else found
        with open(table, "a", encoding="utf-8") as handle:
            print(case, kind, one_line(shown), sep="\t", file=handle)
    if found != CLEAR:
        pytest.fail(found, pytrace=False)


# --- entry points: a command line (``{name}`` words filled in) or an API call -------------

Entry = str | Callable[[Parts, Path, Bad], Callable[[], object]]


def _copy(source: str, target: Path) -> str:
    copy = shutil.copytree if Path(source).is_dir() else shutil.copy
    copy(source, target)
    return str(target)


def command(template: str, p: Parts, work: Path, bad: Bad) -> list[str]:
    """``template`` split into words, each ``{name}`` filled from the parts, ``{work}``,
    ``{bad}`` (the bad input), ``{dataset}`` (its face dataset) and ``{gallery_copy}`` /
    ``{verifier_copy}`` (copies made in the work folder for commands that change them)."""
    values: dict[str, Any] = {**asdict(p), "work": work, "bad": bad.arg}
    values["dataset"] = bad.dataset or "genki"
    if "{gallery_copy}" in template:
        values["gallery_copy"] = _copy(p.gallery, work / "g.db")
    if "{verifier_copy}" in template:
        values["verifier_copy"] = _copy(p.verifier, work / "run")
    return [word.format(**values) for word in template.split()]


def _api_verify(run: str, questioned: str) -> Callable[[], object]:
    case = {"references": [questioned], "questioned": questioned}
    return lambda: inkface.load_predictor(run).predict([case])


JSONL = "--no-progress --jsonl {work}/o.jsonl"
IMAGE_ENTRIES: dict[str, Entry] = {
    "verify": "verify --run {verifier} {signature} {bad}",
    "analyze image": f"analyze {{bad}} --run {{face}} {JSONL}",
    "gallery enrol": "gallery enrol --gallery {gallery_copy} --run {verifier} --writer ann {bad}",
    "gallery identify": "gallery identify --gallery {gallery} --run {verifier} {bad}",
    "gallery verify": "gallery verify --gallery {gallery} --run {verifier} --writer ann {bad}",
    "API verifier": lambda p, w, b: _api_verify(p.verifier, b.arg),
    "API face": lambda p, w, b: lambda: inkface.load_predictor(p.face).predict([b.arg]),
}
GREY_ENTRIES = ("verify", "gallery enrol", "gallery identify", "gallery verify", "API verifier")
VIDEO_ENTRIES: dict[str, Entry] = {
    "analyze video": "analyze {bad} --run {face} --no-progress --out {work}/o.mp4",
}
FOLDER_ENTRIES: dict[str, Entry] = {"analyze folder": f"analyze {{bad}} --run {{face}} {JSONL}"}
TRAIN = "--out {work}/run --quiet --cache-dir {work}/cache"
# Run-folder entries: (the valid run the bad one is made from, the call).
RUN_ENTRIES: dict[str, tuple[str, Entry]] = {
    "verify": ("verifier", "verify --run {bad} {signature} {signature}"),
    "analyze": ("face", f"analyze {{face_image}} --run {{bad}} {JSONL}"),
    "gallery enrol": (
        "verifier",
        "gallery enrol --gallery {work}/g.db --run {bad} --writer x {signature}",
    ),
    "gallery list": ("verifier", "gallery list --gallery {gallery} --run {bad}"),
    "export": ("verifier", "export --run {bad} --quiet"),
    "train --init-from": (
        "verifier",
        f"train --init-from {{bad}} --root folder={{writers}} {TRAIN}",
    ),
    "serve": ("verifier", "serve --run sig={bad}"),
    "serve face": ("face", "serve --run smile={bad}"),
    "API verifier": ("verifier", lambda p, w, b: _api_verify(b.arg, p.signature)),
    "API face": (
        "face",
        lambda p, w, b: lambda: inkface.load_predictor(b.arg).predict([p.face_image]),
    ),
}
GALLERY_ENTRIES: dict[str, Entry] = {
    "gallery enrol": "gallery enrol --gallery {bad} --run {verifier} --writer ann {signature}",
    "gallery identify": "gallery identify --gallery {bad} --run {verifier} {signature}",
    "gallery verify": "gallery verify --gallery {bad} --run {verifier} --writer ann {signature}",
    "gallery list": "gallery list --gallery {bad} --run {verifier}",
    "gallery remove": "gallery remove --gallery {bad} --run {verifier} --writer ann",
    "serve": "serve --run sig={verifier} --gallery {bad}",
    "API gallery": lambda p, w, b: (
        lambda: inkface.load_predictor(p.verifier, gallery=b.arg).predict([p.signature])
    ),
}
RECIPE_ENTRIES: dict[str, Entry] = {
    "train": f"train --recipe {{bad}} --root cedar={{cedar}} {TRAIN}",
    "train-face": f"train-face --recipe {{bad}} --root genki={{genki}} {TRAIN}",
}
CACHE = "--cache-dir {work}/cache --workers 1"
CROPS = f"--detector none {CACHE}"
QUIET = "--quiet --cache-dir {work}/cache"
SIGNATURE_ROOT_ENTRIES: dict[str, Entry] = {
    "data info": "data info --dataset cedar --root {bad}",
    "data pairs": "data pairs --dataset cedar --root {bad}",
    "data cache": f"data cache --dataset cedar --root {{bad}} --size 32x32 {CACHE}",
    "train": f"train --recipe {{sig_recipe}} --root cedar={{bad}} {TRAIN}",
}
LISTING_ENTRIES = ("data info", "data pairs")  # they list files only: decoding problems pass
WRITER_ROOT_ENTRIES: dict[str, Entry] = {
    "train-id": f"train-id --model cnn --root {{bad}} --accelerator cpu --epochs 1 {TRAIN}",
}
FACE_ROOT_ENTRIES: dict[str, Entry] = {
    "data face-info": "data face-info --dataset {dataset} --root {bad}",
    "data face-crops": f"data face-crops --dataset {{dataset}} --root {{bad}} {CROPS}",
    "train-face": f"train-face --recipe {{face_recipe}} --root {{dataset}}={{bad}} {TRAIN}",
}
FILE_OUTPUT_ENTRIES: dict[str, Entry] = {
    "analyze --out": "analyze {face_image} --run {face} --no-progress --out {bad}",
    "analyze --jsonl": "analyze {face_image} --run {face} --no-progress --jsonl {bad}",
}
FOLDER_OUTPUT_ENTRIES: dict[str, Entry] = {
    "train --out": f"train --recipe {{sig_recipe}} --root cedar={{cedar}} --out {{bad}} {QUIET}",
    "train-face --out": "train-face --recipe {face_recipe} --root genki={genki} --out {bad} "
    + QUIET,
    "train-id --out": f"train-id --model cnn --root {{writers}} --out {{bad}} {QUIET}",
    "data cache --cache-dir": "data cache --dataset cedar --root {cedar} --cache-dir {bad}",
    "models fetch --dest": "models fetch toy-good --dest {bad}",
}

# Numeric and choice options: (entry, flag, value), everything else valid.
OPTION_BASES: dict[str, str] = {
    "verify": "verify --run {verifier} {signature} {signature}",
    "analyze": f"analyze {{face_image}} --run {{face}} {JSONL}",
    "gallery identify": "gallery identify --gallery {gallery} --run {verifier} {signature}",
    "gallery verify": "gallery verify --gallery {gallery} --run {verifier} --writer ann "
    "{signature}",
    "data cache": f"data cache --dataset cedar --root {{cedar}} --size 32x32 {CACHE}",
    "data face-crops": f"data face-crops --dataset genki --root {{genki}} {CROPS}",
    "train": f"train --recipe {{sig_recipe}} --root cedar={{cedar}} {TRAIN}",
    "train-face": f"train-face --recipe {{face_recipe}} --root genki={{genki}} {TRAIN}",
    "train-id": f"train-id --model cnn --root {{writers}} --accelerator cpu {TRAIN}",
    "export": "export --run {verifier_copy} --quiet",
    "models fetch": "models fetch toy-good --dest {work}/models",
    "serve": "serve --run sig={verifier}",
}
OPTIONS = """
verify --threads -1 | verify --threads 0 | verify --operating-point far=7
analyze --threads -1 | analyze --margin -5 | analyze --margin 1e9 | analyze --margin nan
analyze --detect-every 0 | analyze --smoothing 2 | analyze --smoothing nan
analyze --max-frames -1 | analyze --in-flight 0 | analyze --detect-size 0
gallery identify --top-k 0 | gallery identify --top-k -1 | gallery identify --threshold nan
gallery verify --threshold nan | gallery verify --operating-point far=7
data cache --workers -1 | data cache --size 0x0 | data cache --size 99999x99999
data face-crops --size 0 | data face-crops --margin -1 | data face-crops --workers -1
train --max-epochs 0 | train --max-epochs -2 | train-id --conv-layers 9
train-face --max-epochs 0 | train-face --max-epochs -2 | train-face --workers -1
train-id --epochs 0 | train-id --epochs -2 | export --opset 1 | export --opset 999
models fetch --timeout -1 | models fetch --timeout nan | models fetch --deadline 0
serve --port 0 | serve --port 70000 | serve --threads -1 | serve --max-body-mb -1
serve --max-pending 0 | serve --max-batch 0 | serve --max-megapixels nan
serve --max-references 0 | serve --batch-wait-ms -1
"""
API_OPTIONS: dict[str, dict[str, Any]] = {
    "threads=-1": {"threads": -1},
    "threads=0": {"threads": 0},
    "backend='bogus'": {"backend": "bogus"},
}

# models fetch against a loopback server (never the internet): kind -> (server path, pinned
# SHA-256 (None: the right one), pinned size, extra flags, what the error names).
SERVER_KINDS: dict[str, tuple[str, str | None, int | None, str, str]] = {
    "HTTP 404": ("/missing", None, None, "", "url"),
    "wrong SHA-256": ("/good", "0" * 64, None, "", "toy.bin"),
    "connection cut mid-file": ("/cut", None, None, "", "url"),
    "endless body": ("/endless", None, 300_000, "", "url"),
    "trickling body": ("/trickle", None, None, "--deadline 1", "url"),
    "trickling headers": ("/slow-headers", None, None, "--deadline 1", "url"),
}


def _toy(kind: str) -> str:
    return "toy-" + kind.lower().replace(" ", "-")


@pytest.fixture(scope="module")
def toy_models() -> Iterator[_Server]:
    """A loopback server and fake pinned models: ``toy-good`` and one per server kind."""
    server = _Server()
    server.thread.start()
    fake = {"toy-good": (server.remote("/good"),)}
    for kind, (path, sha, size, _, _) in SERVER_KINDS.items():
        remote = server.remote(path, sha=sha)
        if size is not None:
            remote = weights.RemoteFile(remote.name, remote.url, "0" * 64, remote.filename, size)
        fake[_toy(kind)] = (remote,)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(weights, "KNOWN_MODELS", fake)
        yield server
    server.stop.set()
    server.httpd.shutdown()
    server.httpd.server_close()


# --- the cases ---------------------------------------------------------------------------

Maker = Callable[[Parts, Path], Bad]


@dataclass(frozen=True)
class Case:
    group: str
    kind: str
    entry: str
    make: Maker  # writes the bad thing into a folder
    call: Entry

    @property
    def id(self) -> str:
        return f"{self.group}: {self.kind} -> {self.entry}"


# (entry, kind) pairs accepted by design: what they would test is no problem there.
BY_DESIGN: dict[tuple[str, str], str] = {
    ("export", "model.onnx junk"): "export writes model.onnx afresh",
    ("train --init-from", "model.onnx junk"): "fine-tuning reads model.pt only",
    ("analyze image", "animated GIF"): "analyze reads a GIF as a video, every frame",
}


def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(group: str, kinds: dict[str, Maker], entries: dict[str, Entry]) -> None:
        for kind, make in kinds.items():
            for entry, call in entries.items():
                if (entry, kind) not in BY_DESIGN:
                    cases.append(Case(group, kind, entry, make, call))

    def files(suffix: str) -> dict[str, Maker]:
        return {k: (lambda p, f, g=g: g(f, suffix)) for k, g in FILE_KINDS.items()}

    def plain(kinds: dict[str, Callable[[Path], Bad]]) -> dict[str, Maker]:
        return {k: (lambda p, f, g=g: g(f)) for k, g in kinds.items()}

    def runs(kinds: dict[str, corpus.RunKind], template: str) -> dict[str, Maker]:
        return {k: (lambda p, f, g=g: g(f, Path(getattr(p, template)))) for k, g in kinds.items()}

    def galleries(kinds: dict[str, corpus.GalleryKind]) -> dict[str, Maker]:
        return {k: (lambda p, f, g=g: g(f, Path(p.gallery))) for k, g in kinds.items()}

    def only(entries: dict[str, Any], names: tuple[str, ...], keep: bool = True) -> dict:
        return {k: v for k, v in entries.items() if (k in names) == keep}

    add("image file", files(".png"), IMAGE_ENTRIES)
    add("image", plain(corpus.IMAGE_KINDS), IMAGE_ENTRIES)
    add("image", plain(corpus.GREY_ONLY_IMAGE_KINDS), only(IMAGE_ENTRIES, GREY_ENTRIES))
    add("video file", files(".mp4"), VIDEO_ENTRIES)
    add("video", plain(corpus.VIDEO_KINDS), VIDEO_ENTRIES)
    add("image folder", plain(corpus.FOLDER_KINDS), FOLDER_ENTRIES)
    for template in ("verifier", "face"):
        entries = {k: call for k, (t, call) in RUN_ENTRIES.items() if t == template}
        add("run", runs(corpus.RUN_KINDS, template), entries)
        extra = corpus.VERIFIER_RUN_KINDS if template == "verifier" else corpus.CLASSIFIER_RUN_KINDS
        add("run", runs(extra, template), entries)
    add("gallery", galleries(corpus.GALLERY_KINDS), GALLERY_ENTRIES)
    opening = only(GALLERY_ENTRIES, ("gallery enrol", "serve"), keep=False)
    add("gallery", galleries(corpus.EXISTING_GALLERY_KINDS), opening)
    add("recipe file", files(".yaml"), RECIPE_ENTRIES)
    add("recipe", plain(corpus.RECIPE_KINDS), RECIPE_ENTRIES)
    for entries in (SIGNATURE_ROOT_ENTRIES, WRITER_ROOT_ENTRIES, FACE_ROOT_ENTRIES):
        add("dataset root", plain(corpus.ROOT_KINDS), entries)
    add("dataset root", plain(corpus.CEDAR_KINDS), SIGNATURE_ROOT_ENTRIES)
    decoding = only(SIGNATURE_ROOT_ENTRIES, LISTING_ENTRIES, keep=False)
    add("dataset root", plain(corpus.CEDAR_DECODE_KINDS), decoding)
    add("dataset root", plain(corpus.WRITER_ROOT_KINDS), WRITER_ROOT_ENTRIES)
    genki = {k: v for k, v in corpus.FACE_ROOT_KINDS.items() if k.startswith("GENKI")}
    add("dataset root", plain(genki), FACE_ROOT_ENTRIES)  # the test recipe trains on GENKI
    others = {k: v for k, v in corpus.FACE_ROOT_KINDS.items() if k not in genki}
    add("dataset root", plain(others), only(FACE_ROOT_ENTRIES, ("train-face",), keep=False))
    add(
        "dataset root",
        plain(corpus.FACE_DECODE_KINDS),
        only(FACE_ROOT_ENTRIES, ("data face-info",), keep=False),
    )
    add("output", plain(corpus.FILE_OUTPUT_KINDS), FILE_OUTPUT_ENTRIES)
    add("output", plain(corpus.FOLDER_OUTPUT_KINDS), FOLDER_OUTPUT_ENTRIES)
    for line in OPTIONS.replace("\n", "|").split("|"):
        if line.strip():
            *entry, flag, value = line.split()
            base = OPTION_BASES[" ".join(entry)]
            make = lambda p, f, flag=flag: Bad(flag, flag.lstrip("-"))  # noqa: E731
            cases.append(
                Case("option", f"{flag} {value}", " ".join(entry), make, f"{base} {flag} {value}")
            )
    for name, options in API_OPTIONS.items():
        field = name.partition("=")[0]
        call = lambda p, w, b, o=options: lambda: inkface.load_predictor(p.verifier, **o)  # noqa: E731
        cases.append(Case("option", name, "API", lambda p, f, n=field: Bad(n, n), call))
    for kind, (path, _, _, flags, names) in SERVER_KINDS.items():
        make = lambda p, f, path=path, names=names: Bad(path, names)  # noqa: E731
        template = f"models fetch {_toy(kind)} --dest {{work}}/models --timeout 5 {flags}"
        cases.append(Case("server", kind, "models fetch", make, template))
    unknown = Case(
        "server",
        "unknown model name",
        "models fetch",
        lambda p, f: Bad("nope", "nope"),
        "models fetch nope --dest {work}/models",
    )
    return [*cases, unknown]


CASES = _cases()


# --- known failures: each in a file being edited by someone else, with its fix ----------

KNOWN: dict[str, str] = {}


def _param(case: Case) -> Any:
    reason = KNOWN.get(case.id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(case, id=case.id, marks=marks)


def test_the_corpus_is_large_enough() -> None:
    assert sum(len(group) for group in corpus.GROUPS) >= 40
    assert len({(case.group, case.kind) for case in CASES}) >= 40
    assert set(KNOWN) <= {case.id for case in CASES}  # no stale entries


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_bad_input_is_a_clear_error(
    case: Case,
    parts: Parts,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if case.kind in corpus.NEEDS_NON_ROOT and os.geteuid() == 0:
        pytest.skip("run as root: root reads a chmod-000 file, so this kind tests nothing")
    if case.entry.startswith("serve"):  # start-up only: never listen
        monkeypatch.setattr("inkface.service.server.serve", lambda *a, **k: None)
    bad_dir, work = tmp_path / "bad", tmp_path / "work"
    bad_dir.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    bad = case.make(parts, bad_dir)
    if "models fetch" in case.entry:
        server = request.getfixturevalue("toy_models")
        if bad.names == "url":
            bad = Bad(bad.arg, server.base + bad.arg)
    if isinstance(case.call, str):
        call: Call = command(case.call, parts, work, bad)
    else:
        call = case.call(parts, work, bad)
    expect_clear_error(run_case(call, capsys, [tmp_path, parts.root]), bad.names, case.id)
    assert not (tmp_path / corpus._PWNED).exists()  # a pickled payload never ran


LOCKED_CASE = "gallery: locked by another enrolment -> gallery enrol"


def test_a_gallery_locked_by_another_enrolment(
    parts: Parts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two enrolling processes: the second waits, then fails with one clear line."""
    gallery = _copy(parts.gallery, tmp_path / "g.db")
    other = sqlite3.connect(gallery, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the other process is mid-enrolment
    try:
        template = "gallery enrol --gallery {bad} --run {verifier} --writer cid {signature}"
        result = run_case(command(template, parts, tmp_path, Bad.at(gallery)), capsys, [tmp_path])
    finally:
        other.execute("ROLLBACK")
        other.close()
    expect_clear_error(result, gallery, LOCKED_CASE)


def test_a_read_only_gallery(
    parts: Parts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() == 0:
        pytest.skip("run as root: root writes a read-only file, so this kind tests nothing")
    gallery = _copy(parts.gallery, tmp_path / "g.db")
    os.chmod(gallery, 0o444)
    template = "gallery enrol --gallery {bad} --run {verifier} --writer cid {signature}"
    result = run_case(command(template, parts, tmp_path, Bad.at(gallery)), capsys, [tmp_path])
    expect_clear_error(result, gallery, "gallery: read-only -> gallery enrol")


# --- what only a real process shows: a FIFO that blocks, a crash, a traceback at exit ----

PROCESS_CASES: dict[str, tuple[Callable[[Path], Bad], str]] = {
    "FIFO as the questioned image -> verify": (
        lambda f: FILE_KINDS["FIFO"](f, ".png"),
        "verify --run {verifier} {signature} {bad}",
    ),
    "FIFO as the recipe -> train": (
        lambda f: FILE_KINDS["FIFO"](f, ".yaml"),
        "train --recipe {bad} --root cedar={cedar} --out {work}/run",
    ),
    "FIFO as the gallery -> gallery enrol": (
        lambda f: FILE_KINDS["FIFO"](f, ".db"),
        "gallery enrol --gallery {bad} --run {verifier} --writer x {signature}",
    ),
    "non-UTF-8 video name (OpenCV crashed on it) -> analyze": (
        lambda f: FILE_KINDS["non-UTF-8 name"](f, ".mp4"),
        "analyze {bad} --run {face} --no-progress --out {work}/o.mp4",
    ),
    "standard output on /dev/full -> models list": (
        lambda f: Bad("", "standard output"),
        "models list",
    ),
}


@pytest.fixture(scope="module")
def processes(
    parts: Parts, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Result, str]]:
    """Every process case, started side by side (each pays the interpreter's start-up)."""
    env = {**os.environ, "INKFACE_CACHE_DIR": str(parts.root / "cache")}
    started = {}
    for name, (make, template) in PROCESS_CASES.items():
        folder = tmp_path_factory.mktemp("process")
        bad = make(folder)
        stdout = open("/dev/full", "wb") if "/dev/full" in name else subprocess.DEVNULL  # noqa: SIM115
        argv = [sys.executable, "-m", "inkface", *command(template, parts, folder, bad)]
        before = _tree([folder])
        popen = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, cwd=folder, env=env)
        started[name] = (popen, stdout, folder, before, time.perf_counter(), bad.names)
    results = {}
    for name, (popen, stdout, folder, before, start, names) in started.items():
        crash = ""
        try:
            _, err = popen.communicate(timeout=4 * SECONDS)  # start-up included
        except subprocess.TimeoutExpired:
            popen.kill()
            _, err = popen.communicate()
            crash = "hang: killed at the timeout"
        if stdout is not subprocess.DEVNULL:
            stdout.close()
        if popen.returncode < 0 and not crash:
            crash = f"crash: killed by signal {-popen.returncode}"
        text = err.decode("utf-8", "backslashreplace")
        new = sorted(_tree([folder]) - before)
        result = Result(popen.returncode, text, time.perf_counter() - start, new, crash)
        results[name] = (result, names)
    return results


@pytest.mark.parametrize("name", list(PROCESS_CASES))
def test_in_a_real_process(name: str, processes: dict[str, tuple[Result, str]]) -> None:
    result, names = processes[name]
    result.seconds = 0.0  # side by side on shared cores: the timeout above is the limit
    expect_clear_error(result, names, f"process: {name}")
