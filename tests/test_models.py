"""Every registered model (forward shapes, output width option, smallest input), the
registry, the three DeepSign towers (Tables 1-4) and loading ImageNet MobileNetV2 weights.

The registry-wide tests follow torchvision's and timm's ``test_models.py``: parametrised
over ``list_models()``, so a newly registered architecture is tested without editing this
file, with what each test expects (input size, channels, output width, smallest input)
read from the registry's metadata.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inkface.core.errors import InkfaceError
from inkface.models import get_model, list_models, model_info, register_model
from inkface.models.layers import Dense
from inkface.models.mobilenetv2_backbone import MobileNetV2Features
from inkface.models.pretrained import key_map, load_mobilenetv2_imagenet

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOWERS = ["deepsign", "mobilenetv2_signature", "signet"]  # the DeepSign paper's three
L2_NORMALISED = {"mobilenetv2_signature", "deepsign"}  # towers whose table ends in "L2 Norm"
WIDTH_OPTION = {"classifier": "num_classes", "embedding": "embedding_dim"}


def _batch(name: str, size: tuple[int, int] | None = None, seed: int = 0) -> torch.Tensor:
    """Two seeded images of ``name``'s channels at ``size`` (default: the registered one)."""
    spec = model_info(name)
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(2, spec.in_channels, *(size or spec.input_size), generator=gen)


