"""A reader for the ``.tflite`` files of MediaPipe's face detectors (BlazeFace).

A ``.tflite`` file is a FlatBuffer of TensorFlow Lite's ``schema.fbs``: a ``Model`` table
with operator codes, one subgraph of tensors and operators, and the constant buffers.
This module decodes just the parts a small float CNN needs (tensor shapes, types, constant
data, sparsity of densified weights, and the options of the operators BlazeFace uses) so
that :mod:`inkface.faces.detection.tflite_torch` can run the graph in PyTorch without a
TFLite runtime. Field numbers below are the ``schema.fbs`` field order (the FlatBuffers
vtable slots); nothing of the file is executed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inkface.core.errors import InkfaceError

# schema.fbs enums: BuiltinOperator codes of the ops handled, TensorType, activations.
BUILTIN_OPS = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE",
    6: "DEQUANTIZE",
    9: "FULLY_CONNECTED",
    14: "LOGISTIC",
    17: "MAX_POOL_2D",
    18: "MUL",
    19: "RELU",
    21: "RELU6",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    34: "PAD",
    54: "PRELU",
    97: "RESIZE_NEAREST_NEIGHBOR",
    124: "DENSIFY",
}
TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
ACTIVATIONS = {0: None, 1: "RELU", 3: "RELU6"}
PADDINGS = {0: "SAME", 1: "VALID"}


class _Table:
    """One FlatBuffers table: field ``k`` is the k-th slot of its vtable."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        size = struct.unpack_from("<H", buf, vtable)[0]
        self._slots = struct.unpack_from(f"<{(size - 4) // 2}H", buf, vtable + 4)

    def _at(self, k: int) -> int:
        return self.pos + self._slots[k] if k < len(self._slots) and self._slots[k] else 0

    def scalar(self, k: int, fmt: str, default: Any = 0) -> Any:
        at = self._at(k)
        return struct.unpack_from("<" + fmt, self.buf, at)[0] if at else default

    def _target(self, k: int) -> int:
        at = self._at(k)
        return at + struct.unpack_from("<I", self.buf, at)[0] if at else 0

    def table(self, k: int) -> _Table | None:
        at = self._target(k)
        return _Table(self.buf, at) if at else None

    def tables(self, k: int) -> list[_Table]:
        at = self._target(k)
        if not at:
            return []
        n = struct.unpack_from("<I", self.buf, at)[0]
        items = [at + 4 + 4 * i for i in range(n)]
        return [_Table(self.buf, p + struct.unpack_from("<I", self.buf, p)[0]) for p in items]

    def vector(self, k: int, dtype: Any) -> np.ndarray:
        at = self._target(k)
        if not at:
            return np.zeros(0, dtype)
        n = struct.unpack_from("<I", self.buf, at)[0]
        return np.frombuffer(
            self.buf, dtype=np.dtype(dtype).newbyteorder("<"), count=n, offset=at + 4
        )

    def string(self, k: int) -> str:
        return bytes(self.vector(k, np.uint8)).decode("utf-8", "replace")


@dataclass(frozen=True)
class Sparsity:
    """A constant stored sparse (schema ``SparsityParameters``): its traversal order,
    block map and per-dimension (format, dense size, segments, indices)."""

    traversal_order: tuple[int, ...]
    block_map: tuple[int, ...]
    dims: tuple[tuple[int, int, np.ndarray, np.ndarray], ...]


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: Any
    data: np.ndarray | None = None  # constants only
    sparsity: Sparsity | None = None


@dataclass
class Operator:
    op: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """The first subgraph of a TFLite model: tensors, operators in run order, I/O ids."""

    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def _index_vector(table: _Table | None, kind: int) -> np.ndarray:
    # union SparseIndexVector: 1 Int32Vector, 2 Uint16Vector, 3 Uint8Vector ({values: [...]}).
    dtype = {1: np.int32, 2: np.uint16, 3: np.uint8}.get(kind)
    if table is None or dtype is None:
        return np.zeros(0, np.int64)
    return table.vector(0, dtype).astype(np.int64)


def _sparsity(table: _Table | None) -> Sparsity | None:
    if table is None:
        return None
    dims = tuple(
        (
            d.scalar(0, "b"),
            d.scalar(1, "i"),
            _index_vector(d.table(3), d.scalar(2, "B")),
            _index_vector(d.table(5), d.scalar(4, "B")),
        )
        for d in table.tables(2)
    )
    order = tuple(int(v) for v in table.vector(0, np.int32))
    return Sparsity(order, tuple(int(v) for v in table.vector(1, np.int32)), dims)


