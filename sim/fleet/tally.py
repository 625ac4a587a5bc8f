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
    site_power_w: dict[str, float] = field(default_factory=dict)
    """Load management runs: the power of each site's stations at the end of the second."""
    site_peak_w: dict[str, float] = field(default_factory=dict)
    """The most power each site's stations drew at once during the second (every change of a
    station's power is seen, not only the end of the second)."""


@dataclass(slots=True)
class LoadCounts:
    """What a load run measures on top of the fleet's totals (`sim.fleet.load`).

    Two rules decide what is measured inside the window (``time.monotonic()`` seconds):
    throughput (``messages``, ``by_action``) counts CALLRESULTs *received* in it, so it matches
    server CPU time sampled over the same window; latency, errors and timeouts cover CALLs
    *scheduled* in it, including answers that arrive after it, so a server that falls behind
    cannot hide its backlog.
    """

    window_start: float = float("inf")
    window_end: float = float("inf")
    booted: int = 0
    """Stations whose BootNotification was accepted and whose status reports were answered."""
    connect_started_at: float | None = None
    """``time.monotonic()`` when the first station began to connect."""
    last_booted_at: float | None = None
    boot_failures: Counter[str] = field(default_factory=Counter)
    """Stations that did not boot, by reason."""
    messages: int = 0
    by_action: Counter[str] = field(default_factory=Counter)
    latency: Histogram = field(default_factory=Histogram)
    """Milliseconds from the scheduled send to the answer, of the CALLs scheduled in the window."""
    errors: Counter[str] = field(default_factory=Counter)
    """CALLERRORs by code."""
    timeouts: int = 0
    unsent: int = 0
    """Rate mode: CALLs scheduled in the window that were never sent."""
    disconnects: int = 0
    """Connections the server closed while the station's traffic ran."""
    transactions: list[tuple[str, str]] = field(default_factory=list)
    """(station, transaction id) of every transaction the server answered for, idle mode."""
    lost: Counter[str] = field(default_factory=Counter)
    """Idle mode: connections lost, by websocket close code."""
    back_at: list[float] = field(default_factory=list)
    """Idle mode with reconnect: ``time.monotonic()`` at which stations were back."""
    reconnect_failures: Counter[str] = field(default_factory=Counter)
    """Failed reconnect attempts by reason."""

    def in_window(self, at: float) -> bool:
        return self.window_start <= at < self.window_end

    def result(self, action: str, scheduled_at: float, received_at: float) -> None:
        """A CALLRESULT arrived at ``received_at`` for a CALL scheduled at ``scheduled_at``."""
        if self.in_window(received_at):
            self.messages += 1
            self.by_action[action] += 1
        if self.in_window(scheduled_at):
            self.latency.add((received_at - scheduled_at) * 1000.0)

    def failure(self, kind: str, scheduled_at: float) -> None:
        """A CALL scheduled at ``scheduled_at`` got a CALLERROR (``kind`` its code), no answer in
        time (``timeout``) or lost its connection (``disconnect``: counted once, elsewhere)."""
        if not self.in_window(scheduled_at) or kind == "disconnect":
            return
        if kind == "timeout":
            self.timeouts += 1
        else:
            self.errors[kind] += 1

    def merge(self, other: LoadCounts) -> None:
        """Add another worker's counts (the window is the same for every worker)."""
        self.window_start, self.window_end = other.window_start, other.window_end
        self.booted += other.booted
        if other.connect_started_at is not None:
            self.connect_started_at = min(
                self.connect_started_at or other.connect_started_at, other.connect_started_at
            )
        if other.last_booted_at is not None:
            self.last_booted_at = max(self.last_booted_at or 0.0, other.last_booted_at)
        self.boot_failures.update(other.boot_failures)
        self.messages += other.messages
        self.by_action.update(other.by_action)
        self.latency.merge(other.latency)
        self.errors.update(other.errors)
        self.timeouts += other.timeouts
        self.unsent += other.unsent
        self.disconnects += other.disconnects
        self.transactions.extend(other.transactions)
        self.lost.update(other.lost)
        self.back_at.extend(other.back_at)
        self.reconnect_failures.update(other.reconnect_failures)


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
    load: LoadCounts = field(default_factory=LoadCounts)
    """Only load runs write it."""
    site_power: dict[str, dict[str, float]] = field(default_factory=dict)
    """Site -> station -> the station's simulated power now, W (stations of a site only)."""
    _site_total: dict[str, float] = field(default_factory=dict)
    _site_peak: dict[str, float] = field(default_factory=dict)
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

    def set_power(self, site: str, station_id: str, watts: float) -> None:
        """A station of ``site`` draws ``watts`` from now on."""
        stations = self.site_power.setdefault(site, {})
        total = self._site_total.get(site, 0.0) + watts - stations.get(station_id, 0.0)
        stations[station_id] = watts
        self._site_total[site] = total
        self._site_peak[site] = max(self._site_peak.get(site, 0.0), total)

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
            site_power_w={site: sum(p.values()) for site, p in self.site_power.items()},
            site_peak_w=dict(self._site_peak),
        )
        # The next second's peak starts from the power drawn now; the running totals start
        # again from the exact sums, so that rounding does not add up over a long run.
        self._site_total = {site: sum(p.values()) for site, p in self.site_power.items()}
        self._site_peak = dict(self._site_total)
        self._second_messages = 0
        self._second_errors = 0
        self._second_latency = Histogram()
        return snap
