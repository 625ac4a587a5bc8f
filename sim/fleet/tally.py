"""The numbers one worker collects: totals for the run, and the last second's for the timeline."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sim.fleet.latency import Histogram
from sim.fleet.results import Violation

MAX_VIOLATIONS = 200
"""Violations listed per worker; beyond that they are only counted."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One second of one worker, sent to the parent."""

    second: int
    """Whole seconds since the run started."""
    messages: int
    errors: int
    latency: tuple[dict[int, int], int, float]
    """``Histogram.to_wire()`` of the CALLs answered in that second."""
    connected: int
    active_sessions: int
    energy_wh: float
    sessions_completed: int


@dataclass(slots=True)
class FleetTally:
    """Mutable counters of one worker; one event loop writes them."""

    messages_by_action: Counter[str] = field(default_factory=Counter)
    errors_by_kind: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    csms_calls: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    latency: Histogram = field(default_factory=Histogram)
    connected: int = 0
    peak_connected: int = 0
    active_sessions: int = 0
    sessions_started: int = 0
    sessions_completed: int = 0
    energy_wh: float = 0.0
    _second_messages: int = 0
    _second_errors: int = 0
    _second_latency: Histogram = field(default_factory=Histogram)

    def answered(self, action: str, latency_ms: float) -> None:
        self.messages_by_action[action] += 1
        self.latency.add(latency_ms)
        self._second_messages += 1
        self._second_latency.add(latency_ms)

    def error(self, kind: str, *, station_id: str = "", action: str = "", detail: str = "") -> None:
        """A CALLERROR (kind = its code), timeout, schema violation or connection failure."""
        self.errors_by_kind[kind] += 1
        self._second_errors += 1
        if action and len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(Violation(station_id, action, kind, detail[:500]))

    def connection_opened(self) -> None:
        self.connected += 1
        self.peak_connected = max(self.peak_connected, self.connected)

    def connection_closed(self) -> None:
        self.connected -= 1

    def snapshot(self, second: int) -> Snapshot:
        """The last second's numbers; starts the next second."""
        snap = Snapshot(
            second=second,
            messages=self._second_messages,
            errors=self._second_errors,
            latency=self._second_latency.to_wire(),
            connected=self.connected,
            active_sessions=self.active_sessions,
            energy_wh=self.energy_wh,
            sessions_completed=self.sessions_completed,
        )
        self._second_messages = 0
        self._second_errors = 0
        self._second_latency = Histogram()
        return snap
