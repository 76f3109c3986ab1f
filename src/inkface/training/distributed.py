"""Training on several devices or nodes (Lightning DDP): the settings, and who writes.

:class:`Distribution` is what ``--devices``, ``--num-nodes`` and ``--strategy`` (or a
recipe's ``distribution:`` block) ask for; :func:`inkface.training.fit.fit` hands it to
the Lightning ``Trainer``. The default (one device, one node, strategy ``auto``) is the
single-process training every trainer did before.

With ``ddp`` every device runs its own process, and each process runs the whole
training command, not only ``Trainer.fit``:

* started by Lightning itself (``inkface train-face ... --devices 2``), the first process
  re-runs the same command line (``sys.argv``) for every other device of its node when
  the first ``Trainer.fit`` starts, with ``LOCAL_RANK``, ``NODE_RANK`` and
  ``WORLD_SIZE`` set;
* under ``torchrun`` (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``) or SLURM's ``srun``
  (``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_NODEID``) every process runs the command
  from the start.

So code outside the trainer asks :func:`is_global_zero` before it writes a file (run
folder, ``recipe.yaml``, caches, weights, reports): global rank 0 writes, the other
ranks train their share of each batch and return. The environment is read the way
Lightning reads it (``lightning.fabric.utilities.rank_zero``), ``LOCAL_RANK`` before
``SLURM_PROCID`` because a SLURM job step also sets the latter for processes SLURM does
not manage.

``strategy`` is one of :data:`STRATEGIES`: ``auto`` (one device: a plain process;
several: Lightning's choice, ``ddp`` from a command line), ``ddp``, and
``ddp_find_unused_parameters_true`` (``ddp`` for models with parameters a step leaves
unused, which Lightning's error message suggests). ``ddp_spawn`` is not offered: it
starts fresh workers for every ``Trainer.fit`` call (three per face run with
pre-training and fine-tuning), pickles the datasets and the module into them, and brings
back only the first checkpoint callback's state, so the per-epoch history and the
resume bookkeeping of :mod:`inkface.training.fit` would be lost; it is also the slower
strategy in Lightning's own documentation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inkface.core.errors import InkfaceError

STRATEGIES = ("auto", "ddp", "ddp_find_unused_parameters_true")
GPU_ACCELERATORS = ("auto", "gpu", "cuda")


def check_devices(value: object, name: str = "devices") -> int | str:
    """``value`` as a device count >= 1 or ``"auto"``; ``"4"`` (a flag's text) is 4."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value  # type: ignore[return-value]
    raise InkfaceError(f"{name}: expected a device count >= 1 or 'auto', got {value!r}")


def check_nodes(value: object, name: str = "num_nodes") -> int:
    """``value`` as a node count >= 1; ``"2"`` (a flag's text) is 2."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InkfaceError(f"{name}: expected a node count >= 1, got {value!r}")
    return value


def check_strategy(value: object, name: str = "strategy") -> str:
    """``value`` as one of :data:`STRATEGIES`."""
    if value not in STRATEGIES:
        raise InkfaceError(f"{name}: expected one of {', '.join(STRATEGIES)}, got {value!r}")
    return str(value)


@dataclass(frozen=True)
class Distribution:
    """Devices per node, nodes and Lightning strategy of one training run (checked).

    The recipe's ``batch_size`` stays the batch of one optimizer step: each of the
    ``world_size`` processes loads ``batch_size // world_size`` samples of it (at least
    one, :meth:`per_rank_batch`), and DDP averages their gradients, so a run on several
    devices takes the steps a single process would.
    """

    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"

    def __post_init__(self) -> None:
        check_devices(self.devices)
        check_nodes(self.num_nodes)
        check_strategy(self.strategy)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | Any) -> Distribution:
        """From a mapping or an object with ``devices`` / ``num_nodes`` / ``strategy``
        (a recipe's ``distribution`` block); missing ones keep their defaults."""
        names = ("devices", "num_nodes", "strategy")
        if isinstance(settings, Mapping):
            found = {k: settings[k] for k in names if k in settings}
        else:
            found = {k: getattr(settings, k) for k in names if hasattr(settings, k)}
        return cls(**found)

    def world_size(self, accelerator: str = "auto") -> int:
        """Processes in all: devices per node (``auto``: every visible GPU for a GPU
        accelerator, else one, as Lightning counts them) times nodes."""
        devices = self.devices
        if devices == "auto":
            devices = _visible_gpus() if accelerator in GPU_ACCELERATORS else 1
        return max(1, int(devices)) * self.num_nodes

    def per_rank_batch(self, batch_size: int, accelerator: str = "auto") -> int:
        """The batch one process loads so that all together load ``batch_size``."""
        return max(1, batch_size // self.world_size(accelerator))

    def trainer_kwargs(self) -> dict[str, Any]:
        """``devices``, ``num_nodes`` and ``strategy`` for ``lightning.Trainer``."""
        return {"devices": self.devices, "num_nodes": self.num_nodes, "strategy": self.strategy}


def rank(environ: Mapping[str, str] | None = None) -> int:
    """This process's global rank as its launcher tells it (0 when not launched).

    ``RANK`` (torchrun and most launchers) is the rank; ``LOCAL_RANK`` with
    ``NODE_RANK`` / ``GROUP_RANK`` (Lightning's own launcher) gives
    ``node * LOCAL_WORLD_SIZE + local``, where a node > 0 without ``LOCAL_WORLD_SIZE``
    counts ``WORLD_SIZE`` per node (a non-zero number, not the exact rank); then
    ``SLURM_PROCID`` and ``JSM_NAMESPACE_RANK`` (LSF).
    """
    env = os.environ if environ is None else environ
    if env.get("RANK"):
        return int(env["RANK"])
    if env.get("LOCAL_RANK"):
        local = int(env["LOCAL_RANK"])
        node = _node_rank(env)
        if node == 0:
            return local
        per_node = int(env.get("LOCAL_WORLD_SIZE") or env.get("WORLD_SIZE") or 1)
        return node * max(1, per_node) + local
    for key in ("SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if env.get(key):
            return int(env[key])
    return 0


def is_global_zero(environ: Mapping[str, str] | None = None) -> bool:
    """True in the one process that writes files (global rank 0, or no launcher)."""
    return rank(environ) == 0


def _node_rank(env: Mapping[str, str]) -> int:
    return int(env.get("NODE_RANK") or env.get("GROUP_RANK") or 0)


def _visible_gpus() -> int:
    # Local import (start-up time): the CLI registers its flags without loading torch.
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 1
