"""What one running app holds: its config, models, worker pool, batchers and gallery.

Created by :func:`inkface.service.create_app` and kept on ``app.state.service``; no
module-level state, so tests run several apps in one process.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fastapi import Request

from inkface.service.batching import MicroBatcher
from inkface.service.config import ServiceConfig
from inkface.service.limits import AdmissionGate
from inkface.service.loaded import LoadedModels
from inkface.service.metrics import ServiceMetrics
from inkface.service.signatures import GalleryDesk


@dataclass
class ServiceState:
    config: ServiceConfig
    models: LoadedModels
    metrics: ServiceMetrics
    executor: ThreadPoolExecutor
    gate: AdmissionGate
    gallery: GalleryDesk | None = None
    batchers: dict[str, MicroBatcher] = field(default_factory=dict)
    ready: bool = False
    detail: str = "warming up"

    def batcher(self, name: str) -> MicroBatcher:
        """The micro-batcher of face head ``name`` (made on first use, inside the loop)."""
        if name not in self.batchers:
            head = self.models.face_heads()[name]
            self.batchers[name] = MicroBatcher(
                head.predict_proba,
                self.executor,
                max_batch=self.config.max_batch,
                max_wait_s=self.config.batch_wait_ms / 1e3,
                slots=self.config.threads,
                on_batch=self.metrics.batch_size.labels(name).observe,
            )
        return self.batchers[name]


def service_of(request: Request) -> ServiceState:
    return request.app.state.service
