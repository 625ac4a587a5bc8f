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
from sim.fleet.plan import fleet, stream
from sim.fleet.results import SessionRecord, Violation
from sim.fleet.station import SimStation
from sim.fleet.tally import FleetTally, Snapshot

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
) -> WorkerFinal:
    """Run the worker's stations until ``timing.stop_at``; ``report`` gets a snapshot a second."""
    cpu_start = time.process_time()
    specs = [s for s in fleet(scenario) if s.index % scenario.workers == worker]
    clock = SimClock(scenario.start, scenario.acceleration, origin=timing.origin)
    tally = FleetTally()
    records: list[SessionRecord] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
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
        ticker = asyncio.create_task(_tick(tally, timing, report))
        try:
            async with asyncio.TaskGroup() as group:
                for station in stations:
                    group.create_task(station.run(timing.stop_at), name=station.id)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
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


def worker_process(scenario: Scenario, worker: int, timing: Timing, pipe: Any) -> None:
    """Entry point of a worker process: snapshots and the final tally go through ``pipe``."""
    from sim.fdlimit import raise_open_file_limit

    raise_open_file_limit()
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            final = runner.run(run_worker(scenario, worker, timing, pipe.send))
        pipe.send(final)
    except BaseException as exc:
        pipe.send(RuntimeError(f"worker {worker} failed: {exc!r}"))
        raise
    finally:
        pipe.close()
