"""What a fleet run reports: the merged numbers of every worker, as the report writers take them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Interval:
    """The fleet during one second of the run (wall clock), merged over the workers."""

    t: float
    """Seconds since the run started."""
    connected: int
    """Stations with an open websocket at the end of the second."""
    active_sessions: int
    """Charging sessions in progress at the end of the second."""
    messages: int
    """CALLs the stations sent that got an answer (CALLRESULT or CALLERROR) in this second."""
    errors: int
    """CALLERRORs, timeouts, schema violations of responses and connection failures in it."""
    latency_p50_ms: float | None
    """Median answer latency of the CALLs answered in it; None when none were."""
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    energy_wh: float
    """Energy delivered by the whole fleet since the start, at the end of the second."""
    sessions_completed: int = 0
    """Sessions finished since the start, at the end of the second."""
    site_power_w: dict[str, float] = field(default_factory=dict)
    """Load management runs: each site's stations' simulated power at the end of the second."""
    site_peak_w: dict[str, float] = field(default_factory=dict)
    """The most each site's stations drew at once during the second (over several workers, the
    sum of their peaks: an upper bound)."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One charging session as the simulated station saw it."""

    station_id: str
    connector_id: int
    """EVSE / 1.6 connector number."""
    id_tag: str
    start: str
    """Simulated time, RFC 3339 UTC."""
    stop: str | None
    """Simulated time; None if still charging when the run ended."""
    energy_wh: float
    """Meter stop minus meter start (so far, if not stopped)."""
    transaction_id: str | None
    """The id the CSMS gave (1.6) or the station chose (2.x); None if never started."""
    protocol: str
    stop_reason: str | None
    """EVDeparted, EnergyReached, Remote, Reboot, ... None while charging."""


@dataclass(frozen=True, slots=True)
class Violation:
    """A response from the central system that breaks the official schema, or a CALLERROR."""

    station_id: str
    action: str
    """The CALL it answered."""
    kind: str
    """``schema`` (response breaks the schema) or the CALLERROR code."""
    detail: str
    """What was wrong (the validator's message or the CALLERROR description)."""


@dataclass(frozen=True, slots=True)
class SiteSample:
    """One second of one site: the power its stations drew against its limit."""

    t: float
    """Wall-clock seconds since the run started."""
    power_w: float
    """At the end of the second."""
    peak_w: float
    """The most drawn at once during the second."""
    limit_w: float


@dataclass(frozen=True, slots=True)
class SiteRun:
    """One site of a load management run, as the simulated stations saw it."""

    site_id: str
    name: str
    stations: int
    peak_power_w: float
    """The most power the site's stations drew at once over the run (every change seen)."""
    limit_at_peak_w: float
    """The site's limit at the moment of the peak."""
    seconds_over_limit: int
    """Seconds in which the stations drew more than the limit at some moment."""
    worst_excess_w: float
    """The most the power went over the limit (0 when it never did)."""
    connected_at: float | None = None
    """The second by which every station of the fleet had connected (None: never)."""
    steady_peak_w: float = 0.0
    """The peak after ``connected_at``: a station that starts a session as soon as it booted
    charges before the central system could give it any profile, which only the connection ramp
    of a run (or a site's power cut) has."""
    steady_seconds_over_limit: int = 0
    samples: list[SiteSample] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunReport:
    """Everything a fleet run measured."""

    scenario: str
    """Scenario name."""
    seed: int
    url: str
    """The central system driven."""
    stations: int
    """Stations in the fleet."""
    versions: dict[str, int]
    """Stations per OCPP version."""
    workers: int
    duration_s: float
    """Wall-clock length of the run."""
    acceleration: float
    """Simulated seconds per wall-clock second."""
    started_at: str
    """Wall-clock start, RFC 3339 UTC."""
    messages: int
    """CALLs answered over the whole run."""
    messages_by_action: dict[str, int]
    latency_ms: dict[str, float | None]
    """p50, p90, p95, p99, max of every answered CALL of the run."""
    errors_by_kind: dict[str, int]
    """CALLERROR codes, ``timeout``, ``schema``, ``connect``, ``disconnect`` -> count."""
    faults_injected: dict[str, int]
    """drop, reboot, offline, resend, malformed, schema_violation -> count."""
    csms_calls: dict[str, int]
    """CSMS-initiated actions the stations received -> count."""
    sessions_started: int
    sessions_completed: int
    energy_wh: float
    """Energy delivered by the fleet over the run."""
    peak_connected: int
    timeline: list[Interval] = field(default_factory=list)
    sessions: list[SessionRecord] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    """The first violations seen (bounded; the counts are in ``errors_by_kind``)."""
    extra: dict[str, Any] = field(default_factory=dict)
    sites: list[SiteRun] = field(default_factory=list)
    """Load management runs: each site's power against its limit."""
