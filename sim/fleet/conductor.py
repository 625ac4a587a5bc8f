"""A load run: a fleet of load stations (`sim.fleet.load`) run by `run_fleet`, and its phases
driven from the parent, with hooks at their boundaries (to sample or restart a server).

    result = run_load(LoadRun(port=9000, stations=1000), LoadShape(mode=LoadMode.SATURATE))

Phases: the stations connect (along the connect ramp) and boot; once every station has booted
(or the boot deadline has passed) ``on_fleet_ready`` runs, then the traffic starts for everyone at
once: ``warmup`` seconds unmeasured, ``duration`` seconds measured, with ``on_window_start`` and
``on_window_end`` at the window's ends. Idle runs then stop once the Heartbeats still out are
answered (they were scheduled in the window and count), or the call timeout has passed; with
``reconnect`` the window ends as soon as every booted station is back. The hooks run on a thread
of their own, so that a slow one (a server restart) never holds up the workers' reports.

A fleet on loopback larger than one source address's ephemeral ports connects from as many
loopback addresses as it needs (`sim.fleet.sources`), unless the shape names its own.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.fleet.figures import per_second
from sim.fleet.latency import Histogram
from sim.fleet.load import LoadMode, LoadPlan, LoadShape, Phases
from sim.fleet.results import RunReport
from sim.fleet.runner import run_fleet
from sim.fleet.scenario import Scenario, parse_scenario
from sim.fleet.sources import ephemeral_port_count, sources_for
from sim.fleet.tally import LoadCounts
from sim.netguard import ensure_target_allowed, resolves_to_loopback

POLL = 0.02
"""Seconds between the conductor's looks at the run's progress."""
LEAD_TIME = 0.1
"""Seconds between announcing the traffic and its start, so every worker starts on time."""
RUN_SLACK = 600.0
"""Seconds a run may last beyond its planned phases (hooks, drains) before it is cut."""
PROTOCOL_ERRORS = ("bad_frame", "unparsable_frame", "unmatched_answer", "schema")
"""The fleet tally's kinds that mean the server broke the protocol."""


