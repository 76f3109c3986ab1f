"""Run a parsed TFLite graph (:mod:`inkface.faces.detection.tflite`) with PyTorch.

Why not a TFLite runtime: MediaPipe's wheel (the only registry package that ships the
BlazeFace files) pins ``protobuf<5``, ``opencv-contrib-python`` (which overwrites the
``cv2`` of ``opencv-python-headless``), ``jax`` and ``jaxlib``; ``ai-edge-litert`` is a
further 20 MB native runtime. BlazeFace is a plain float CNN of a dozen operator kinds, so
inkface reads the ``.tflite`` file itself and runs it here, in NCHW, with the
weights de-quantised (float16 -> float32) and de-sparsified once at load. The raw outputs
agree with TensorFlow Lite's interpreter to about 1e-4 (``tests/test_real_detectors.py``
checks a fixed input against values recorded from ``ai-edge-litert`` 2.3.0), and a
128x128 BlazeFace forward pass takes about 1-2 ms on one CPU core.

Activations of rank 4 are kept NCHW; ``RESHAPE`` and ``CONCATENATION`` translate from
TFLite's NHWC axes. Padding ``SAME`` follows TensorFlow (the extra pixel goes after).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inkface.core.errors import InkfaceError
from inkface.faces.detection.tflite import Graph, Operator, densify

_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1}


def _same_pad(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding of one axis: (before, after), the odd pixel after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _activate(x: torch.Tensor, activation: str | None) -> torch.Tensor:
    if activation is None:
        return x
    if activation == "RELU":
        return F.relu(x)
    if activation == "RELU6":
        return F.relu6(x)
    raise InkfaceError(f"TFLite fused activation {activation!r} is not supported here")


def _pad_same(x: torch.Tensor, op: Operator, kernel: tuple[int, int]) -> torch.Tensor:
    if op.options["padding"] != "SAME":
        return x
    dil = op.options.get("dilation", (1, 1))
    ph = _same_pad(x.shape[2], kernel[0], op.options["stride"][0], dil[0])
    pw = _same_pad(x.shape[3], kernel[1], op.options["stride"][1], dil[1])
    return F.pad(x, (*pw, *ph)) if any(ph + pw) else x


class TFLiteModule(nn.Module):
    """A TFLite graph as a ``torch.nn.Module``: ``forward(nhwc_input)`` returns the
    graph's outputs in TFLite's own layout (rank-4 outputs back in NHWC)."""

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        self.graph = graph
        self._const: dict[int, torch.Tensor] = {}
        for k, t in enumerate(graph.tensors):
            if t.data is not None:
                data = densify(t) if t.sparsity is not None else t.data
                self._const[k] = torch.from_numpy(np.array(data, copy=True))
        for op in graph.operators:  # de-quantise / densify constants once
            if op.op in ("DEQUANTIZE", "DENSIFY") and op.inputs[0] in self._const:
                self._const[op.outputs[0]] = self._const[op.inputs[0]].float()
        self._steps: list[Callable[[dict[int, torch.Tensor]], None]] = []
        for op in graph.operators:
            if op.outputs[0] in self._const:
                continue
            self._steps.append(self._compile(op))

    def _weight(self, index: int) -> torch.Tensor:
        if index not in self._const:
            raise InkfaceError("TFLite graph: a weight tensor is not constant")
        return self._const[index]

    def _compile(self, op: Operator) -> Callable[[dict[int, torch.Tensor]], None]:
        """One step ``env -> None`` that writes ``op``'s output into ``env``."""
        out, ins, opt = op.outputs[0], op.inputs, op.options
        if op.op == "CONV_2D":
            w = self._weight(ins[1]).permute(0, 3, 1, 2).contiguous()  # OHWI -> OIHW
            b = self._weight(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None

            def conv(env: dict[int, torch.Tensor]) -> None:
                x = _pad_same(env[ins[0]], op, (w.shape[2], w.shape[3]))
                y = F.conv2d(x, w, b, opt["stride"], 0, opt["dilation"])
                env[out] = _activate(y, opt["activation"])

            return conv
        if op.op == "DEPTHWISE_CONV_2D":
            w = self._weight(ins[1]).permute(3, 0, 1, 2).contiguous()  # 1HWC -> C1HW
            b = self._weight(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
            groups = w.shape[0] // max(1, opt["multiplier"])

            def depthwise(env: dict[int, torch.Tensor]) -> None:
                x = _pad_same(env[ins[0]], op, (w.shape[2], w.shape[3]))
                y = F.conv2d(x, w, b, opt["stride"], 0, opt["dilation"], groups)
                env[out] = _activate(y, opt["activation"])

            return depthwise
        if op.op in ("ADD", "MUL"):
            fn = torch.add if op.op == "ADD" else torch.mul

            def binary(env: dict[int, torch.Tensor]) -> None:
                a, c = (env[i] if i in env else self._const[i] for i in ins[:2])
                env[out] = _activate(fn(a, c), opt["activation"])

            return binary
        if op.op in ("RELU", "RELU6", "LOGISTIC"):
            fn = {"RELU": F.relu, "RELU6": F.relu6, "LOGISTIC": torch.sigmoid}[op.op]
            return lambda env: env.__setitem__(out, fn(env[ins[0]]))
        if op.op == "PAD":
            p = self._weight(ins[1]).tolist()  # NHWC (before, after) pairs
            pads = (*p[2], *p[1], *p[3])  # F.pad: W, then H, then C of NCHW

            return lambda env: env.__setitem__(out, F.pad(env[ins[0]], pads))
        if op.op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            pool = F.max_pool2d if op.op == "MAX_POOL_2D" else F.avg_pool2d

            def pooling(env: dict[int, torch.Tensor]) -> None:
                x = _pad_same(env[ins[0]], op, opt["kernel"])
                env[out] = _activate(pool(x, opt["kernel"], opt["stride"]), opt["activation"])

            return pooling
        if op.op == "RESHAPE":
            shape = tuple(self.graph.tensors[out].shape) or opt["new_shape"]

            def reshape(env: dict[int, torch.Tensor]) -> None:
                x = env[ins[0]]
                if x.dim() == 4:
                    x = x.permute(0, 2, 3, 1)
                y = x.reshape(shape)
                env[out] = y.permute(0, 3, 1, 2) if y.dim() == 4 else y

            return reshape
        if op.op == "CONCATENATION":

            def concat(env: dict[int, torch.Tensor]) -> None:
                xs = [env[i] for i in ins]
                axis = _NHWC_TO_NCHW_AXIS[opt["axis"]] if xs[0].dim() == 4 else opt["axis"]
                env[out] = _activate(torch.cat(xs, axis), opt["activation"])

            return concat
        if op.op == "RESIZE_BILINEAR":
            size = tuple(int(v) for v in self._weight(ins[1]).tolist())
            if opt["align_corners"] == opt["half_pixel_centers"]:
                raise InkfaceError("TFLite RESIZE_BILINEAR: only half-pixel centres are supported")
            corners = opt["align_corners"]
            return lambda env: env.__setitem__(
                out, F.interpolate(env[ins[0]], size, mode="bilinear", align_corners=corners)
            )
        if op.op == "DEPTH_TO_SPACE":
            bs = opt["block_size"]

            def depth_to_space(env: dict[int, torch.Tensor]) -> None:
                x = env[ins[0]]  # TF channel order is (block row, block col, C)
                n, c, h, w = x.shape
                y = x.reshape(n, bs, bs, c // bs**2, h, w).permute(0, 3, 4, 1, 5, 2)
                env[out] = y.reshape(n, c // bs**2, h * bs, w * bs)

            return depth_to_space
        raise InkfaceError(f"TFLite operator {op.op} is not supported by the PyTorch runner")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        env: dict[int, torch.Tensor] = {self.graph.inputs[0]: x.permute(0, 3, 1, 2)}
        for step in self._steps:
            step(env)
        outs = [env[i] if i in env else self._const[i] for i in self.graph.outputs]
        return [o.permute(0, 2, 3, 1) if o.dim() == 4 else o for o in outs]


def load_tflite_module(graph: Graph) -> TFLiteModule:
    """A TFLiteModule in eval mode with gradients off (it is inference only)."""
    module = TFLiteModule(graph).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def describe(graph: Graph) -> dict[str, Any]:
    """Operator counts and I/O shapes, for error messages and notes."""
    counts: dict[str, int] = {}
    for op in graph.operators:
        counts[op.op] = counts.get(op.op, 0) + 1
    return {
        "ops": counts,
        "inputs": [graph.tensors[i].shape for i in graph.inputs],
        "outputs": [graph.tensors[i].shape for i in graph.outputs],
    }
