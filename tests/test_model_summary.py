"""Layer tables: every output shape of DeepSign Tables 1-3, totals, MACs and the info text
(``inkface info``) of every registered model."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from inkface.cli.main import main
from inkface.core.errors import InkfaceError
from inkface.models import (
    describe_model,
    format_summary,
    get_model,
    list_models,
    model_info,
    summarize,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# ``inkface info vgg16`` builds and serialises 0.5 GB of weights to measure them (3 s,
# against under 0.4 s for the others): CI only.
SLOW_INFO = {"vgg16"}

# (layer, output shape (H, W, C)) exactly as printed in the paper.
TABLE_1 = [
    ("Conv2D", (37, 53, 96)),
    ("BatchNorm2D", (37, 53, 96)),
    ("MaxPool2D", (18, 26, 96)),
    ("ZeroPadding2D", (22, 30, 96)),
    ("Conv2D", (18, 26, 256)),
    ("BatchNorm2D", (18, 26, 256)),
    ("MaxPool2D", (8, 12, 256)),
    ("Dropout", (8, 12, 256)),
    ("ZeroPadding2D", (10, 14, 256)),
    ("Conv2D", (8, 12, 384)),
    ("ZeroPadding2D", (10, 14, 384)),
    ("Conv2D", (8, 12, 256)),
    ("MaxPool2D", (3, 5, 256)),
    ("Dropout", (3, 5, 256)),
    ("Flatten", (3840,)),
    ("Dense", (1024,)),
    ("Dropout", (1024,)),
    ("Dense", (128,)),
]
TABLE_2 = [
    ("Conv2D", (224, 224, 10)),
    ("Conv2D", (224, 224, 3)),
    ("MobileNetv2", (7, 7, 1280)),
    ("GlobalAvgPool2D", (1280,)),
    ("Dense", (512,)),
    ("Dropout", (512,)),
    ("Dense", (128,)),
    ("L2 Norm", (128,)),
]
TABLE_3 = [
    ("Conv2D", (149, 179, 64)),
    ("MaxPool2D", (74, 89, 64)),
    ("Fire", (74, 89, 128)),
    ("Fire", (74, 89, 128)),
    ("MaxPool2D", (36, 44, 128)),
    ("Dropout", (36, 44, 128)),
    ("Fire", (36, 44, 144)),
    ("Fire", (36, 44, 192)),
    ("Fire", (36, 44, 256)),
    ("MaxPool2D", (17, 21, 256)),
    ("Dropout", (17, 21, 256)),
    ("Conv2D", (17, 21, 256)),
    ("GlobalAvgPool2D", (256,)),
    ("Dense", (128,)),
    ("L2 Norm", (128,)),
]
TABLES = {"signet": TABLE_1, "mobilenetv2_signature": TABLE_2, "deepsign": TABLE_3}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_INFO else n for n in list_models()],
)
def test_info_has_a_row_and_the_parameter_count_of_every_model(name: str, capsys) -> None:
    spec = model_info(name)
    assert main(["info"]) == 0
    rows = [line.split(maxsplit=1) for line in capsys.readouterr().out.splitlines()]
    assert [name, spec.description] in rows
    torch.manual_seed(0)
    model = get_model(name)
    assert main(["info", name]) == 0
    text = capsys.readouterr().out
    counted = re.search(r"^total params:\s+([\d,]+)$", text, re.MULTILINE)
    assert counted is not None
    assert int(counted.group(1).replace(",", "")) == sum(p.numel() for p in model.parameters())
    h, w = spec.input_size
    assert f"input {spec.in_channels} x {h} x {w} (C x H x W)" in text
    if spec.paper_comparison is not None:
        assert spec.paper_comparison(model) in text


def _summary(name: str):
    spec = model_info(name)
    torch.manual_seed(0)
    return summarize(get_model(name), (spec.in_channels, *spec.input_size))


@pytest.fixture(scope="module")
def summaries():
    return {name: _summary(name) for name in TABLES}


@pytest.mark.parametrize("name", list(TABLES))
def test_every_output_shape_matches_the_paper_table(name: str, summaries) -> None:
    rows = summaries[name].rows
    assert [(r.layer, r.output_shape) for r in rows] == TABLES[name]


def test_paper_parameter_strings(summaries) -> None:
    signet = [r.parameters for r in summaries["signet"].rows]
    assert signet[:4] == ["k = 11, s = 4", "eps = 1e-6, rho = 0.9", "k = 3, s = 2", "pad = 2"]
    assert signet[-3:] == ["kernel L2 = 0.0005", "p = 0.5", "kernel L2 = 0.0005"]
    fires = [r.parameters for r in summaries["deepsign"].rows if r.layer == "Fire"]
    assert fires == [
        "sqz = 16, exp = 64",
        "sqz = 16, exp = 64",
        "sqz = 32, exp = 72",
        "sqz = 32, exp = 96",
        "sqz = 32, exp = 128",
    ]
    mobilenet = summaries["mobilenetv2_signature"].rows
    assert mobilenet[4].parameters == "kernel L2 = 0.00047"
    assert mobilenet[5].parameters == "p = 0.24"


def test_totals_trainable_and_row_params(summaries) -> None:
    mobilenet = summaries["mobilenetv2_signature"]
    assert mobilenet.trainable_params == 721_589
    assert mobilenet.total_params == 2_945_461
    assert [r.params for r in mobilenet.rows] == [20, 33, 2_223_872, 0, 655_872, 0, 65_664, 0]
    assert summaries["signet"].total_params == summaries["signet"].trainable_params == 6_461_568
    assert summaries["deepsign"].total_params == 233_424
    for s in summaries.values():
        assert sum(r.params for r in s.rows) == s.total_params


def test_saved_sizes_are_close_to_float32_weights(summaries) -> None:
    for s in summaries.values():
        buffers = 4 * s.total_params
        assert buffers < s.state_dict_bytes < 1.1 * buffers + 200_000
    # Table 4: 25 MB, 12 MB, 1.1 MB.
    assert round(summaries["signet"].state_dict_bytes / 1e6) in (25, 26)
    assert round(summaries["mobilenetv2_signature"].state_dict_bytes / 1e6) == 12
    assert summaries["deepsign"].state_dict_bytes < 1.1e6


def test_macs_of_the_towers(summaries) -> None:
    # Conv1 of SigNet alone: 37 * 53 * 96 outputs x 11 * 11 weights each.
    assert summaries["signet"].macs > 37 * 53 * 96 * 121
    assert summaries["signet"].macs == 484_250_720
    assert summaries["mobilenetv2_signature"].macs == 302_222_208
    assert summaries["deepsign"].macs == 367_460_800


def test_mac_counting_rules_on_a_small_model() -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3),  # 4 x 6 x 6 outputs, 2 * 9 MACs each
        nn.Conv2d(4, 4, 3, padding=1, groups=4),  # depthwise: 4 x 6 x 6, 9 MACs each
        nn.Flatten(),
        nn.Linear(144, 5),
    )
    s = summarize(model, (2, 8, 8))
    assert s.macs == 144 * 18 + 144 * 9 + 144 * 5
    assert [r.output_shape for r in s.rows] == [(6, 6, 4), (6, 6, 4), (144,), (5,)]


def test_summarize_restores_the_training_mode() -> None:
    model = get_model("deepsign")
    model.train()
    summarize(model, (1, 300, 360))
    assert model.training and model.layers.drop2.training
    model.eval()
    summarize(model, (1, 300, 360))
    assert not model.training


def test_format_summary_renders_header_rows_and_totals(summaries) -> None:
    text = format_summary(summaries["deepsign"])
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("Layer"))
    assert [c.strip() for c in header.split("|")] == [
        "Layer",
        "Parameters",
        "Output Shape",
        "Params",
    ]
    assert "(149, 179, 64)" in text
    assert "total params:      233,424" in text
    assert "MACs per image" in text


def test_describe_model_puts_table_4_next_to_ours() -> None:
    text = describe_model("deepsign")
    assert "paper 256,992; ours 233,424 trainable" in text
    assert "paper 1.1" in text
    assert "Fire" in text
    with pytest.raises(InkfaceError, match="valid names"):
        describe_model("squeezenet")