def _n_params(model: nn.Module, trainable: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


@pytest.fixture(autouse=True)
def seeded() -> None:
    torch.manual_seed(0)


# --- every registered model -------------------------------------------------------------


@pytest.mark.parametrize("name", list_models())
def test_forward_gives_the_registered_output_width(name: str) -> None:
    spec = model_info(name)
    model = get_model(name).eval()
    with torch.no_grad():
        out = model(_batch(name))
    assert out.shape == (2, spec.output_dim)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.mark.parametrize("name", list_models())
def test_output_width_option_at_the_smallest_declared_input(name: str) -> None:
    """Classifiers take ``num_classes``, towers ``embedding_dim`` (3 suits every model: the
    mask head allows only 2 or 3 classes). ``min_input_size`` is accepted and one pixel less
    is refused (torchvision's ``min_size``); fixed-size models run at the registered size."""
    spec = model_info(name)
    model = get_model(name, **{WIDTH_OPTION[spec.kind]: 3}).eval()
    smallest = spec.min_input_size or spec.input_size
    with torch.no_grad():
        assert model(_batch(name, size=smallest)).shape == (2, 3)
        if spec.min_input_size is not None and min(smallest) > 1:
            with pytest.raises((RuntimeError, InkfaceError)):
                model(_batch(name, size=(smallest[0] - 1, smallest[1] - 1)))


# --- registry ---------------------------------------------------------------------------


def test_registry_lists_the_paper_towers_and_the_backbone() -> None:
    assert set(TOWERS) <= set(list_models(kind="embedding"))
    assert "mobilenetv2" in list_models()
    assert model_info("mobilenetv2").kind == "classifier"
    assert model_info("signet").input_size == (155, 220)
    assert model_info("mobilenetv2_signature").input_size == (224, 224)
    assert model_info("deepsign").input_size == (300, 360)
    assert model_info("deepsign").in_channels == 1


def test_registered_metadata_is_complete() -> None:
    kinds = {"embedding": list_models(kind="embedding"), "classifier": list_models("classifier")}
    assert sorted(kinds["embedding"] + kinds["classifier"]) == list_models()
    for name in list_models():
        spec = model_info(name)
        assert spec.in_channels in (1, 3) and spec.description
        assert spec.normalization in {"unit", "minus_one_to_one", "imagenet", "dataset_mean"}
        assert spec.output_dim is not None and spec.output_dim >= 1
    assert {model_info(n).embedding_dim for n in kinds["embedding"]} == {128}
    assert model_info("mobilenetv2").num_classes == 1000


def test_bad_metadata_is_refused_at_registration() -> None:
    cases = [
        ({}, "embedding_dim"),
        ({"kind": "classifier"}, "num_classes"),
        ({"kind": "classifier", "num_classes": 3, "class_names": ("a", "b")}, "class names"),
        ({"embedding_dim": 4, "min_input_size": (9, 8)}, "min_input_size"),
    ]
    for options, message in cases:
        register = register_model(
            "x_bad", input_size=(8, 8), in_channels=1, description="x", **options
        )
        with pytest.raises(ValueError, match=message):
            register(nn.Identity)
    assert "x_bad" not in list_models()


def test_unknown_model_name_lists_valid_names() -> None:
    with pytest.raises(InkfaceError, match="unknown model 'signett'") as info:
        get_model("signett")
    for name in list_models():
        assert name in str(info.value)


def test_bad_builder_option_is_an_inkface_error() -> None:
    with pytest.raises(InkfaceError, match="signet"):
        get_model("signet", no_such_option=1)


def test_duplicate_registration_is_refused_and_leaves_the_entry() -> None:
    before = model_info("signet")
    with pytest.raises(ValueError, match="already registered"):
        register_model("signet", input_size=(1, 1), in_channels=1, description="x")(nn.Identity)
    assert model_info("signet") is before


# --- towers -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", TOWERS)
def test_tower_embeddings_are_unit_length_where_the_table_says_l2_norm(name: str) -> None:
    model = get_model(name)
    model.train()
    assert torch.isfinite(model(_batch(name))).all()
    model.eval()
    with torch.no_grad():
        norms = model(_batch(name)).norm(dim=1)
    if name in L2_NORMALISED:
        assert torch.allclose(norms, torch.ones(2), atol=1e-5)
    else:
        assert not torch.allclose(norms, torch.ones(2), atol=1e-3)


@pytest.mark.parametrize("name", TOWERS)
def test_regularization_loss_is_keras_l2_on_dense_kernels(name: str) -> None:
    torch.manual_seed(0)
    model = get_model(name)
    loss = model.regularization_loss()
    assert loss.ndim == 0
    expected = sum(
        m.l2 * m.linear.weight.pow(2).sum() for m in model.modules() if isinstance(m, Dense)
    )
    assert torch.allclose(loss, torch.as_tensor(expected, dtype=loss.dtype))
    if name == "deepsign":
        assert loss.item() == 0.0  # Table 3 lists no penalty
    else:
        assert loss.item() > 0.0


@pytest.mark.parametrize("name", ["signet", "mobilenetv2_signature"])
def test_regularization_loss_scales_with_the_coefficient(name: str) -> None:
    torch.manual_seed(3)
    small = get_model(name, l2=1e-3)
    torch.manual_seed(3)
    large = get_model(name, l2=3e-3)
    ratio = large.regularization_loss() / small.regularization_loss()
    assert ratio.item() == pytest.approx(3.0, rel=1e-5)
    loss = large.regularization_loss()
    loss.backward()
    assert large.layers.fc1.linear.weight.grad is not None


def test_mobilenet_tower_has_exactly_table_4_trainable_parameters() -> None:
    model = get_model("mobilenetv2_signature")
    assert _n_params(model, trainable=True) == 721_589
    assert _n_params(model) == 721_589 + 2_223_872
    unfrozen = get_model("mobilenetv2_signature", freeze_backbone=False)
    assert _n_params(unfrozen, trainable=True) == _n_params(unfrozen)


def test_signet_and_deepsign_parameter_counts_against_table_4() -> None:
    signet = get_model("signet")
    ours = _n_params(signet, trainable=True)
    assert ours == _n_params(signet) == 6_461_568
    # Table 4's 6,460,974: BatchNorm over the height axis (37, 18) instead of channels (96, 256).
    assert ours - 2 * (96 + 256) + 2 * (37 + 18) == 6_460_974
    assert _n_params(get_model("deepsign")) == 233_424
    # Table 4's 256,992 is Table 3 with a 48-filter squeeze in the last Fire block.
    assert _n_params(get_model("deepsign", last_squeeze=48)) == 256_992


def test_frozen_backbone_gets_no_gradients_and_keeps_bn_statistics() -> None:
    torch.manual_seed(0)
    model = get_model("mobilenetv2_signature")
    model.train()
    backbone = model.backbone
    assert not backbone.training
    assert model.layers.fc1.training
    stats = {k: v.clone() for k, v in backbone.state_dict().items() if "running" in k}
    out = model(_batch("mobilenetv2_signature"))
    (out.sum() + model.regularization_loss()).backward()
    assert all(p.grad is None for p in backbone.parameters())
    assert model.layers.adapt1.conv.weight.grad is not None  # gradients pass the frozen body
    after = backbone.state_dict()
    for key, value in stats.items():
        assert torch.equal(after[key], value), key


def test_unfrozen_backbone_trains_and_updates_bn_statistics() -> None:
    torch.manual_seed(0)
    model = get_model("mobilenetv2_signature", freeze_backbone=False)
    model.train()
    assert model.backbone.training
    before = model.backbone.stem.bn.running_mean.clone()
    model(_batch("mobilenetv2_signature")).sum().backward()
    assert model.backbone.stem.conv.weight.grad is not None
    assert not torch.equal(model.backbone.stem.bn.running_mean, before)


def test_mobilenetv2_classifier_and_features_shapes() -> None:
    torch.manual_seed(0)
    model = get_model("mobilenetv2", num_classes=3).eval()
    x = _batch("mobilenetv2")
    with torch.no_grad():
        assert model.features(x).shape == (2, 1280, 7, 7)
        assert model(x).shape == (2, 3)


# --- ImageNet weights from a local file -------------------------------------------------


def _expected_torchvision_keys() -> set[str]:
    parts = [("features.0.0", "conv"), ("features.0.1", "bn")]
    parts += [(f"features.1.conv.{p}", kind) for p, kind in [("0.0", "conv"), ("0.1", "bn")]]
    parts += [("features.1.conv.1", "conv"), ("features.1.conv.2", "bn")]
    for k in range(2, 18):
        for p, kind in [("0.0", "conv"), ("0.1", "bn"), ("1.0", "conv"), ("1.1", "bn")]:
            parts.append((f"features.{k}.conv.{p}", kind))
        parts += [(f"features.{k}.conv.2", "conv"), (f"features.{k}.conv.3", "bn")]
    parts += [("features.18.0", "conv"), ("features.18.1", "bn")]
    return _expand(parts)


def _expected_timm_keys() -> set[str]:
    parts = [("conv_stem", "conv"), ("bn1", "bn"), ("conv_head", "conv"), ("bn2", "bn")]
    parts += [("blocks.0.0.conv_dw", "conv"), ("blocks.0.0.bn1", "bn")]
    parts += [("blocks.0.0.conv_pw", "conv"), ("blocks.0.0.bn2", "bn")]
    for stage, size in enumerate([1, 2, 3, 4, 3, 3, 1]):
        for j in range(size):
            if stage == 0:
                continue
            for name, kind in [("conv_pw", "conv"), ("bn1", "bn"), ("conv_dw", "conv")]:
                parts.append((f"blocks.{stage}.{j}.{name}", kind))
            for name, kind in [("bn2", "bn"), ("conv_pwl", "conv"), ("bn3", "bn")]:
                parts.append((f"blocks.{stage}.{j}.{name}", kind))
    return _expand(parts)


def _expand(parts: list[tuple[str, str]]) -> set[str]:
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    return {f"{p}.{s}" for p, kind in parts for s in (["weight"] if kind == "conv" else bn)}


# Literal key -> shape spot checks that pin which of our layers each name lands on.
SPOT_CHECKS = {
    "torchvision": {
        "features.0.0.weight": (32, 3, 3, 3),
        "features.1.conv.0.0.weight": (32, 1, 3, 3),
        "features.1.conv.1.weight": (16, 32, 1, 1),
        "features.2.conv.0.0.weight": (96, 16, 1, 1),
        "features.2.conv.1.0.weight": (96, 1, 3, 3),
        "features.17.conv.2.weight": (320, 960, 1, 1),
        "features.18.0.weight": (1280, 320, 1, 1),
        "features.18.1.running_var": (1280,),
        "features.1.conv.0.1.weight": (32,),
        "features.1.conv.2.weight": (16,),
        "features.2.conv.0.1.running_mean": (96,),
        "features.2.conv.3.weight": (24,),
    },
    "timm": {
        "conv_stem.weight": (32, 3, 3, 3),
        "blocks.0.0.conv_dw.weight": (32, 1, 3, 3),
        "blocks.0.0.conv_pw.weight": (16, 32, 1, 1),
        "blocks.1.0.conv_pw.weight": (96, 16, 1, 1),
        "blocks.3.3.conv_pwl.weight": (64, 384, 1, 1),
        "blocks.5.2.conv_dw.weight": (960, 1, 3, 3),
        "blocks.6.0.conv_pwl.weight": (320, 960, 1, 1),
        "conv_head.weight": (1280, 320, 1, 1),
        "bn2.bias": (1280,),
        "bn1.weight": (32,),
        "blocks.0.0.bn1.weight": (32,),
        "blocks.0.0.bn2.weight": (16,),
        "blocks.1.0.bn2.running_var": (96,),
        "blocks.1.0.bn3.weight": (24,),
    },
}


def _foreign_state(features: MobileNetV2Features, naming: str) -> dict[str, torch.Tensor]:
    """Our weights renamed as torchvision / timm would save them, with a 1000-way head."""
    ours = features.state_dict()
    state = {theirs: ours[mine].clone() for mine, theirs in key_map(features, naming).items()}
    head = "classifier.1" if naming == "torchvision" else "classifier"
    state[f"{head}.weight"] = torch.zeros(1000, 1280)
    state[f"{head}.bias"] = torch.zeros(1000)
    return state


@pytest.mark.parametrize("naming", ["torchvision", "timm"])
def test_key_map_matches_the_published_names(naming: str) -> None:
    features = MobileNetV2Features()
    expected = _expected_torchvision_keys() if naming == "torchvision" else _expected_timm_keys()
    mapping = key_map(features, naming)
    assert set(mapping) == set(features.state_dict())
    assert set(mapping.values()) == expected
    assert len(expected) == 312
    state = _foreign_state(features, naming)
    for key, shape in SPOT_CHECKS[naming].items():
        assert tuple(state[key].shape) == shape, key


# MobileNetV2 paper, Table 2: (t, c, n, s), written out again here on purpose.
_STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1)]
_STAGES += [(6, 160, 3, 2), (6, 320, 1, 1)]


