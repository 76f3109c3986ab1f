"""``inkface reproduce``: the registry of paper experiments, its checks, the shared
scaffold, and end-to-end runs on tiny generated data (marked slow)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from inkface.cli.main import main
from inkface.core.errors import InkfaceError
from inkface.faces.classification.recipe import load_face_recipe
from inkface.papers.deepsign import TABLE7, format_table
from inkface.papers.experiment import Experiment
from inkface.papers.fer import TABLE_II_ROWS, TABLE_III_MEMBERS
from inkface.papers.mask import MASK_RECIPE
from inkface.papers.registry import (
    check_request,
    declared_options,
    get_experiment,
    list_experiments,
    register_experiment,
    run_experiment,
)
from inkface.papers.scaffold import ReproductionRun, cell, markdown_table
from inkface.papers.smile import TABLE_7_3

EXPERIMENT_NAMES = [
    "deepsign-table6",
    "deepsign-table7",
    "writer-cnn-depth",
    "sig-id-comparison",
    "smile-table7.3",
    "fer-table2",
    "fer-table3",
    "mask-report",
]
FACE_RECIPES = {
    "smile-table7.3": list(TABLE_7_3),
    "fer-table2": list(TABLE_II_ROWS.values()),
    "fer-table3": [TABLE_II_ROWS[r] for r in TABLE_III_MEMBERS],
    "mask-report": [MASK_RECIPE],
}
EXPERIMENTS = list_experiments()


def _ids(experiment: Experiment) -> str:
    return experiment.name


# --- the registry -------------------------------------------------------------------


def test_registry_lists_all_eight_experiments() -> None:
    assert [e.name for e in list_experiments()] == EXPERIMENT_NAMES


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=_ids)
def test_every_experiment_declares_a_paper_a_description_and_roots(
    experiment: Experiment,
) -> None:
    assert experiment.paper.strip() and experiment.description.strip()
    assert "\n" not in experiment.description and len(experiment.description) <= 60
    assert experiment.roots and experiment.synthetic_data
    assert get_experiment(experiment.name) == experiment


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=_ids)
def test_the_function_takes_exactly_the_declared_options(experiment: Experiment) -> None:
    params = inspect.signature(experiment.function).parameters
    assert next(iter(params)) == "run"
    keyword = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert keyword == [o.name for o in experiment.options]
    resolved = experiment.resolve({})
    assert resolved == {o.name: o.default for o in experiment.options}


@pytest.mark.parametrize("name", sorted(FACE_RECIPES))
def test_face_roots_are_those_of_the_recipes(name: str) -> None:
    used: set[str] = set()
    for recipe in FACE_RECIPES[name]:
        used |= load_face_recipe(recipe).dataset_names()
    assert set(get_experiment(name).roots) == used


def test_shared_options_are_declared_alike() -> None:
    for name, (option, users) in declared_options().items():
        for user in users:
            assert get_experiment(user).option(name) == option


def test_register_refuses_duplicates() -> None:
    registry: dict[str, Experiment] = {}
    register_experiment(registry, EXPERIMENTS[0])
    with pytest.raises(ValueError, match="twice"):
        register_experiment(registry, EXPERIMENTS[0])


def test_unknown_experiment_lists_the_valid_ones() -> None:
    with pytest.raises(InkfaceError) as error:
        get_experiment("deepsign-table8")
    message = str(error.value)
    assert "deepsign-table8" in message and all(n in message for n in EXPERIMENT_NAMES)


@pytest.mark.parametrize(
    ("name", "options", "roots", "expected"),
    [
        ("deepsign-table6", {"trials": 3}, None, "deepsign-table6 does not take --trials"),
        ("mask-report", {"latency_frames": 5}, None, "does not take --latency-frames"),
        ("fer-table2", {"trials": "3"}, None, "--trials takes a whole number"),
        ("fer-table2", {"trials": 0}, None, "--trials must be at least 1"),
        ("smile-table7.3", {"models": "smile-proposed"}, None, "list of names"),
        ("smile-table7.3", {"weights": ["vgg16"]}, None, "NAME=VALUE"),
        ("writer-cnn-depth", None, {"cedar": "x"}, "cannot use --root cedar"),
        ("fer-table3", None, {"imagenet32": "x"}, "it reads ferplus"),
    ],
)
def test_requests_are_checked_against_the_declarations(
    name: str, options: dict | None, roots: dict | None, expected: str
) -> None:
    with pytest.raises(InkfaceError, match=expected):
        check_request(name, options, roots)
    with pytest.raises(InkfaceError, match=expected):
        run_experiment(name, options, roots, "unused")


def test_unknown_recipe_names_in_models_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InkfaceError, match="smile-nope"):
        run_experiment("smile-table7.3", {"models": ["smile-nope"]}, None, tmp_path)
    with pytest.raises(InkfaceError, match="resnet"):
        run_experiment("mask-report", {"weights": {"resnet20": "w.pth"}}, None, tmp_path)
    assert not any(tmp_path.iterdir())


# --- the command line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["reproduce", "nope"], "unknown experiment 'nope' (choose from deepsign-table6"),
        (["reproduce", "deepsign-table6", "--trials", "3"], "deepsign-table6 does not take"),
        (["reproduce", "smile-table7.3", "--seed", "1"], "smile-table7.3 does not take --seed"),
        (["reproduce", "writer-cnn-depth", "--weights", "vgg16=x"], "--weights"),
        (["reproduce", "sig-id-comparison", "--root", "cedar=x"], "cannot use --root cedar"),
        (["reproduce", "smile-table7.3", "--weights", "vgg16"], "expected MODEL=FILE"),
        (["reproduce"], "name an experiment"),
    ],
)
def test_cli_errors_are_one_line(argv: list[str], expected: str, capsys, tmp_path) -> None:
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and expected in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.out == "" and not (tmp_path / "out").exists()


def test_help_lists_every_experiment_with_its_description(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for experiment in EXPERIMENTS:
        assert f"{experiment.name} {experiment.description}" in text
    for flag in ("--root", "--out", "--max-epochs", "--accelerator", "--trials", "--weights"):
        assert flag in text


@pytest.mark.parametrize("argv", [["reproduce", "list"], ["reproduce", "--list"]])
def test_list_shows_papers_and_roots(argv: list[str], capsys) -> None:
    assert main(argv) == 0
    text = " ".join(capsys.readouterr().out.split())
    for experiment in EXPERIMENTS:
        assert experiment.name in text and experiment.paper in text
        assert "roots: " + ", ".join(experiment.roots) in text


# --- the shared scaffold ------------------------------------------------------------


def test_cells_and_markdown_tables() -> None:
    assert cell(0.5, 0.76) == "0.50 (0.76)"
    assert cell(None, 0.7) == "n/a (0.70)"
    assert cell(0.9123, None, 3) == "0.912"
    assert markdown_table(["a", "b"], [[1, "x"]]) == ["| a | b |", "|---|---|", "| 1 | x |"]


def test_finish_writes_table_metrics_and_report(tmp_path: Path) -> None:
    run = ReproductionRun("demo", "A paper", tmp_path / "out", synthetic_data="noise")
    result = run.finish([{"model": "m", "acc": 0.5, "history": [1, 2]}], "| table |")
    assert result.synthetic and "SYNTHETIC" in result.table and "noise" in result.table
    assert (tmp_path / "out" / "table.md").read_text() == result.table + "\n"
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved == {"experiment": "demo", "synthetic": True, "rows": result.rows}
    report = (tmp_path / "out" / "report.html").read_text()
    assert "A paper" in report and "history" not in report
    real = ReproductionRun("demo", "A paper", tmp_path / "real", roots={"cedar": "/d"})
    assert "SYNTHETIC" not in real.finish([], "| table |").table


# --- the papers' tables -------------------------------------------------------------


def test_table_layout_pairs_ours_with_the_paper() -> None:
    rows = [
        {
            "test": "CEDAR/CEDAR",
            "model": m,
            "accuracy": 0.5,
            "precision": None,
            "recall": 0.1,
            "auroc": 0.6,
            **{
                f"paper_{k}": v
                for k, v in zip(
                    ("accuracy", "precision", "recall", "auroc"),
                    TABLE7.paper[("CEDAR/CEDAR", m)],
                    strict=True,
                )
            },
        }
        for m in ("DeepSign", "SigNet", "MobileNetv2")
    ]
    table = format_table(TABLE7, rows)
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert [line.split("|")[2].strip() for line in lines[1:]] == [
        "SigNet",
        "MobileNetv2",
        "DeepSign",
    ]
    assert "0.50 (0.76)" in table and "n/a (0.70)" in table


@pytest.mark.slow
def test_reproduce_table7_on_generated_data(tmp_path: Path) -> None:
    result = run_experiment(
        "deepsign-table7",
        {"max_epochs": 1, "synthetic_writers": 5},
        None,
        tmp_path / "t7",
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    assert result.synthetic and len(result.rows) == 6 and "SYNTHETIC" in result.table
    assert {r["model"] for r in result.rows} == {"SigNet", "MobileNetv2", "DeepSign"}
    for name in ("table.md", "metrics.json", "report.html", "roc_models.png"):
        assert (tmp_path / "t7" / name).is_file()
    saved = json.loads((tmp_path / "t7" / "metrics.json").read_text())
    assert saved["synthetic"] is True and len(saved["rows"]) == 6


@pytest.mark.slow
def test_fer_table2_through_the_cli_on_generated_faces(tmp_path: Path, capsys) -> None:
    out = tmp_path / "fer"
    argv = ["reproduce", "fer-table2", "--out", str(out), "--quiet", "--max-epochs", "1"]
    argv += ["--trials", "1", "--models", "fer-resnet20", "--accelerator", "cpu"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("no dataset roots given: running small on generated faces")
    assert "Table II" in printed and "fer-resnet20" in printed and "(78.64)" in printed
    assert f"report: {out / 'report.html'}" in printed
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["experiment"] == "fer-table2" and [r["recipe"] for r in saved["rows"]] == [
        "fer-resnet20"
    ]


@pytest.mark.parametrize("roots", [None, {"folder": "/data/ids"}], ids=["generated", "dataset"])
def test_identification_settings_paper_on_data_quick_on_generated(
    roots: dict[str, str] | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inkface.papers import signature_identification as paper
    from inkface.signatures.identification import train
    from inkface.signatures.identification.augmented import (
        PAPER_SAMPLES_PER_WRITER,
        SYNTHETIC_SAMPLES_PER_WRITER,
    )

    calls: list[tuple[str, dict]] = []

    def fake(kind: str, name: str):
        def trainer(data: object, out: Path, **kwargs: object) -> dict:
            calls.append((kind, kwargs))
            score = {"top1": 0.5, "top5": 1.0}
            return {"model": name, "history": {"val_accuracy": [0.5]}, "validation": score,
                    "test": score, "cmc_test": [0.5, 1.0]}  # fmt: skip

        return trainer

    monkeypatch.setattr(paper, "_data", lambda run, seed: None)
    monkeypatch.setattr(train, "train_writer_cnn", fake("cnn", "CNN (3 conv layers)"))
    monkeypatch.setattr(train, "train_siamese_identifier", fake("snn", "Siamese (pixels)"))
    for name in ("writer-cnn-depth", "sig-id-comparison"):
        run_experiment(name, {}, roots, tmp_path / name, progress=False)
    cnn = [kwargs for kind, kwargs in calls if kind == "cnn"]
    (snn,) = [kwargs for kind, kwargs in calls if kind == "snn"]
    assert len(cnn) == 5  # four depths, then the comparison's 3-block CNN
    if roots is None:  # a dry run: few samples, pairs and epochs
        assert {(c["samples_per_writer"], c["epochs"]) for c in cnn} == {
            (SYNTHETIC_SAMPLES_PER_WRITER, paper.SYNTHETIC_EPOCHS)
        }
        assert snn["n_pairs"] == paper.SYNTHETIC_PAIRS and snn["epochs"] == paper.SYNTHETIC_EPOCHS
    else:  # the paper's settings (section III.A: 2,000 samples per writer)
        assert {(c["samples_per_writer"], c["epochs"]) for c in cnn} == {
            (PAPER_SAMPLES_PER_WRITER, paper.CNN_EPOCHS)
        }
        assert "n_pairs" not in snn and snn["epochs"] == paper.SIAMESE_EPOCHS
    calls.clear()
    run_experiment("writer-cnn-depth", {"max_epochs": 1}, roots, tmp_path / "one", progress=False)
    assert {c["epochs"] for _, c in calls} == {1}
