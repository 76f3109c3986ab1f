"""Signature verification, identification and the enrolment gallery for the service.

Verification and closed-set identification are stateless and run in the shared worker
pool. The gallery is one SQLite file whose connection belongs to one thread:
:class:`GalleryDesk` runs every gallery operation (embedding included) on its own
single worker thread, so changes are serialised, each in one transaction (the same
guarantees as ``inkface gallery``), and searches reuse the cached embedding matrix.
The file is created by the first successful enrolment, never by a read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from inkface.core.errors import InkfaceError
from inkface.service.errors import ApiError
from inkface.service.uploads import Upload
from inkface.signatures.identification.gallery import Gallery, open_gallery
from inkface.signatures.identification.gallery_store import GalleryLockedError
from inkface.signatures.identification.predictor import WriterClassifier
from inkface.signatures.verification.embedder import Embedder
from inkface.signatures.verification.verifier import Verifier

T = TypeVar("T")


def verify_signatures(
    verifier: Verifier,
    references: Sequence[Upload],
    questioned: Upload,
    operating_point: str | None = None,
) -> dict[str, Any]:
    """``inkface verify``'s result for uploaded images (file names instead of paths)."""
    refs = [upload.decode("grey") for upload in references]
    query = questioned.decode("grey")
    if operating_point is None:
        result = verifier.verify(refs, query)
    else:
        result = verifier.verify(refs, query, operating_point=operating_point)
    out = result.as_dict()
    out["references"] = [upload.name for upload in references]
    out["questioned"] = questioned.name
    return out


def classify_writer(classifier: WriterClassifier, upload: Upload, top_k: int) -> dict[str, Any]:
    """The closed-set writer CNN's ranking, in the gallery's response shape."""
    (prediction,) = classifier.predict([upload.decode("grey")])
    return {
        "method": "classifier",
        "decision": prediction.writer,
        "threshold": None,
        "candidates": [
            {"writer": c.writer, "score": c.probability, "distance": None}
            for c in prediction.candidates[:top_k]
        ],
    }


class GalleryDesk:
    """The service's gallery: one file, one model, one thread (module docstring)."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        self.path = path
        self.embedder = embedder
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="gallery")
        self._gallery: Gallery | None = None

    async def call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    def open_existing(self) -> None:
        """Check an existing file now (foreign file, other model: fail at start)."""
        self._thread.submit(self._open, False).result()

    def _open(self, create: bool) -> Gallery | None:
        if self._gallery is None:
            exists = self.path.is_file() and self.path.stat().st_size > 0
            if not exists and not create:
                return None
            self._gallery = open_gallery(self.path, self.embedder, create=create)
        return self._gallery

    def _names(self, gallery: Gallery | None) -> list[str]:
        return [str(w["writer"]) for w in gallery.writers()] if gallery else []

    # -- operations (each runs on the gallery thread) -----------------------------------
    def writers(self) -> list[dict[str, object]]:
        gallery = self._open(create=False)
        return gallery.writers() if gallery else []

    def enrol(self, writer: str, uploads: Sequence[Upload]) -> int:
        images = [upload.decode("grey") for upload in uploads]  # refused before any write
        gallery = self._open(create=True)
        assert gallery is not None
        try:
            return gallery.enrol(writer, images)
        except GalleryLockedError as exc:  # another process is changing the file
            raise ApiError(503, str(exc), headers={"Retry-After": "1"}) from None
        except InkfaceError as exc:
            raise ApiError(422, str(exc)) from None

    def remove(self, writer: str) -> int:
        gallery = self._open(create=False)
        if writer not in self._names(gallery):
            raise ApiError(404, f"writer: no enrolled writer named {writer!r}")
        assert gallery is not None
        try:
            return gallery.remove(writer)
        except GalleryLockedError as exc:
            raise ApiError(503, str(exc), headers={"Retry-After": "1"}) from None

    def identify(self, upload: Upload, top_k: int) -> dict[str, Any]:
        gallery = self._open(create=False)
        if not self._names(gallery):
            raise ApiError(404, f"gallery {self.path.name}: no writers enrolled yet")
        assert gallery is not None
        found = gallery.identify(upload.decode("grey"), top_k=top_k).as_dict()
        return {
            "method": "gallery",
            "decision": found["decision"],
            "threshold": found["threshold"],
            "candidates": [
                {"writer": c["writer"], "score": c["similarity"], "distance": c["distance"]}
                for c in found["candidates"]
            ],
        }

    def close(self) -> None:
        def _close() -> None:
            if self._gallery is not None:
                self._gallery.close()
                self._gallery = None

        self._thread.submit(_close).result()
        self._thread.shutdown(wait=True)


async def in_pool(executor: Executor, fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
