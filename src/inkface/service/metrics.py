"""Prometheus metrics of one app (its own registry: two apps in a process never mix).

Request counts and latency histograms per route template (``/v1/faces/analyze``, not
the raw URL, so a scanner cannot blow up the label set), faces per request, requests
in flight (the admission queue's depth) and the size of each micro-batch per head.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """The metric families the service exports at ``GET /metrics``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "inkface_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "inkface_request_seconds",
            "Request latency by route template",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.faces = Histogram(
            "inkface_faces_per_request",
            "Faces found per face-analysis request",
            buckets=(0, 1, 2, 3, 5, 8, 13, 21, 50),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "inkface_inference_in_flight",
            "Inference requests admitted and not finished (the queue depth)",
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "inkface_batch_size",
            "Inputs per model call, by model (micro-batching merges requests)",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