def _options(op: str, table: _Table | None) -> dict[str, Any]:
    """The schema's options table of the ops BlazeFace uses, by field number."""
    if table is None:
        return {}
    if op == "CONV_2D":
        return {
            "padding": PADDINGS[table.scalar(0, "b")],
            "stride": (table.scalar(2, "i"), table.scalar(1, "i")),
            "activation": ACTIVATIONS.get(table.scalar(3, "b"), "?"),
            "dilation": (table.scalar(5, "i", 1), table.scalar(4, "i", 1)),
        }
    if op == "DEPTHWISE_CONV_2D":
        return {
            "padding": PADDINGS[table.scalar(0, "b")],
            "stride": (table.scalar(2, "i"), table.scalar(1, "i")),
            "multiplier": table.scalar(3, "i"),
            "activation": ACTIVATIONS.get(table.scalar(4, "b"), "?"),
            "dilation": (table.scalar(6, "i", 1), table.scalar(5, "i", 1)),
        }
    if op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        return {
            "padding": PADDINGS[table.scalar(0, "b")],
            "stride": (table.scalar(2, "i"), table.scalar(1, "i")),
            "kernel": (table.scalar(4, "i"), table.scalar(3, "i")),
            "activation": ACTIVATIONS.get(table.scalar(5, "b"), "?"),
        }
    if op in ("ADD", "MUL"):
        return {"activation": ACTIVATIONS.get(table.scalar(0, "b"), "?")}
    if op == "CONCATENATION":
        return {"axis": table.scalar(0, "i"), "activation": ACTIVATIONS.get(table.scalar(1, "b"))}
    if op == "RESHAPE":
        return {"new_shape": tuple(int(v) for v in table.vector(0, np.int32))}
    if op in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        slots = (2, 3) if op == "RESIZE_BILINEAR" else (0, 1)
        return {
            "align_corners": bool(table.scalar(slots[0], "B")),
            "half_pixel_centers": bool(table.scalar(slots[1], "B")),
        }
    if op == "DEPTH_TO_SPACE":
        return {"block_size": table.scalar(0, "i")}
    return {}


def read_tflite(path: str | Path) -> Graph:
    """Parse ``path`` into a :class:`Graph`; InkfaceError naming the file when it is not a
    TFLite model or uses an operator this reader does not know."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise InkfaceError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(buf) < 16 or buf[4:8] != b"TFL3":
        raise InkfaceError(f"{path}: not a TensorFlow Lite model (no 'TFL3' identifier)")
    try:
        model = _Table(buf, struct.unpack_from("<I", buf, 0)[0])
        codes = [max(c.scalar(0, "b"), c.scalar(3, "i")) for c in model.tables(1)]
        buffers = [b.vector(0, np.uint8) for b in model.tables(4)]
        graph = model.tables(2)[0]
        tensors = []
        for t in graph.tables(0):
            dtype = TENSOR_TYPES.get(t.scalar(1, "b"))
            raw = buffers[t.scalar(2, "I")] if t.scalar(2, "I") < len(buffers) else None
            data = raw.view(dtype) if dtype is not None and raw is not None and raw.size else None
            shape = tuple(int(v) for v in t.vector(0, np.int32))
            sparsity = _sparsity(t.table(6))
            if data is not None and sparsity is None:
                data = data.reshape(shape)
            tensors.append(Tensor(t.string(3), shape, dtype, data, sparsity))
        operators = []
        for o in graph.tables(3):
            code = codes[o.scalar(0, "I")]
            if code not in BUILTIN_OPS:
                raise InkfaceError(f"{path}: TFLite operator {code} is not supported here")
            name = BUILTIN_OPS[code]
            ins = tuple(int(v) for v in o.vector(1, np.int32))
            outs = tuple(int(v) for v in o.vector(2, np.int32))
            operators.append(Operator(name, ins, outs, _options(name, o.table(4))))
        inputs = tuple(int(v) for v in graph.vector(1, np.int32))
        outputs = tuple(int(v) for v in graph.vector(2, np.int32))
    except (struct.error, IndexError, ValueError, KeyError) as exc:
        raise InkfaceError(f"{path}: malformed TFLite model ({exc})") from exc
    return Graph(tensors, operators, inputs, outputs)


def densify(tensor: Tensor) -> np.ndarray:
    """The dense array of a sparse constant (TFLite's ``DENSIFY``; schema
    ``SparsityParameters``): walk the dimensions in ``traversal_order``, dense ones by
    their size, CSR ones by their segments and indices, then map block dimensions back
    through ``block_map``."""
    sp = tensor.sparsity
    if sp is None or tensor.data is None:
        raise InkfaceError(f"{tensor.name}: not a sparse constant")
    values = tensor.data.reshape(-1)
    shape = tensor.shape
    n_orig = len(shape)
    order = sp.traversal_order
    blocked = [shape[i] for i in range(n_orig)]
    block_sizes = []
    for k, dim in enumerate(sp.block_map):
        size = sp.dims[n_orig + k][1]
        block_sizes.append(size)
        blocked[dim] //= size
    # the expanded (blocked) index space in storage order
    coords: list[tuple[int, ...]] = [()]
    for level, _ in enumerate(order):
        fmt, dense_size, segments, indices = sp.dims[level]
        nxt = []
        for parent, prefix in enumerate(coords):
            if fmt == 0:
                nxt.extend((*prefix, i) for i in range(dense_size))
            else:
                lo, hi = int(segments[parent]), int(segments[parent + 1])
                nxt.extend((*prefix, int(i)) for i in indices[lo:hi])
        coords = nxt
    if len(coords) != values.size:
        raise InkfaceError(f"{tensor.name}: sparse data of {values.size} for {len(coords)} slots")
    out = np.zeros(shape, values.dtype)
    for value, coord in zip(values, coords, strict=True):
        full = [0] * len(order)
        for level, axis in enumerate(order):
            full[axis] = coord[level]
        index = list(full[:n_orig])
        for k, dim in enumerate(sp.block_map):
            index[dim] = index[dim] * block_sizes[k] + full[n_orig + k]
        out[tuple(index)] = value
    return out