def _layer_names(naming: str, k: int, stage: int, j: int, t: int) -> list[tuple[str, str]]:
    """(conv, bn) names of block ``k`` (flat) = block ``j`` of ``stage``, as published."""
    if naming == "torchvision":
        p = f"features.{k + 1}.conv"
        if t == 1:
            return [(f"{p}.0.0", f"{p}.0.1"), (f"{p}.1", f"{p}.2")]
        return [(f"{p}.0.0", f"{p}.0.1"), (f"{p}.1.0", f"{p}.1.1"), (f"{p}.2", f"{p}.3")]
    p = f"blocks.{stage}.{j}"
    if t == 1:
        return [(f"{p}.conv_dw", f"{p}.bn1"), (f"{p}.conv_pw", f"{p}.bn2")]
    return [
        (f"{p}.conv_pw", f"{p}.bn1"),
        (f"{p}.conv_dw", f"{p}.bn2"),
        (f"{p}.conv_pwl", f"{p}.bn3"),
    ]


def _reference_forward(x: torch.Tensor, sd: dict[str, torch.Tensor], naming: str) -> torch.Tensor:
    """MobileNetV2 computed straight from a foreign-named state dict (independent of ours)."""

    def cbn(x, conv, bn, stride=1, depthwise=False, act=True):
        w = sd[f"{conv}.weight"]
        groups = x.shape[1] if depthwise else 1
        x = F.conv2d(x, w, stride=stride, padding=(w.shape[-1] - 1) // 2, groups=groups)
        stats = [sd[f"{bn}.{n}"] for n in ("running_mean", "running_var", "weight", "bias")]
        x = F.batch_norm(x, *stats, training=False, eps=1e-5)
        return F.relu6(x) if act else x

    tv = naming == "torchvision"
    x = cbn(x, *(("features.0.0", "features.0.1") if tv else ("conv_stem", "bn1")), stride=2)
    k = 0
    for stage, (t, c, n, s) in enumerate(_STAGES):
        for j in range(n):
            stride = s if j == 0 else 1
            names = _layer_names(naming, k, stage, j, t)
            out = x if t == 1 else cbn(x, *names[0])
            out = cbn(out, *names[-2], stride=stride, depthwise=True)
            out = cbn(out, *names[-1], act=False)
            x = x + out if stride == 1 and x.shape[1] == c else out
            k += 1
    return cbn(x, *(("features.18.0", "features.18.1") if tv else ("conv_head", "bn2")))


@pytest.mark.parametrize("naming", ["torchvision", "timm"])
def test_imagenet_weights_land_in_the_backbone(naming: str, tmp_path) -> None:
    torch.manual_seed(1)
    source = MobileNetV2Features()
    with torch.no_grad():  # distinct BatchNorm parameters, so a swapped pair would show
        for m in source.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    foreign = _foreign_state(source, naming)
    path = tmp_path / f"{naming}.pth"
    torch.save(foreign, path)
    torch.manual_seed(2)
    model = get_model("mobilenetv2_signature", backbone_weights=str(path)).eval()
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        ours = model.backbone(x)
        reference = _reference_forward(x, foreign, naming)
    assert ours.shape == reference.shape == (1, 1280, 7, 7)
    assert torch.allclose(ours, reference, atol=1e-4)
    assert load_mobilenetv2_imagenet(MobileNetV2Features(), path) == naming


def test_mismatched_weights_are_refused_naming_the_file(tmp_path) -> None:
    features = MobileNetV2Features()
    state = _foreign_state(features, "torchvision")
    del state["features.5.conv.1.0.weight"]
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(InkfaceError, match=r"partial\.pth.*features\.5\.conv\.1\.0\.weight"):
        load_mobilenetv2_imagenet(features, path)

    state = _foreign_state(features, "timm")
    state["conv_head.weight"] = torch.zeros(1024, 320, 1, 1)
    path = tmp_path / "wrong_shape.pth"
    torch.save(state, path)
    with pytest.raises(InkfaceError, match=r"wrong_shape\.pth.*conv_head\.weight"):
        load_mobilenetv2_imagenet(features, path)

    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(InkfaceError, match=r"other\.pth.*not a torchvision or timm"):
        load_mobilenetv2_imagenet(features, path)

    with pytest.raises(InkfaceError, match="not found"):
        load_mobilenetv2_imagenet(features, tmp_path / "absent.pth")


def test_weights_file_with_pickled_objects_is_refused(tmp_path) -> None:
    path = tmp_path / "pickled.pth"
    torch.save({"features.0.0.weight": torch.zeros(1), "extra": nn.ReLU()}, path)
    with pytest.raises(InkfaceError, match=r"pickled\.pth"):
        load_mobilenetv2_imagenet(MobileNetV2Features(), path)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(InkfaceError, match=r"garbage\.pth"):
        load_mobilenetv2_imagenet(MobileNetV2Features(), garbage)
