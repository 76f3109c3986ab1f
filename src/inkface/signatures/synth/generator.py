"""Synthetic signature datasets in the published CEDAR, BHSig260 and folder layouts.

Demos and tests need signatures without a download. Each writer gets a sigma-lognormal
template (:mod:`inkface.signatures.synth.lognormal`, as Ferrer et al.'s GPDS-synthetic database);
genuine samples vary it naturally, and skilled forgeries come from an imitator who copies
it with other timing, proportions, pressure and tremor. Samples are rendered as scanned
ink (:mod:`inkface.signatures.synth.ink`). Every image's random stream derives from
``(seed, writer, kind, index)``, so the files are byte-identical whatever ``workers`` is.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from tqdm import tqdm

from inkface.core.errors import InkfaceError
from inkface.core.parallel import process_pool
from inkface.core.progress import show_bars
from inkface.signatures.synth import lognormal as kin
from inkface.signatures.synth.ink import InkStyle, binarise, render

Layout = Literal["cedar", "bhsig260", "folder"]
LAYOUTS = ("cedar", "bhsig260", "folder")
SCRIPTS = {"Bengali": "B", "Hindi": "H"}

# Random-stream kinds: spawn_key = (writer, kind, index).
_TEMPLATE, _GENUINE, _FORGER, _FORGERY = 0, 1, 2, 3
# Paper grain is noise, which LZ77 matching cannot shrink: Huffman-only coding is both
# faster and smaller here than the default strategy.
_PNG = [
    cv2.IMWRITE_PNG_COMPRESSION,
    1,
    cv2.IMWRITE_PNG_STRATEGY,
    cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
]


@dataclass(frozen=True)
class GenerationSummary:
    """What :func:`generate_signatures` wrote."""

    root: Path
    layout: str
    writers: int
    genuine: int
    forgeries: int
    files: int
    seconds: float
    seed: int
    script: str


@dataclass(frozen=True)
class _WriterJob:
    """Everything one worker process needs to write one writer's files."""

    staging: Path
    layout: str
    script: str
    writer: int
    writers: int
    genuine: int
    forgeries: int
    seed: int


def _rng(seed: int, writer: int, kind: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(writer, kind, index)))


def _relative_path(job: _WriterJob, forged: bool, i: int) -> Path:
    """File name of sample ``i`` (1-based) in the dataset's published layout."""
    w = job.writer
    if job.layout == "cedar":
        return Path("full_forg" if forged else "full_org") / (
            f"{'forgeries' if forged else 'original'}_{w}_{i}.png"
        )
    if job.layout == "bhsig260":
        name = f"{SCRIPTS[job.script]}-S-{w}-{'F' if forged else 'G'}-{i:02d}.tif"
        return Path(job.script) / str(w) / name
    folder = Path(f"writer_{w:0{max(2, len(str(job.writers)))}d}")
    n = job.forgeries if forged else job.genuine
    name = f"{i:0{max(3, len(str(n)))}d}.png"
    return folder / "forgeries" / name if forged else folder / name


def _writer_ink(rng: np.random.Generator) -> dict[str, float]:
    """A writer's (or forger's) habitual pen, pressure and scan resolution."""
    return {
        "px_per_mm": rng.uniform(11.0, 16.0),
        "pen_mm": rng.uniform(0.28, 0.5),
        "pressure": rng.uniform(0.85, 1.15),
        "ink_tone": rng.uniform(15.0, 70.0),
    }


def _ink_style(habit: dict[str, float], rng: np.random.Generator, pressure: float) -> InkStyle:
    """Per-sample pose and paper around a writer's habits."""
    return InkStyle(
        px_per_mm=habit["px_per_mm"],
        rotation=rng.normal(0.0, 0.035),
        scale=float(np.exp(rng.normal(0.0, 0.04))),
        shear=rng.normal(0.0, 0.04),
        pen_mm=habit["pen_mm"],
        pressure=habit["pressure"] * pressure * float(np.exp(rng.normal(0.0, 0.05))),
        ink_tone=habit["ink_tone"] + rng.normal(0.0, 5.0),
        paper_tone=rng.uniform(238.0, 249.0),
        paper_noise=rng.uniform(1.2, 2.6),
        margin_px=int(rng.integers(8, 40)),
    )


