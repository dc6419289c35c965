"""Prometheus metrics of a hub worker (each worker reports its own; scrape them all)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class _HubCollector(Collector):
    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        sessions = GaugeMetricFamily(
            "konferenco_hub_sync_sessions", "Connected sync peers", labels=["document"]
        )
        if self.state.sync is not None:
            for doc, peers in self.state.sync.connected().items():
                sessions.add_metric([doc], len(peers))
        yield sessions
        docs = GaugeMetricFamily("konferenco_hub_documents_loaded", "Documents held in memory")
        docs.add_metric([], len(self.state.replica.loaded()) if self.state.replica else 0)
        yield docs
        if self.state.pool is not None:
            pool = GaugeMetricFamily("konferenco_hub_db_pool_size", "PostgreSQL connections in the pool")
            pool.add_metric([], self.state.pool.get_size())
            yield pool


def render_metrics(state: Any) -> bytes:
    registry = CollectorRegistry()
    registry.register(_HubCollector(state))
    return generate_latest(registry)
