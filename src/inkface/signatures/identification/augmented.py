"""The identification paper's augmented training set, drawn on the fly.

Section III.A(a) of the paper grows each writer's 88 signatures to 2,000 with Keras'
ImageDataGenerator ("Through this method, 2000 images were created from 88 images of
each person"): :data:`PAPER_SAMPLES_PER_WRITER`, the setting runs on a real dataset use.
The count is a training setting (``samples_per_writer``, recorded in the run's
``recipe.yaml``), because it sets the cost of an epoch: generated fallbacks, which only
show the experiment working end to end, use :data:`SYNTHETIC_SAMPLES_PER_WRITER`.

Nothing is materialised: :class:`AugmentedImages` distorts a sample when it is asked for,
in the DataLoader's worker processes when there are any (:func:`loader_options`), with a
generator seeded by ``(seed, index)``. A sample is therefore the same in every epoch,
in every worker and for any number of workers, and a run is repeatable from its seed.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from inkface.core.errors import InkfaceError
from inkface.signatures.data.augment import TRAIN_RANGES, AffineRanges, distort

PAPER_SAMPLES_PER_WRITER = 2000  # section III.A(a): 88 signatures -> 2,000 per writer
# Generated fallbacks are dry runs: about the 53 training signatures of a generated
# writer (60 % of 88) plus a few distorted ones keeps a CPU epoch of every model short.
SYNTHETIC_SAMPLES_PER_WRITER = 64


def sample_sources(labels: np.ndarray, samples_per_writer: int | None) -> np.ndarray:
    """The image behind every sample: each image once, then each writer's images again
    in turn until that writer has ``samples_per_writer`` samples (a writer with more
    images keeps them all; ``None``: each image once). The first ``len(labels)``
    samples are the images themselves, the rest are to be distorted."""
    if samples_per_writer is not None and samples_per_writer < 1:
        raise InkfaceError(f"samples_per_writer: must be >= 1, got {samples_per_writer}")
    parts = [np.arange(len(labels), dtype=np.int64)]
    if samples_per_writer is not None:
        for writer in np.unique(labels):
            own = np.flatnonzero(labels == writer)
            if samples_per_writer > len(own):
                parts.append(np.resize(own, samples_per_writer - len(own)))  # cycles
    return np.concatenate(parts)


class AugmentedImages(Dataset):
    """``samples_per_writer`` samples of each writer (see :func:`sample_sources`): its
    images as they are, then Keras-style distortions of them (``ranges``), each fixed by
    ``(seed, index)``; ``samples_per_writer=None`` gives each image once, clean."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        samples_per_writer: int | None = None,
        ranges: AffineRanges | None = TRAIN_RANGES,
        seed: int = 0,
    ) -> None:
        self.images, self.labels, self.ranges, self.seed = images, labels, ranges, seed
        self.sources = sample_sources(labels, samples_per_writer)

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        source = int(self.sources[index])
        image = self.images[source]
        if self.ranges is not None and index >= len(self.images):
            image = distort(image, self.ranges, np.random.default_rng((self.seed, index)))
        return (
            torch.from_numpy(np.ascontiguousarray(image)).unsqueeze(0),
            torch.tensor(int(self.labels[source])),
        )


def _single_threaded_worker(_: int) -> None:
    """A DataLoader worker runs OpenCV and PyTorch on one thread each: the workers
    share the cores with the training process."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def loader_options(workers: int) -> dict[str, Any]:
    """DataLoader keywords for ``workers`` augmenting processes (0: in this process).

    Workers are spawned, not forked: a fork of a process whose OpenCV thread pool has
    run can block forever at its first parallel call (see :mod:`inkface.core.parallel`).
    They persist across epochs, so the interpreter start-up is paid once per run.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise InkfaceError(f"workers: must be an integer >= 0, got {workers!r}")
    if workers == 0:
        return {}
    return {
        "num_workers": workers,
        "multiprocessing_context": "spawn",
        "persistent_workers": True,
        "worker_init_fn": _single_threaded_worker,
    }
