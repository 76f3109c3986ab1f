"""One index space over several preprocessed datasets (stacked in plan order)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inkface.core.errors import InkfaceError


class ImageBank:
    """Gathers rows from several (memory-mapped) uint8 arrays as if they were one.

    Global index ``i`` addresses dataset ``k`` where ``offsets[k] <= i < offsets[k+1]``,
    the same order :func:`inkface.signatures.data.plans.plan_pairs` numbers images in.
    """

    def __init__(self, arrays: Sequence[np.ndarray]) -> None:
        if not arrays:
            raise InkfaceError("an image bank needs at least one dataset")
        shapes = {a.shape[1:] for a in arrays}
        if len(shapes) != 1:
            raise InkfaceError(f"datasets were preprocessed to different sizes: {shapes}")
        self.arrays = list(arrays)
        self.offsets = np.cumsum([0, *(len(a) for a in arrays)])
        self.image_shape: tuple[int, ...] = next(iter(shapes))

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def take(self, indices: np.ndarray) -> np.ndarray:
        """uint8 (len(indices), H, W) rows, in the order asked for."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(self.arrays) == 1:
            return np.asarray(self.arrays[0][indices])
        out = np.empty((len(indices), *self.image_shape), dtype=np.uint8)
        which = np.searchsorted(self.offsets, indices, side="right") - 1
        for k in np.unique(which):
            mask = which == k
            out[mask] = self.arrays[k][indices[mask] - self.offsets[k]]
        return out
