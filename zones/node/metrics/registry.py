"""The counters and histograms of one zone, and their Prometheus text exposition.

Each zone has its own `CollectorRegistry` (tests run many zones in one
process). A zone of several workers runs in prometheus-client's multiprocess
mode: the supervisor gives every worker the same `PROMETHEUS_MULTIPROC_DIR`,
each worker's samples go to files there, and a scrape at any worker adds up
all of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Polls and forwards take from a millisecond (loopback) to the child timeout's seconds.
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A method label is one of these or "other": a caller's made-up methods make no new series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


class Metrics:
    """The metrics one zone records as it works."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.child_poll_seconds = self._histogram(
            "zones_child_poll_seconds", "How long a poll or watch round took, per child", ["child"]
        )
        self.forward_seconds = self._histogram(
            "zones_forward_seconds",
            "Calls forwarded to children, by outcome (answered, error, timeout, unreachable, lost)",
            ["child", "method", "outcome"],
        )
        self.request_seconds = self._histogram(
            "zones_http_request_seconds", "Requests served, by route template", ["method", "route"]
        )
        self.requests = Counter(
            "zones_http_requests",
            "Requests served, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.placements = Counter(
            "zones_placements",
            "Creates taken here, by where they went: local, child, error (kept with a fault) "
            "or unavailable (what may take it is down)",
            ["outcome"],
            registry=self.registry,
        )

    def _histogram(self, name: str, text: str, labels: list[str]) -> Histogram:
        return Histogram(name, text, labels, buckets=SECONDS_BUCKETS, registry=self.registry)

    def exposition(self, state: Iterable[Collector]) -> bytes:
        """The text format of every metric, with `state` read at this scrape beside them."""
        registry = self.registry
        directory = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
        if directory:  # every worker's samples, not only this one's
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        for collector in state:
            registry.register(collector)
        try:
            return generate_latest(registry)
        finally:
            for collector in state:
                registry.unregister(collector)


METRICS = web.AppKey("metrics", Metrics)
