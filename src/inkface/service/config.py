"""Every limit and knob of the service, with its default, in one frozen object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from inkface.core.errors import InkfaceError
from inkface.core.images import MAX_PIXELS

MIB = 1024 * 1024


def default_threads() -> int:
    """Inference threads when none are given: the cores, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class ServiceConfig:
    """What ``inkface serve`` is told; defaults are the documented limits.

    * ``max_body_bytes``: request bodies above it get 413 before they are read whole;
    * ``max_pending``: inference requests admitted at once (computing or queued); one
      more gets 503 with ``Retry-After`` (the queue is bounded, memory too);
    * ``threads``: the inference thread pool; each model runs one intra-op thread per
      call, so ``threads`` calls run side by side without oversubscribing the cores;
    * ``batch_wait_ms`` / ``max_batch``: micro-batching per face head: faces of
      requests that arrive within the wait are classified in one call. Off (0) by
      default: on a CPU a batch of k faces costs k single calls (measured: smile CNN
      17 ms per face at batch 1, 4 and 16 on ONNX Runtime; MobileNetV2 9, 10, 16 ms), so
      waiting only adds latency; it pays where a call has a large fixed cost (a GPU);
    * ``max_pixels``: pixels per uploaded image, read from its header before decoding
      (with ``max_pending`` it bounds the memory held by decoded images);
    * ``max_images``: images per ``analyze-batch`` request;
    * ``max_references``: reference signatures per verification;
    * ``token``: bearer token for every ``/v1`` route and ``/metrics`` (None: open);
    * ``cors_origins``: origins allowed by CORS (empty: CORS off).
    """

    max_body_bytes: int = 10 * MIB
    max_pending: int = 32
    threads: int = field(default_factory=default_threads)
    batch_wait_ms: float = 0.0
    max_batch: int = 32
    max_images: int = 16
    max_pixels: int = 16_000_000
    max_references: int = 10
    retry_after_s: int = 1
    token: str | None = None
    cors_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        checks = {
            "max_body_bytes": self.max_body_bytes >= 1024,
            "max_pending": self.max_pending >= 1,
            "threads": self.threads >= 1,
            "batch_wait_ms": 0 <= self.batch_wait_ms <= 1000,
            "max_batch": self.max_batch >= 1,
            "max_images": self.max_images >= 1,
            "max_pixels": 1 <= self.max_pixels <= MAX_PIXELS,
            "max_references": self.max_references >= 1,
            "retry_after_s": self.retry_after_s >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InkfaceError(f"{name}: out of range ({getattr(self, name)!r})")
        if self.token is not None and len(self.token) < 8:
            raise InkfaceError("token: use at least 8 characters")

    @property
    def batching(self) -> bool:
        return self.batch_wait_ms > 0 and self.max_batch > 1
