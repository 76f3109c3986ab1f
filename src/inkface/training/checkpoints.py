"""Lightning checkpoints of a run folder, read without running pickled code.

A run folder may be shared or downloaded, so ``checkpoints/*.ckpt`` are untrusted input:
every read here is ``torch.load(weights_only=True)`` (tensors, containers and plain
types only; a pickle that would run code is refused unread). Our checkpoints hold
nothing else, so no extra globals are allow-listed. Lightning's own resume also loads
the file: :func:`inkface.training.fit.fit` reads it here first (turning a bad file into
one line that suggests ``--no-resume``, and refusing another model's checkpoint before
any state-dict traceback) and then passes ``weights_only=True`` to ``Trainer.fit``, so
Lightning's second read is equally safe.

Two callbacks write the folder: ``best.ckpt`` follows the monitored metric, ``last.ckpt``
has no monitor and is rewritten after every epoch, so a resumed run continues from the
epoch it reached (one monitored callback with ``save_last`` only writes ``last.ckpt``
when the metric improves, and a resume then restarted from the best epoch).
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from inkface.core.errors import InkfaceError
from inkface.models.run import LOAD_ERRORS, UNSAFE_PICKLE, first_line, state_dict_mismatch

BEST_NAME = "best"
LAST_NAME = "last"
SUFFIX = ".ckpt"
NO_RESUME_HINT = "rerun with --no-resume to train afresh"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint as a dictionary with a ``state_dict`` of tensors; anything
    else is one InkfaceError naming the file and suggesting ``--no-resume``."""
    path = Path(path)
    reason = None
    checkpoint: Any = None
    if not zipfile.is_zipfile(path):
        reason = "not a PyTorch zip archive"
    else:
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            reason = UNSAFE_PICKLE
        except LOAD_ERRORS as exc:
            reason = first_line(exc)
    if reason is None and not (
        isinstance(checkpoint, dict)
        and isinstance(checkpoint.get("state_dict"), dict)
        and all(isinstance(v, torch.Tensor) for v in checkpoint["state_dict"].values())
    ):
        reason = "no state_dict of tensors"
    if reason is not None:
        raise InkfaceError(f"{path}: not a usable checkpoint ({reason}); {NO_RESUME_HINT}")
    return checkpoint


def check_fits(checkpoint: dict[str, Any], module: L.LightningModule, path: Path) -> None:
    """Refuse a checkpoint of another model (keys or shapes differ from ``module``)."""
    problem = state_dict_mismatch(module.state_dict(), checkpoint["state_dict"])
    if problem is not None:
        raise InkfaceError(
            f"{path}: a checkpoint of another model ({problem}); "
            f"train into another folder, or {NO_RESUME_HINT}"
        )


def load_weights(module: L.LightningModule, path: str | Path) -> None:
    """Load the weights of checkpoint ``path`` into ``module`` (read safely, checked)."""
    path = Path(path)
    checkpoint = read_checkpoint(path)
    check_fits(checkpoint, module, path)
    module.load_state_dict(checkpoint["state_dict"])


def checkpoint_callbacks(
    folder: Path, monitor: str, mode: Literal["min", "max"], save_last: bool
) -> tuple[ModelCheckpoint, ModelCheckpoint | None]:
    """The ``best`` callback (monitored) and, with ``save_last``, the ``last`` one (every
    epoch). Names never get a version suffix: the folder holds one run."""
    best = ModelCheckpoint(
        folder, BEST_NAME, monitor=monitor, mode=mode, enable_version_counter=False
    )
    last = (
        ModelCheckpoint(folder, LAST_NAME, monitor=None, enable_version_counter=False)
        if save_last
        else None
    )
    return best, last


def clear_checkpoints(folder: Path) -> None:
    """Remove this module's checkpoint files (only those: the folder may be the user's)."""
    for name in (BEST_NAME, LAST_NAME):
        (folder / f"{name}{SUFFIX}").unlink(missing_ok=True)


@dataclass(frozen=True)
class SavedProgress:
    """What a ``last.ckpt`` says about its run: epochs completed, whether early stopping
    ended it, and the best monitored score so far."""

    epochs: int
    stopped_early: bool
    best_score: float | None

    def finished(self, max_epochs: int) -> bool:
        """True when resuming with ``max_epochs`` would train no further epoch."""
        return self.stopped_early or self.epochs >= max_epochs


def saved_progress(checkpoint: dict[str, Any], monitor: str) -> SavedProgress:
    """Read :class:`SavedProgress` from a loaded ``last.ckpt``.

    Lightning stores the epoch index at the end of which it saved; early stopping
    records a non-zero ``stopping_reason`` (older Lightning: ``stopped_epoch``) in its
    callback state (a resumed Lightning run would otherwise train on past it).
    """
    states = checkpoint.get("callbacks") or {}
    stopped = any(
        str(key).startswith("EarlyStopping")
        and (bool(state.get("stopping_reason")) or bool(state.get("stopped_epoch")))
        for key, state in states.items()
        if isinstance(state, dict)
    )
    best = None
    for key, state in states.items():
        if not (str(key).startswith("ModelCheckpoint") and isinstance(state, dict)):
            continue
        if state.get("monitor") == monitor and state.get("best_model_score") is not None:
            best = float(torch.as_tensor(state["best_model_score"]))
    return SavedProgress(int(checkpoint.get("epoch", -1)) + 1, stopped, best)
