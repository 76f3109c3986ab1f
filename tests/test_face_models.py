"""Face classifiers: smile CNN (Table 7.2), CIFAR ResNets (FER Table II), mask MobileNetV2,
the smile paper's ImageNet baselines, transfer helpers and torchvision weight loading.

Forward shapes, the class-count option and ``inkface info`` of every registered model are
tested over the whole registry (``test_models.py``, ``test_model_summary.py``); this file
keeps what is particular to the face models and their papers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inkface.core.errors import InkfaceError
from inkface.models import describe_classifier, get_model, list_models, model_info
from inkface.models.classifier_pretrained import (
    head_keys,
    load_imagenet_weights,
    torchvision_state_dict,
)
from inkface.models.resnet_cifar import PAPER_TABLE_II, information_density
from inkface.models.smile_cnn import first_layer_cost_table, first_layer_costs
from inkface.models.summary import summarize
from inkface.models.transfer import (
    freeze_backbone,
    params_with_head,
    replace_classifier,
    unfreeze_from,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RESNETS = ["resnet20", "resnet32"]
# Standard ImageNet parameter counts at 1000 classes (torchvision's published figures).
IMAGENET_PARAMS = {
    "mobilenetv3_large": 5_483_032,
    "mobilenetv3_small": 2_542_856,
    "efficientnet_b0": 5_288_548,
    "mnasnet1_0": 4_383_312,
    "vgg16": 138_357_544,
    "inception_v3": 23_834_568,
}
FACE_NORMALIZATIONS = {"minus_one_to_one", "imagenet", "dataset_mean"}


def _n_params(model: nn.Module, trainable: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


@pytest.fixture(autouse=True)
def seeded() -> None:
    torch.manual_seed(0)


# --- registry metadata (forward shapes of every model: test_models.py) -------------------


def test_face_classifiers_carry_class_names_normalisation_and_paper_figures() -> None:
    face = [n for n in list_models(kind="classifier") if model_info(n).class_names]
    assert {*RESNETS, *IMAGENET_PARAMS, "smile_cnn", "mask_mobilenetv2"} <= set(face)
    for name in face:
        spec = model_info(name)
        assert spec.normalization in FACE_NORMALIZATIONS
        assert spec.paper_comparison is not None and spec.paper_reference
    assert model_info("smile_cnn").input_size == (128, 128)
    assert model_info("smile_cnn").normalization == "minus_one_to_one"
    assert model_info("smile_cnn").class_names == ("no_smile", "smile")
    assert model_info("resnet20").input_size == (32, 32)
    assert model_info("resnet32").class_names[:2] == ("neutral", "happiness")
    assert len(model_info("resnet32").class_names) == 8
    assert model_info("mask_mobilenetv2").class_names == ("with_mask", "without_mask")
    assert model_info("inception_v3").input_size == (299, 299)
    assert model_info("inception_v3").min_input_size == (75, 75)


def test_resnet_accepts_single_channel_faces() -> None:
    model = get_model("resnet20", in_channels=1).eval()
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 8)


def test_unknown_options_are_inkface_errors() -> None:
    with pytest.raises(InkfaceError, match="smile_cnn"):
        get_model("smile_cnn", no_such_option=1)
    with pytest.raises(InkfaceError, match="2 or 3"):
        get_model("mask_mobilenetv2", num_classes=4)
    with pytest.raises(InkfaceError, match="shortcut"):
        get_model("resnet20", shortcut="C")
    with pytest.raises(InkfaceError, match="dropout"):
        get_model("smile_cnn", dropout=1.5)
    with pytest.raises(InkfaceError, match="at least 75"):
        get_model("inception_v3").eval()(torch.zeros(1, 3, 64, 64))


# --- smile CNN: section 7.2.3 and Table 7.2 ---------------------------------------------


def test_table_7_2_first_layer_costs() -> None:
    costs = first_layer_costs()
    assert costs["5x5"] == (2_400, 2_432, 39_321_600)  # paper: 2,400 params, 39.321 M
    assert costs["3x3 consecutive"][0] == 10_080  # paper: 10,080 params
    assert costs["3x3 consecutive"][2] == 165_150_720  # paper prints 190.996 M (see module)
    table = first_layer_cost_table()
    for figure in ("39.321", "2,400", "190.996", "10,080", "39,321,600", "165,150,720"):
        assert figure in table


def test_table_7_2_matches_the_hook_counted_first_layers() -> None:
    five = get_model("smile_cnn")
    first = summarize(five.features.conv1, (3, 128, 128))
    assert (first.macs, first.total_params) == (39_321_600, 2_432)
    three = get_model("smile_cnn_3x3")
    pair = summarize(nn.Sequential(three.features.conv1, three.features.conv2), (3, 128, 128))
    assert (pair.macs, pair.total_params) == (165_150_720, 10_144)
    assert _n_params(three) - _n_params(five) == 10_144 - 2_432


def test_smile_cnn_layout_and_he_initialisation() -> None:
    model = get_model("smile_cnn")
    summary = summarize(model, (3, 128, 128))
    kinds = [row.layer for row in summary.rows]
    assert kinds[0] == "Conv2D" and summary.rows[0].output_shape == (128, 128, 32)
    assert kinds.count("SpatialDropout2D") == 4 and kinds.count("MaxPool2D") == 4
    assert kinds[-3:] == ["GlobalAvgPool2D", "Dense", "Dense"]
    assert summary.rows[-2].output_shape == (128,)
    std = model.features.conv5.conv.weight.std().item()  # 64 x 3 x 3 fan-in: he std 0.059
    assert 0.04 < std < 0.06
    assert torch.all(model.features.conv1.conv.bias == 0)


def test_spatial_dropout_drops_whole_channels_and_plain_dropout_does_not() -> None:
    x = torch.ones(4, 32, 16, 16)
    spatial = get_model("smile_cnn", dropout=0.5).features.drop1.train()
    plain = get_model("smile_cnn_dropout", dropout=0.5).features.drop1.train()
    maps = spatial(x).flatten(2)
    assert torch.all((maps == 0).all(dim=2) | (maps != 0).all(dim=2))
    assert (maps == 0).all(dim=2).any()
    mixed = plain(x).flatten(2)
    assert ((mixed == 0).any(dim=2) & (mixed != 0).any(dim=2)).any()


# --- CIFAR ResNets: FER paper Tables I-II -----------------------------------------------


def test_resnet_parameter_counts_against_table_ii() -> None:
    counts = {name: _n_params(get_model(name)) for name in RESNETS}
    assert counts == {"resnet20": 269_592, "resnet32": 464_024}  # He et al.: 0.27 M / 0.46 M
    for name, ours in counts.items():
        paper = PAPER_TABLE_II[name][0]  # 280 K / 474 K
        assert abs(ours - paper) / paper < 0.04
    # the paper's ResNet-32 minus ResNet-20 (194 K) is what 6 extra basic blocks cost
    assert abs((counts["resnet32"] - counts["resnet20"]) - 194_000) < 500
    assert _n_params(get_model("resnet20", num_classes=10)) == 269_722
    assert _n_params(get_model("resnet20", shortcut="B")) == 272_344


def test_resnet_option_a_shortcut_is_parameter_free_and_pads_with_zeros() -> None:
    block = get_model("resnet20").features.layer2[0]
    assert block.downsample is None
    x = torch.rand(1, 16, 8, 8)
    out = block._identity(x)
    assert out.shape == (1, 32, 4, 4)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert out[:, :8].abs().sum() == 0 and out[:, 24:].abs().sum() == 0


def test_resnet_table_and_information_density() -> None:
    summary = summarize(get_model("resnet32"), (3, 32, 32))
    shapes = [row.output_shape for row in summary.rows]
    assert shapes == [(32, 32, 16), (32, 32, 16), (16, 16, 32), (8, 8, 64), (64,), (8,)]
    assert get_model("resnet32").depth == 32 and get_model("resnet20").depth == 20
    assert information_density(83.92, 474_000) == pytest.approx(177.05, abs=0.01)
    text = describe_classifier("resnet20")
    assert "Table II" in text and "280,000" in text and "269,592" in text
    assert "Stage 3" in text


def test_replace_classifier_keeps_the_backbone() -> None:
    model = get_model("resnet20", num_classes=10)
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    replace_classifier(model, 8)
    assert model.num_classes == 8 and model.classifier.out_features == 8
    for key, value in model.features.state_dict().items():
        assert torch.equal(value, before[key])
    assert model.eval()(torch.rand(1, 3, 32, 32)).shape == (1, 8)
    small = replace_classifier(get_model("mobilenetv3_small"), 5)
    assert small.classifier[3].out_features == 5 and small.classifier[0].out_features == 1024
    with pytest.raises(InkfaceError, match="num_classes"):
        replace_classifier(model, 0)


# --- mask MobileNetV2 -------------------------------------------------------------------


def test_mask_model_freezes_the_backbone_and_keeps_its_batchnorm_in_eval() -> None:
    model = get_model("mask_mobilenetv2", num_classes=3)
    assert model.class_names[-1] == "mask_weared_incorrect"
    assert _n_params(model, trainable=True) == 1280 * 128 + 128 + 128 * 3 + 3
    assert _n_params(model) == 2_223_872 + _n_params(model, trainable=True)
    model.train()
    bns = [m for m in model.features.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    assert model.classifier.dropout.training
    stats = bns[0].running_mean.clone()
    model(torch.rand(2, 3, 224, 224)).sum().backward()
    assert torch.equal(bns[0].running_mean, stats)
    assert all(p.grad is None for p in model.features.parameters())
    assert model.classifier.fc1.weight.grad is not None
    unfrozen = get_model("mask_mobilenetv2", freeze_backbone=False)
    assert _n_params(unfrozen, trainable=True) == _n_params(unfrozen)


# --- baselines and transfer helpers -----------------------------------------------------


@pytest.mark.parametrize("name", list(IMAGENET_PARAMS))
def test_baseline_parameter_counts_match_the_standard_imagenet_models(name: str) -> None:
    model = get_model(name, num_classes=1000)
    assert _n_params(model) == IMAGENET_PARAMS[name]
    last = [m for m in model.classifier.modules() if isinstance(m, nn.Linear)][-1]
    assert params_with_head(model, 2) == IMAGENET_PARAMS[name] - 998 * (last.in_features + 1)
    assert f"{IMAGENET_PARAMS[name]:,}" in model_info(name).paper_comparison(model)


def test_inception_aux_head_count_and_training_output() -> None:
    assert _n_params(get_model("inception_v3", num_classes=1000, aux_logits=True)) == 27_161_264
    model = get_model("inception_v3", aux_logits=True).train()
    logits, aux = model(torch.rand(2, 3, 299, 299))
    assert logits.shape == aux.shape == (2, 2)
    with pytest.raises(InkfaceError, match="299x299"):
        model(torch.rand(2, 3, 107, 107))
    assert model.eval()(torch.rand(1, 3, 75, 75)).shape == (1, 2)


def test_freeze_then_unfreeze_from_a_named_layer() -> None:
    model = get_model("mobilenetv3_small")
    head = _n_params(model.classifier)
    assert freeze_backbone(model) == head
    model.train()
    assert not any(m.training for m in model.features.modules() if isinstance(m, nn.BatchNorm2d))
    trainable = unfreeze_from(model, "features.9")
    assert trainable == head + sum(_n_params(model.features[i]) for i in range(9, 13))
    model.train()
    assert model.features[10].block[0][1].training
    assert not model.features[8].block[0][1].training
    partly = get_model("efficientnet_b0")
    freeze_backbone(partly, until="6")
    assert not any(p.requires_grad for p in partly.features[5].parameters())
    assert all(p.requires_grad for p in partly.features[6].parameters())
    with pytest.raises(InkfaceError, match="valid names: 0, 1"):
        unfreeze_from(model, "block99")


# --- torchvision weight files -----------------------------------------------------------

# a few keys of the real torchvision state dicts, so the names cannot drift
TORCHVISION_KEYS = {
    "mnasnet1_0": ["layers.0.weight", "layers.8.0.layers.3.weight", "classifier.1.weight"],
    "inception_v3": ["Conv2d_1a_3x3.conv.weight", "Mixed_7c.branch_pool.bn.running_var", "fc.bias"],
    "mobilenetv3_large": [
        "features.4.block.2.fc1.weight",
        "features.16.0.weight",
        "classifier.3.weight",
    ],
    "efficientnet_b0": [
        "features.1.0.block.1.fc2.bias",
        "features.8.1.weight",
        "classifier.1.weight",
    ],
}


@pytest.mark.parametrize("name", list(TORCHVISION_KEYS))
def test_imagenet_weights_round_trip_under_torchvision_names(name: str, tmp_path) -> None:
    source = get_model(name, num_classes=1000)
    state = torchvision_state_dict(source)
    for key in TORCHVISION_KEYS[name]:
        assert key in state
    path = tmp_path / "imagenet.pth"
    torch.save(state, path)
    target = get_model(name)  # 2 classes: the final layer must stay fresh
    kept = load_imagenet_weights(target, path)
    assert set(kept) == head_keys(target)
    ours = target.state_dict()
    for key, value in source.state_dict().items():
        if key not in head_keys(target):
            assert torch.equal(ours[key], value), key
    full = get_model(name, num_classes=1000)
    assert load_imagenet_weights(full, path) == []
    assert torch.equal(full.state_dict()[sorted(head_keys(full))[0]],
                       source.state_dict()[sorted(head_keys(full))[0]])  # fmt: skip


def test_inception_file_with_aux_head_loads_into_a_model_without_one(tmp_path) -> None:
    path = tmp_path / "inception.pth"
    torch.save(torchvision_state_dict(get_model("inception_v3", aux_logits=True)), path)
    assert load_imagenet_weights(get_model("inception_v3"), path) == []


def test_mismatched_weight_files_are_refused_naming_file_and_keys(tmp_path) -> None:
    model = get_model("mnasnet1_0")
    state = torchvision_state_dict(model)
    del state["layers.3.weight"]
    state["layers.99.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(InkfaceError, match=r"bad\.pth") as info:
        load_imagenet_weights(model, bad)
    assert "layers.3.weight" in str(info.value) and "layers.99.weight" in str(info.value)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    shapes = torchvision_state_dict(get_model("mnasnet1_0"))
    shapes["layers.0.weight"] = torch.zeros(8, 3, 3, 3)
    torch.save(shapes, tmp_path / "shape.pth")
    with pytest.raises(InkfaceError, match=r"shape mismatches, e\.g\. layers\.0\.weight"):
        load_imagenet_weights(model, tmp_path / "shape.pth")
    with pytest.raises(InkfaceError, match="not found"):
        load_imagenet_weights(model, tmp_path / "missing.pth")


# --- inkface info -----------------------------------------------------------------------


def test_describe_smile_cnn_prints_table_7_2_and_the_layer_table() -> None:
    text = describe_classifier("smile_cnn")
    assert "Table 7.2" in text and "39,321,600" in text and "190.996" in text
    assert "SpatialDropout2D" in text and "(128, 128, 32)" in text
    assert "normalization: minus_one_to_one" in text and "no_smile, smile" in text
    assert "Dropout " in describe_classifier("smile_cnn_dropout")
