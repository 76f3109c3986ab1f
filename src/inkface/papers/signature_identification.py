"""The identification paper's experiments (Ibrahim et al., "Deep Signature ID: CNN and
SNN algorithms in Signature Identification").

* ``writer-cnn-depth``: the CNN with 2, 3, 4 and 5 convolutional blocks, validation
  accuracy against epochs for all four on one figure (Figure 7), validation and
  (heavily distorted) test accuracy of each.
* ``sig-id-comparison``: the 3-block CNN against the pixel Siamese network (the paper's
  comparison: CNN 83 % / 78 %, SNN 98 % / 84 % validation / test), with CMC curves and
  the open-set rates of the Siamese gallery.

Without a dataset root both run on generated signatures in the paper's own shape
(8 writers x 88 samples, folder per writer) as a quick dry run: the CNN sees
``SYNTHETIC_SAMPLES_PER_WRITER`` samples per writer and epoch instead of the paper's
2,000 (section III.A), the Siamese network ``SYNTHETIC_PAIRS`` pairs instead of about
6,000 (section III.B), and every model trains ``SYNTHETIC_EPOCHS`` epochs unless
``--max-epochs`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inkface.papers.scaffold import Reproduction, ReproductionRun, cell, markdown_table

# Section IV: best CNN (3 layers) 83 % accuracy, 78 % on the distorted test set;
# SNN about 98 % (its training curve's maximum) and 84 % on the test set.
PAPER = {
    "CNN (3 conv layers)": {"validation": 0.83, "test": 0.78},
    "Siamese (pixels)": {"validation": 0.98, "test": 0.84},
}
CNN_EPOCHS = 25  # the paper's maximum
SIAMESE_EPOCHS = 10
SYNTHETIC_EPOCHS = 2  # generated data: a dry run, like the other experiments'
SYNTHETIC_PAIRS = 2000  # Siamese pairs on generated data (the paper's "about 6000", III.B)


def writer_cnn_depth(
    run: ReproductionRun, *, max_epochs: int | None, accelerator: str | None, seed: int
) -> Reproduction:
    """Figure 7: the writer CNN at 2 to 5 convolutional blocks."""
    # Local import (start-up time): the trainer loads torch and Lightning.
    from inkface.evaluation.identification_plots import plot_series
    from inkface.signatures.identification.train import train_writer_cnn

    data = _data(run, seed)
    settings = {"seed": seed, "progress": run.progress, "accelerator": accelerator or "auto"}
    cnn = _cnn_settings(run, max_epochs)
    rows = [
        train_writer_cnn(data, run.out / f"cnn-{depth}", conv_layers=depth, **cnn, **settings)
        for depth in (2, 3, 4, 5)
    ]
    series = {r["model"]: r["history"].get("val_accuracy", []) for r in rows}
    figure = plot_series(series, run.out / "accuracy_vs_epochs.png")
    return _finish(run, rows, _table(rows, with_paper=False), [figure])


def sig_id_comparison(
    run: ReproductionRun, *, max_epochs: int | None, accelerator: str | None, seed: int
) -> Reproduction:
    """Section IV: the 3-block CNN against the pixel Siamese network, CMC and open set."""
    # Local import (start-up time): the trainers load torch and Lightning.
    from inkface.evaluation.identification_plots import plot_cmc
    from inkface.signatures.identification.train import train_siamese_identifier, train_writer_cnn

    data = _data(run, seed)
    settings = {"seed": seed, "progress": run.progress, "accelerator": accelerator or "auto"}
    cnn = train_writer_cnn(
        data, run.out / "cnn-3", conv_layers=3, **_cnn_settings(run, max_epochs), **settings
    )
    snn = train_siamese_identifier(
        data, run.out / "siamese", **_siamese_settings(run, max_epochs), **settings
    )
    rows = [cnn, snn]
    figure = plot_cmc({r["model"]: r["cmc_test"] for r in rows}, run.out / "cmc.png")
    table = _table(rows, with_paper=True) + _open_set_lines(snn)
    return _finish(run, rows, table, [figure])


def _cnn_settings(run: ReproductionRun, max_epochs: int | None) -> dict[str, int]:
    """The CNN's epochs and samples per writer: the paper's (25 epochs at most, 2,000
    samples per writer, section III.A) on a dataset, a quick dry run on generated data."""
    # Local import (start-up time): the module loads torch and OpenCV.
    from inkface.signatures.identification.augmented import (
        PAPER_SAMPLES_PER_WRITER,
        SYNTHETIC_SAMPLES_PER_WRITER,
    )

    if run.synthetic:
        return {
            "epochs": max_epochs or SYNTHETIC_EPOCHS,
            "samples_per_writer": SYNTHETIC_SAMPLES_PER_WRITER,
        }
    return {"epochs": max_epochs or CNN_EPOCHS, "samples_per_writer": PAPER_SAMPLES_PER_WRITER}


def _siamese_settings(run: ReproductionRun, max_epochs: int | None) -> dict[str, int]:
    """The Siamese network's epochs and pairs: 10 epochs on the trainer's 6,000 pairs
    (section III.B) on a dataset, a quick dry run on generated data."""
    if run.synthetic:
        return {"epochs": max_epochs or SYNTHETIC_EPOCHS, "n_pairs": SYNTHETIC_PAIRS}
    return {"epochs": max_epochs or SIAMESE_EPOCHS}


def _data(run: ReproductionRun, seed: int) -> Any:
    """The folder-per-writer set of ``--root folder=DIR``, or 8 x 88 generated writers."""
    # Local imports (start-up time): data preparation loads torch and OpenCV.
    from inkface.signatures.identification.data import prepare_identification_data
    from inkface.signatures.synth.generator import generate_signatures

    root: str | Path | None = run.roots.get("folder")
    if root is None:
        root = run.data_dir
        if not root.is_dir():
            generate_signatures(
                root,
                writers=8,
                genuine=88,
                forgeries=0,
                layout="folder",
                seed=seed,
                progress=run.progress,
            )
    return prepare_identification_data(
        root, seed=seed, cache_dir=run.cache_dir, progress=run.progress
    )


def _finish(
    run: ReproductionRun, rows: list[dict[str, Any]], table: str, figures: list
) -> Reproduction:
    """Save the rows without their training histories; the report adds the epochs run."""
    report_rows = [_report_row(r) for r in rows]
    slim = [{k: v for k, v in r.items() if k != "history"} for r in rows]
    return run.finish(slim, table, figures, report_rows)


def _table(rows: list[dict[str, Any]], with_paper: bool) -> str:
    body = []
    for row in rows:
        paper = PAPER.get(row["model"], {}) if with_paper else {}
        body.append(
            [
                row["model"],
                cell(row["validation"]["top1"], paper.get("validation")),
                cell(row["test"]["top1"], paper.get("test")),
            ]
        )
    lines = markdown_table(["Model", "Validation accuracy", "Test accuracy (distorted)"], body)
    if with_paper:
        lines.append("\nCells: ours (paper, section IV).")
    return "\n".join(lines)


def _open_set_lines(result: Mapping[str, Any]) -> str:
    info = result.get("open_set_test") or {}
    if "rates" not in info:
        return ""
    body = [
        [f"{r['far']:.2f}", f"{r['achieved_far']:.3f}", f"{r['dir']:.3f}"] for r in info["rates"]
    ]
    lines = [
        "",
        "",
        f"Open set, Siamese gallery ({info['enrolled_writers']} writers enrolled, "
        f"{info['unknown_writers']} unknown): detection-and-identification rate",
        *markdown_table(["FAR", "achieved FAR", "DIR"], body),
    ]
    return "\n".join(lines)


def _report_row(row: Mapping[str, Any]) -> dict[str, Any]:
    paper = PAPER.get(row["model"], {})
    return {
        "model": row["model"],
        "val top-1": row["validation"]["top1"],
        "test top-1": row["test"]["top1"],
        "test top-5": row["test"]["top5"],
        "paper val": paper.get("validation"),
        "paper test": paper.get("test"),
        "epochs": len(row["history"].get("val_accuracy", [])),
    }
