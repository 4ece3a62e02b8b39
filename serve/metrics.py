"""The Prometheus metrics of the service (served at ``/metrics``): requests, latencies, batches, posts, errors."""

from __future__ import annotations

from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

ERROR_KINDS = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
               422: "validation", 499: "client_closed", 503: "unavailable"}
"""The ``kind`` label of ``cur_nlp_errors`` by status; other statuses count as ``internal`` (5xx) or ``client``."""


class Metrics:
    """Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("cur_nlp_requests", "HTTP requests by route, method and status.",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("cur_nlp_request_duration_seconds", "HTTP request latency by route.", ["route"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                                 registry=r)
        self.batch_size = Histogram("cur_nlp_batch_size", "Posts per model call (micro-batches).",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=r)
        self.batch_requests = Histogram("cur_nlp_batch_requests", "Requests merged into one model call.",
                                        buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.batch_latency = Histogram("cur_nlp_batch_duration_seconds", "Duration of one model call.",
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r)
        self.posts = Counter("cur_nlp_posts", "Posts classified, by outcome.", ["outcome"], registry=r)
        self.errors = Counter("cur_nlp_errors", "Error responses by kind.", ["kind"], registry=r)
        self.queue = Gauge("cur_nlp_queue_posts", "Posts waiting for the model.", registry=r)
        self.model = Info("cur_nlp_model", "The loaded model.", registry=r)

    def on_model(self, info: dict[str, str], queued: Callable[[], float]) -> None:
        """The model is loaded: record its name and version, and read the queue length from ``queued``."""
        self.model.info(info)
        self.queue.set_function(queued)

    def on_batch(self, items: int, jobs: int, seconds: float) -> None:
        """Batcher hook: one model call of ``items`` posts from ``jobs`` requests took ``seconds``."""
        self.batch_size.observe(items)
        self.batch_requests.observe(jobs)
        self.batch_latency.observe(seconds)

    def on_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered HTTP request (errors also counted by kind). The caller bounds the labels: ``route`` is a
        route of the app or ``other``, ``method`` a known method or ``other``."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status >= 400:
            self.errors.labels(ERROR_KINDS.get(status, "internal" if status >= 500 else "client")).inc()

    def on_post(self, empty: bool, truncated: bool) -> None:
        """One classified post, by outcome: ``empty``, ``truncated`` or ``ok``."""
        self.posts.labels("empty" if empty else "truncated" if truncated else "ok").inc()

    def render(self) -> bytes:
        """The text exposition format of every metric (the body of ``/metrics``)."""
        return generate_latest(self.registry)