def _write_writer(job: _WriterJob) -> int:
    """Generate and write all samples of one writer; return the number of files."""
    t_rng = _rng(job.seed, job.writer, _TEMPLATE, 0)
    template = kin.make_template(t_rng)
    habit = _writer_ink(t_rng)
    f_rng = _rng(job.seed, job.writer, _FORGER, 0)
    imitator = kin.make_imitator(template, f_rng)
    forger_habit = {**_writer_ink(f_rng), "px_per_mm": habit["px_per_mm"]}
    forger_pressure = float(f_rng.choice([0.65, 1.45]) * f_rng.uniform(0.95, 1.05))
    count = 0
    for forged, n in ((False, job.genuine), (True, job.forgeries)):
        for i in range(1, n + 1):
            rng = _rng(job.seed, job.writer, _FORGERY if forged else _GENUINE, i)
            if forged:
                paths = kin.sample(kin.forgery(template, imitator, rng))
                paths = kin.add_tremor(paths, imitator.tremor_mm, rng)
                paths = kin.add_lifts(paths, imitator.lifts, rng)
                style = _ink_style(forger_habit, rng, forger_pressure)
            else:
                paths = kin.sample(kin.genuine(template, rng))
                style = _ink_style(habit, rng, 1.0)
            image = render(paths, style, rng)
            target = job.staging / _relative_path(job, forged, i)
            target.parent.mkdir(parents=True, exist_ok=True)
            if job.layout == "bhsig260":
                ok = cv2.imwrite(str(target), binarise(image))
            else:
                ok = cv2.imwrite(str(target), image, _PNG)
            if not ok:
                raise OSError(f"{target}: OpenCV could not write the image")
            count += 1
    return count


def _validate(
    writers: int,
    genuine: int,
    forgeries: int,
    layout: str,
    script: str,
    workers: int | None,
    seed: int,
) -> None:
    if layout not in LAYOUTS:
        raise InkfaceError(f"layout: unknown {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if script not in SCRIPTS:
        raise InkfaceError(f"script: unknown {script!r}; choose one of {', '.join(SCRIPTS)}")
    for name, value, least in (
        ("writers", writers, 1),
        ("genuine", genuine, 2),
        ("forgeries", forgeries, 0),
        ("seed", seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InkfaceError(f"{name}: must be an integer >= {least}, got {value!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InkfaceError(f"workers: must be a positive integer or None, got {workers!r}")


def _top_level(layout: str, script: str, root: Path) -> list[Path]:
    """The folders a finished dataset of ``layout`` occupies under ``root``."""
    if layout == "cedar":
        return [root / "full_org", root / "full_forg"]
    if layout == "bhsig260":
        return [root / script]
    return sorted(root.glob("writer_*")) if root.is_dir() else []


def _refuse_existing(folders: list[Path]) -> None:
    for folder in folders:
        if folder.is_dir() and any(folder.iterdir()):
            raise InkfaceError(f"{folder}: already holds a dataset; choose an empty output folder")
        if folder.exists() and not folder.is_dir():
            raise InkfaceError(f"{folder}: exists and is not a folder")


def generate_signatures(
    out: str | Path,
    writers: int = 55,
    genuine: int = 24,
    forgeries: int = 24,
    layout: Literal["cedar", "bhsig260", "folder"] = "cedar",
    seed: int = 0,
    script: Literal["Bengali", "Hindi"] = "Bengali",
    workers: int | None = None,
    progress: bool = True,
) -> GenerationSummary:
    """Write a synthetic signature dataset to ``out`` in a published layout.

    ``cedar``: ``full_org/original_<w>_<i>.png`` and ``full_forg/forgeries_<w>_<i>.png``
    (grey PNG). ``bhsig260``: ``<script>/<w>/<B|H>-S-<w>-<G|F>-<nn>.tif`` (binarised TIFF).
    ``folder``: ``writer_<ww>/<nnn>.png`` plus ``writer_<ww>/forgeries/<nnn>.png``. Files
    are staged in ``out/.partial-<layout>`` and moved into place only when all are written.
    """
    _validate(writers, genuine, forgeries, layout, script, workers, seed)
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise InkfaceError(f"{root}: output path exists and is not a folder")
    _refuse_existing(_top_level(layout, script, root))
    started = time.perf_counter()
    staging = root / f".partial-{layout}"
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted run of ours
    staging.mkdir(parents=True)
    jobs = [
        _WriterJob(staging, layout, script, w, writers, genuine, forgeries, seed)
        for w in range(1, writers + 1)
    ]
    n_workers = min(workers or os.cpu_count() or 1, writers)
    bar = tqdm(total=writers, desc="writers", unit="writer", disable=not show_bars(progress))
    files = 0
    with bar:
        if n_workers == 1:
            for job in jobs:
                files += _write_writer(job)
                bar.update(1)
        else:
            with process_pool(n_workers) as pool:
                for done in as_completed([pool.submit(_write_writer, job) for job in jobs]):
                    files += done.result()
                    bar.update(1)
    for entry in sorted(staging.iterdir()):
        target = root / entry.name
        if target.is_dir():
            target.rmdir()  # empty (checked above); a non-empty one raises here
        os.replace(entry, target)
    staging.rmdir()
    return GenerationSummary(
        root=root,
        layout=layout,
        writers=writers,
        genuine=genuine,
        forgeries=forgeries,
        files=files,
        seconds=time.perf_counter() - started,
        seed=seed,
        script=script,
    )
