"""One worker of a fleet run: an event loop that runs its share of the stations as actors.

Station ``i`` of the fleet belongs to worker ``i % workers``. The worker owns every task it starts
(the stations in a task group, its ticker) and hands the parent a snapshot each second and its
totals and sessions at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from sim.fleet.clock import SimClock
from sim.fleet.load import EventLoop, LoadPlan, LoadStation, follow_phases
from sim.fleet.plan import fleet, stream
from sim.fleet.results import SessionRecord, Violation
from sim.fleet.station import SimStation
from sim.fleet.tally import FleetTally, LoadCounts, Snapshot

if TYPE_CHECKING:
    from sim.fleet.scenario import Scenario


@dataclass(frozen=True, slots=True)
class WorkerFinal:
    """What a worker counted over the whole run."""

    worker: int
    stations: int
    versions: dict[str, int]
    messages_by_action: dict[str, int]
    errors_by_kind: dict[str, int]
    faults: dict[str, int]
    csms_calls: dict[str, int]
    violations: list[Violation]
    latency: tuple[dict[int, int], int, float]
    peak_connected: int
    sessions_started: int
    sessions_completed: int
    energy_wh: float
    max_rss_mib: float
    """Peak resident memory of the worker's process."""
    cpu_s: float
    """CPU time the worker's process used over the run."""
    sessions: list[SessionRecord] = field(default_factory=list)
    load: LoadCounts | None = None
    """Load runs only: what the load stations measured."""


@dataclass(frozen=True, slots=True)
class Timing:
    """When the run starts and ends, as ``time.monotonic()`` instants (system-wide on Linux, so
    every worker process of one run shares them)."""

    origin: float
    """Simulated time starts here."""
    stop_at: float
    ramp: float
    """Wall-clock seconds over which the stations' first connections are spread."""


async def run_worker(
    scenario: Scenario,
    worker: int,
    timing: Timing,
    report: Callable[[Snapshot], None],
    load: LoadPlan | None = None,
) -> WorkerFinal:
    """Run the worker's stations until ``timing.stop_at``; ``report`` gets a snapshot a second.
    With ``load``, the stations are load stations (`sim.fleet.load`) and the final tally carries
    their `LoadCounts`."""
    cpu_start = time.process_time()
    specs = [s for s in fleet(scenario) if s.index % scenario.workers == worker]
    clock = SimClock(scenario.start, scenario.acceleration, origin=timing.origin)
    tally = FleetTally()
    records: list[SessionRecord] = []
    tls = None if load is None else load.shape.ssl_context()
    connector = aiohttp.TCPConnector(limit=0, force_close=False, ssl=True if tls is None else tls)
    sock_connect = 10.0 if load is None else load.shape.call_timeout
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=sock_connect)
    go = asyncio.Event()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        stations: list[SimStation]
        if load is None:
            stations = [
                SimStation(
                    spec,
                    scenario,
                    clock,
                    tally,
                    http,
                    records,
                    start_delay=max(0.0, timing.origin - time.monotonic())
                    + stream(scenario.seed, spec.station_id, "start").uniform(0, timing.ramp),
                )
                for spec in specs
            ]
        else:
            boot_deadline = (
                timing.origin + load.shape.ramp_seconds(scenario.stations) + load.shape.boot_timeout
            )
            stations = [
                LoadStation(
                    spec,
                    scenario,
                    clock,
                    tally,
                    http,
                    records,
                    plan=load,
                    go=go,
                    boot_deadline=boot_deadline,
                )
                for spec in specs
            ]
        tasks: list[asyncio.Task[None]] = []
        ticker = asyncio.create_task(_tick(tally, timing, report))
        watcher = (
            None
            if load is None
            else asyncio.create_task(follow_phases(load.phases, tally.load, go, tasks))
        )
        try:
            async with asyncio.TaskGroup() as group:
                for station in stations:
                    tasks.append(group.create_task(station.run(timing.stop_at), name=station.id))
        finally:
            for task in (ticker, watcher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
    versions: dict[str, int] = {}
    for spec in specs:
        versions[spec.version] = versions.get(spec.version, 0) + 1
    return WorkerFinal(
        worker=worker,
        stations=len(specs),
        versions=versions,
        messages_by_action=dict(tally.messages_by_action),
        errors_by_kind=dict(tally.errors_by_kind),
        faults=dict(tally.faults),
        csms_calls=dict(tally.csms_calls),
        violations=tally.violations,
        latency=tally.latency.to_wire(),
        peak_connected=tally.peak_connected,
        sessions_started=tally.sessions_started,
        sessions_completed=tally.sessions_completed,
        energy_wh=tally.energy_wh,
        # Linux reports ru_maxrss in KiB.
        max_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        cpu_s=round(time.process_time() - cpu_start, 2),
        sessions=records,
        load=None if load is None else tally.load,
    )


async def _tick(tally: FleetTally, timing: Timing, report: Callable[[Snapshot], None]) -> None:
    """A snapshot at every whole second after the start of the run."""
    run_start = timing.origin
    second = 0
    while True:
        second += 1
        # Just before the whole second, so that the last one is taken before the stations close.
        await asyncio.sleep(max(0.0, run_start + second - 0.02 - time.monotonic()))
        report(tally.snapshot(second))


def worker_loop_factory(load: LoadPlan | None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed, unless the load run asks for asyncio's own loop (None)."""
    if load is not None and load.shape.event_loop is EventLoop.ASYNCIO:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def worker_process(
    scenario: Scenario, worker: int, timing: Timing, pipe: Any, load: LoadPlan | None = None
) -> None:
    """Entry point of a worker process: snapshots and the final tally go through ``pipe``."""
    from sim.fdlimit import raise_open_file_limit

    raise_open_file_limit()
    try:
        with asyncio.Runner(loop_factory=worker_loop_factory(load)) as runner:
            final = runner.run(run_worker(scenario, worker, timing, pipe.send, load))
        pipe.send(final)
    except BaseException as exc:
        pipe.send(RuntimeError(f"worker {worker} failed: {exc!r}"))
        raise
    finally:
        pipe.close()
