"""Layer tables for ``inkface info``: the rows of the papers' architecture tables with our
measured output shapes, plus parameter counts, multiply-accumulates and saved size.

Shapes are printed (H, W, C) as Keras and the DeepSign tables do. MACs are counted by
forward hooks on every convolution (``output elements x in_channels / groups x kh x kw``)
and linear layer (``in x out``) for one image; BatchNorm, pooling and activations are not
counted. The saved size is that of ``torch.save(model.state_dict())``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import torch
from torch import nn

from inkface.models.registry import get_model, model_info

MB = 1_000_000


@dataclass(frozen=True)
class SummaryRow:
    """One table row: layer type, paper-style parameters, output (H, W, C) or (C,), count."""

    layer: str
    parameters: str
    output_shape: tuple[int, ...]
    params: int


@dataclass(frozen=True)
class ModelSummary:
    """The whole table and totals for one model at one input size (C, H, W)."""

    model: str
    input_size: tuple[int, int, int]
    rows: tuple[SummaryRow, ...]
    total_params: int
    trainable_params: int
    macs: int
    state_dict_bytes: int


def _rows_of(model: nn.Module) -> list[tuple[str, str, nn.Module]]:
    """The paper-table rows of a tower, or the top-level children of any other module."""
    layer_rows = getattr(model, "layer_rows", None)
    if callable(layer_rows):
        return list(layer_rows())
    return [(f"{name} ({type(m).__name__})", "-", m) for name, m in model.named_children()]


def _keras_shape(shape: torch.Size) -> tuple[int, ...]:
    """Drop the batch axis and print channels last, as the papers' tables do."""
    dims = tuple(int(d) for d in shape[1:])
    if len(dims) == 3:
        return (dims[1], dims[2], dims[0])
    return dims


def _mac_hook(counter: list[int]):
    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            per_out = (module.in_channels // module.groups) * kh * kw
            counter[0] += (output.numel() // output.shape[0]) * per_out
        elif isinstance(module, nn.Linear):
            rows = output.numel() // output.shape[-1] // output.shape[0]
            counter[0] += rows * module.in_features * module.out_features

    return hook


def state_dict_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``, i.e. the weights file we would write."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def summarize(model: nn.Module, input_size: tuple[int, int, int]) -> ModelSummary:
    """Run one zero image of ``input_size`` (C, H, W) through ``model`` in eval mode and
    collect the layer table, parameter counts and MACs; the model's mode is restored."""
    rows = _rows_of(model)
    shapes: dict[int, torch.Size] = {}
    macs = [0]
    handles = []
    for i, (_, _, module) in enumerate(rows):

        def record(m: nn.Module, inp: object, out: torch.Tensor, i: int = i) -> None:
            shapes[i] = out.shape

        handles.append(module.register_forward_hook(record))
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            handles.append(m.register_forward_hook(_mac_hook(macs)))
    was_training = model.training
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    table = tuple(
        SummaryRow(
            layer=kind,
            parameters=params,
            output_shape=_keras_shape(shapes[i]) if i in shapes else (),
            params=sum(p.numel() for p in module.parameters()),
        )
        for i, (kind, params, module) in enumerate(rows)
    )
    return ModelSummary(
        model=type(model).__name__,
        input_size=(int(input_size[0]), int(input_size[1]), int(input_size[2])),
        rows=table,
        total_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        macs=macs[0],
        state_dict_bytes=state_dict_bytes(model),
    )


def format_summary(summary: ModelSummary) -> str:
    """A fixed-width table (Layer | Parameters | Output Shape | Params) and the totals."""
    header = ("Layer", "Parameters", "Output Shape", "Params")
    body = [(r.layer, r.parameters, str(r.output_shape), f"{r.params:,}") for r in summary.rows]
    widths = [max(len(row[c]) for row in [header, *body]) for c in range(4)]

    def line(cells: tuple[str, str, str, str]) -> str:
        left = [cells[c].ljust(widths[c]) for c in range(3)]
        return " | ".join([*left, cells[3].rjust(widths[3])])

    rule = "-+-".join("-" * w for w in widths)
    c, h, w = summary.input_size
    lines = [f"{summary.model}, input {c} x {h} x {w} (C x H x W)", line(header), rule]
    lines += [line(row) for row in body]
    lines += [
        rule,
        f"total params:      {summary.total_params:,}",
        f"trainable params:  {summary.trainable_params:,}",
        f"MACs per image:    {summary.macs:,} ({summary.macs / 1e6:.1f} M)",
        f"state_dict size:   {summary.state_dict_bytes:,} bytes "
        f"({summary.state_dict_bytes / MB:.2f} MB)",
    ]
    return "\n".join(lines)


def describe_model(name: str) -> str:
    """The printable text of ``inkface info NAME``: metadata, layer table and, for the
    DeepSign towers, the paper's Table 4 figures next to ours."""
    spec = model_info(name)
    model = get_model(name)
    summary = summarize(model, (spec.in_channels, *spec.input_size))
    parts = [f"{spec.name}: {spec.description}"]
    if spec.paper_reference:
        parts.append(f"reference: {spec.paper_reference}")
    parts += ["", format_summary(summary)]
    if spec.paper_params is not None or spec.paper_storage_mb is not None:
        paper_params = f"{spec.paper_params:,}" if spec.paper_params is not None else "-"
        paper_mb = f"{spec.paper_storage_mb:g}" if spec.paper_storage_mb is not None else "-"
        parts += [
            "",
            "DeepSign Table 4 vs ours:",
            f"  parameters:   paper {paper_params}; ours {summary.trainable_params:,} "
            f"trainable, {summary.total_params:,} total",
            f"  storage (MB): paper {paper_mb}; ours "
            f"{summary.state_dict_bytes / MB:.2f} (state_dict)",
            "  (the module docstring of the architecture explains the difference)",
        ]
    return "\n".join(parts)
