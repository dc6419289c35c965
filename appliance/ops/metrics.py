"""Prometheus metrics, computed when scraped from the live state (no globals)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from appliance.box import Box


class _SyncCollector(Collector):
    def __init__(self, box: Box) -> None:
        self.state = box

    def collect(self) -> Iterator[Metric]:
        replica = self.state.replica
        docs = GaugeMetricFamily("konferenco_sync_documents", "Documents loaded in memory")
        docs.add_metric([], len(replica.loaded()))
        yield docs
        sessions = GaugeMetricFamily("konferenco_sync_sessions", "Connected sync peers", labels=["document"])
        for doc, peers in self.state.sync.connected().items():
            sessions.add_metric([doc], len(peers))
        yield sessions
        pending = GaugeMetricFamily(
            "konferenco_sync_unacknowledged_updates",
            "Local updates a peer has not acknowledged",
            labels=["peer"],
        )
        for peer in replica.acks.peers():
            pending.add_metric([peer], sum(p.count for p in replica.acks.pending_all(peer).values()))
        yield pending
        catching_up = GaugeMetricFamily(
            "konferenco_sync_catching_up_changes", "Changes received from peers and not yet projected"
        )
        catching_up.add_metric([], sum(replica.catch_up().values()))
        yield catching_up
        unloaded = CounterMetricFamily(
            "konferenco_sync_documents_unloaded", "Idle documents dropped from memory (reloaded on use)"
        )
        unloaded.add_metric([], replica.unloaded)
        yield unloaded
        backlog = GaugeMetricFamily(
            "konferenco_sqlite_backlog", "Jobs waiting for the SQLite writer", labels=["lane"]
        )
        for lane, waiting in zip(("foreground", "background"), self.state.writer.backlog(), strict=True):
            backlog.add_metric([lane], waiting)
        yield backlog
        commits = GaugeMetricFamily("konferenco_sqlite_commits", "Commits by the SQLite writer")
        commits.add_metric([], self.state.writer.commits)
        yield commits
        scans = CounterMetricFamily(
            "konferenco_scans", "Scans decided and recorded by this appliance", labels=["result"]
        )
        for result, count in sorted(self.state.checkin.results.items()):
            scans.add_metric([result], count)
        yield scans


class _GrassrootsCollector(Collector):
    """Grassroots steps done on this box, and the event's proposals by status (all boxes' proposals)."""

    def __init__(self, box: Box) -> None:
        self.state = box

    def collect(self) -> Iterator[Metric]:
        grassroots = self.state.grassroots
        steps = CounterMetricFamily(
            "konferenco_grassroots_steps",
            "Grassroots steps done on this appliance (proposed, approved, scheduled, rejected, withdrawn, "
            "cancelled, edited)",
            labels=["step"],
        )
        for step, count in sorted(grassroots.steps.items()):
            steps.add_metric([step], count)
        yield steps
        proposals = GaugeMetricFamily(
            "konferenco_grassroots_proposals", "Grassroots proposals by status", labels=["event", "status"]
        )
        for event in self.state.config.events:
            for status, count in grassroots.status_counts(event).items():
                proposals.add_metric([event, status], count)
        yield proposals


def render_metrics(box: Box) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SyncCollector(box))
    registry.register(_GrassrootsCollector(box))
    return generate_latest(registry)