@dataclass(frozen=True, slots=True)
class LoadHooks:
    """Callbacks run in the parent at phase boundaries (e.g. to sample a server)."""

    on_fleet_ready: Callable[[], None] | None = None
    """After every station has booted and before any traffic: the fleet is connected and idle."""
    on_window_start: Callable[[], None] | None = None
    on_window_end: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadRun:
    """Where and how large: the fleet of a load run."""

    port: int
    """OCPP websocket port of the server under test."""
    host: str = "127.0.0.1"
    path: str = "/ocpp/"
    """Stations connect to ``ws://host:port{path}{station id}`` (``wss://`` with the shape's
    ``tls_ca``)."""
    stations: int = 20
    workers: int = 1
    """Worker processes; station ``i`` runs in worker ``i % workers``."""
    protocol: str = "ocpp1.6"
    """The subprotocol every station offers."""
    prefix: str = "SIM"
    """Station ids are ``{prefix}-load-{index:05d}``."""
    warmup: float = 2.0
    """Seconds of traffic before the measured window."""
    duration: float = 10.0
    """Seconds of the measured window."""
    seed: int = 1
    allow_remote: bool = False
    """Allow a host that is not loopback."""

    def scenario(self, shape: LoadShape) -> Scenario:
        """The fleet scenario of this run: one model, no EV traffic, no faults."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        planned = (
            shape.ramp_seconds(self.stations)
            + shape.boot_timeout
            + self.warmup
            + self.duration
            + 2 * shape.call_timeout
        )
        return parse_scenario(
            {
                "name": "load",
                "seed": self.seed,
                "duration": planned + RUN_SLACK,
                "workers": self.workers,
                "station_prefix": self.prefix,
                "csms": {"url": f"{shape.scheme}://{host}:{self.port}{self.path.rstrip('/')}"},
                "fleet": [
                    {
                        "model": "load",
                        "count": self.stations,
                        "versions": {self.protocol: 1},
                        "evses": 2,
                    }
                ],
            },
            name="load",
        )


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one load run measured, over every worker."""

    mode: str
    offered_rate: float | None
    stations: int
    booted: int
    connect_seconds: float
    """From the start of the connect ramp until the last station had booted."""
    messages: int
    """CALLRESULTs received in the measured window."""
    duration: float
    msgs_per_s: float
    latency_ms: dict[str, float | None]
    """p50, p90, p95, p99 and max of the CALLs scheduled in the window (from the scheduled send)."""
    errors: dict[str, int]
    timeouts: int
    unsent: int
    boot_failures: dict[str, int]
    protocol_errors: dict[str, int]
    """Frames and answers from the server that broke the protocol, by kind."""
    disconnects: int
    server_calls: int
    """CALLs the central system sent to the stations."""
    by_action: dict[str, int]
    workers: int
    transactions: list[tuple[str, str]]
    """Idle mode: (station, transaction id) of every transaction the server answered for."""
    lost: dict[str, int]
    """Idle mode: connections lost, by close code."""
    back_at: list[float]
    """Idle mode with reconnect: sorted ``time.monotonic()`` at which stations were back."""
    reconnect_failures: dict[str, int]
    source_addresses: tuple[str, ...] = ()
    """The addresses the stations connected from; (): the kernel chose."""

    @property
    def failures(self) -> int:
        """Everything that went wrong: errors, timeouts, unsent CALLs, failed boots."""
        return (
            sum(self.errors.values())
            + self.timeouts
            + self.unsent
            + sum(self.boot_failures.values())
            + sum(self.protocol_errors.values())
            + self.disconnects
        )

    @property
    def clean(self) -> bool:
        """True when every station booted and nothing went wrong."""
        return self.booted == self.stations and self.failures == 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the monotonic times only mean something to the caller)."""
        data = {name: getattr(self, name) for name in self.__slots__}
        data["back_at"] = len(self.back_at)
        data["transactions"] = len(self.transactions)
        return data


def _wait_until(done: Callable[[], bool], deadline: float) -> None:
    while not done() and time.monotonic() < deadline:
        time.sleep(POLL)


def _call(hook: Callable[[], None] | None) -> None:
    if hook is not None:
        hook()


def _sleep_until(at: float) -> None:
    time.sleep(max(0.0, at - time.monotonic()))


def run_load(run: LoadRun, shape: LoadShape, hooks: LoadHooks | None = None) -> LoadResult:
    """Run one bounded load run and return what it measured.

    Raises `RemoteTargetRefused` for a non-loopback host without ``allow_remote``, and whatever a
    hook raised. Blocks for about ramp + boot + warm-up + duration.
    """
    ensure_target_allowed(run.host, allow_remote=run.allow_remote)
    shape = with_source_addresses(run, shape)
    hooks = hooks or LoadHooks()
    scenario = run.scenario(shape)
    phases = Phases()
    failure: list[BaseException] = []
    started = time.monotonic()
    boot_deadline = started + shape.ramp_seconds(run.stations) + shape.boot_timeout + 5.0

    def conduct() -> None:
        try:
            _wait_until(lambda: phases.booted() >= run.stations or phases.stopped(), boot_deadline)
            if phases.stopped():
                return
            _call(hooks.on_fleet_ready)
            traffic_at = time.monotonic() + LEAD_TIME
            window_start = traffic_at + run.warmup
            window_end = window_start + run.duration
            phases.start_traffic(traffic_at, window_start, window_end)
            _sleep_until(window_start)
            _call(hooks.on_window_start)
            if shape.reconnect:
                _wait_until(
                    lambda: phases.back() >= phases.booted() or phases.stopped(), window_end
                )
            else:
                _sleep_until(window_end)
            _call(hooks.on_window_end)
            if shape.mode is LoadMode.IDLE and not shape.reconnect:
                # Each station stops at the window's end once its Heartbeat is answered; the
                # workers end with their last station, and the run with them.
                _wait_until(phases.stopped, window_end + shape.call_timeout)
        except BaseException as exc:
            failure.append(exc)
            phases.stop()
        finally:
            if shape.mode is LoadMode.IDLE:
                phases.stop()

    conductor = threading.Thread(target=conduct, name="load-conductor", daemon=True)
    conductor.start()
    try:
        report = run_fleet(
            scenario,
            allow_remote=run.allow_remote,
            load=LoadPlan(shape, phases),
            processes=True,
        )
    finally:
        phases.stop()
        conductor.join()
    if failure:
        raise failure[0]
    return _result(run, shape, report, started)


def with_source_addresses(run: LoadRun, shape: LoadShape) -> LoadShape:
    """``shape`` with the loopback source addresses its fleet needs (`sim.fleet.sources`), when
    it names none and the target is loopback."""
    if shape.source_addresses or not resolves_to_loopback(run.host):
        return shape
    addresses = sources_for(run.stations, ephemeral_port_count())
    return dataclasses.replace(shape, source_addresses=addresses) if addresses else shape


def _result(run: LoadRun, shape: LoadShape, report: RunReport, started: float) -> LoadResult:
    counts: LoadCounts = report.extra["load"]
    latency = Histogram()
    latency.merge(counts.latency)
    first, last = counts.connect_started_at, counts.last_booted_at
    return LoadResult(
        mode=shape.mode.value,
        offered_rate=shape.rate if shape.mode is LoadMode.RATE else None,
        stations=run.stations,
        booted=counts.booted,
        connect_seconds=round(
            (last if last is not None else time.monotonic()) - (first or started), 3
        ),
        messages=counts.messages,
        duration=run.duration,
        msgs_per_s=round(per_second(counts.messages, run.duration) or 0.0, 1),
        latency_ms=latency.summary(),
        errors=dict(sorted(counts.errors.items())),
        timeouts=counts.timeouts,
        unsent=counts.unsent,
        boot_failures=dict(sorted(counts.boot_failures.items())),
        protocol_errors={
            kind: report.errors_by_kind[kind]
            for kind in PROTOCOL_ERRORS
            if report.errors_by_kind.get(kind)
        },
        disconnects=counts.disconnects,
        server_calls=sum(report.csms_calls.values()),
        by_action=dict(sorted(counts.by_action.items())),
        workers=run.workers,
        transactions=sorted(counts.transactions),
        lost=dict(sorted(counts.lost.items())),
        back_at=sorted(counts.back_at),
        reconnect_failures=dict(sorted(counts.reconnect_failures.items())),
        source_addresses=shape.source_addresses,
    )
