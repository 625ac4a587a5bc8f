"""Prometheus metrics of one node, read from live state at scrape time (nothing on the message path
but a dictionary increment)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from persistence.writer import WriterStats


@dataclass(slots=True)
class NodeGauges:
    """Callables that read the node's live state."""

    connected_stations: Callable[[], int]
    active_sessions: Callable[[], int]
    writer: WriterStats
    calls: Counter[tuple[str, str]]
    """(action, outcome) -> count of charger-initiated calls answered."""
    violations: Counter[str]
    """Wire error code -> count of protocol violations by chargers."""


class NodeCollector(Collector):
    def __init__(self, gauges: NodeGauges) -> None:
        self._g = gauges

    def collect(self) -> Iterator[Metric]:
        g = self._g
        yield GaugeMetricFamily(
            "voltmesh_connected_stations", "Stations connected to this node", g.connected_stations()
        )
        yield GaugeMetricFamily(
            "voltmesh_active_sessions",
            "Transactions with a live session actor",
            g.active_sessions(),
        )
        for name, value, text in (
            ("commits", g.writer.commits, "Group commits"),
            ("ops", g.writer.ops, "Write operations committed"),
            ("failures", g.writer.failures, "Submissions that failed"),
            ("retries", g.writer.retries, "Transactions retried after a lost connection"),
        ):
            yield CounterMetricFamily(f"voltmesh_writer_{name}", text, value)
        calls = CounterMetricFamily(
            "voltmesh_ocpp_calls", "Charger calls answered", labels=["action", "outcome"]
        )
        for (action, outcome), count in sorted(g.calls.items()):
            calls.add_metric([action, outcome], count)
        yield calls
        violations = CounterMetricFamily(
            "voltmesh_ocpp_protocol_violations", "Malformed or invalid frames", labels=["code"]
        )
        for code, count in sorted(g.violations.items()):
            violations.add_metric([code], count)
        yield violations


def node_registry(gauges: NodeGauges) -> CollectorRegistry:
    """A registry of its own per node, so that several nodes in one process do not collide."""
    registry = CollectorRegistry()
    registry.register(NodeCollector(gauges))
    ProcessCollector(registry=registry)
    return registry
