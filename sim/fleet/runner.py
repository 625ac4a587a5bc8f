"""A whole fleet run: id tags registered, workers started, their seconds merged into a timeline and
a live progress line, their totals into one ``RunReport``.

With one worker the fleet runs in this process (tests, small fleets); with more, each worker is a
process of its own (spawned: no event loop state is forked) that reports through a pipe. Spreading
over several machines takes the same shape: a worker per machine reporting to one parent, which is
what the Thespian layer of the server gives (one actor system per machine, workers placed by
capability); this runner keeps to one machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from sim.fleet.latency import Histogram
from sim.fleet.load import LoadPlan
from sim.fleet.results import Interval, RunReport, SiteRun, SiteSample
from sim.fleet.tally import LoadCounts, Snapshot
from sim.fleet.worker import Timing, WorkerFinal, run_worker, worker_process
from sim.netguard import ensure_target_allowed

if TYPE_CHECKING:
    from sim.fleet.scenario import Scenario

FINAL_TIMEOUT = 60.0
"""Wall-clock seconds a worker may take past the end of the run to close and report."""


@dataclass(slots=True)
class _Second:
    """The workers' snapshots of one second, merged as they come in."""

    messages: int = 0
    errors: int = 0
    latency: Histogram = field(default_factory=Histogram)
    connected: int = 0
    active_sessions: int = 0
    energy_wh: float = 0.0
    sessions_completed: int = 0
    reports: int = 0
    site_power_w: Counter[str] = field(default_factory=Counter)
    site_peak_w: Counter[str] = field(default_factory=Counter)

    def add(self, snapshot: Snapshot) -> None:
        self.messages += snapshot.messages
        self.errors += snapshot.errors
        self.latency.merge(Histogram.from_wire(snapshot.latency))
        self.connected += snapshot.connected
        self.active_sessions += snapshot.active_sessions
        self.energy_wh += snapshot.energy_wh
        self.sessions_completed += snapshot.sessions_completed
        self.site_power_w.update(snapshot.site_power_w)
        self.site_peak_w.update(snapshot.site_peak_w)
        self.reports += 1

    def interval(self, second: int) -> Interval:
        return Interval(
            t=float(second),
            connected=self.connected,
            active_sessions=self.active_sessions,
            messages=self.messages,
            errors=self.errors,
            latency_p50_ms=self.latency.percentile(50),
            latency_p95_ms=self.latency.percentile(95),
            latency_p99_ms=self.latency.percentile(99),
            energy_wh=self.energy_wh,
            sessions_completed=self.sessions_completed,
            site_power_w=dict(self.site_power_w),
            site_peak_w=dict(self.site_peak_w),
        )


class Timeline:
    """Seconds of all workers; a second is complete once every worker has reported it."""

    def __init__(self, workers: int, on_second: Callable[[Interval], None] | None) -> None:
        self._workers = workers
        self._on_second = on_second
        self._seconds: dict[int, _Second] = {}
        self._published = 0

    def add(self, snapshot: Snapshot) -> None:
        entry = self._seconds.setdefault(snapshot.second, _Second())
        entry.add(snapshot)
        while (
            self._published + 1 in self._seconds
            and self._seconds[self._published + 1].reports >= self._workers
        ):
            self._published += 1
            if self._on_second is not None:
                self._on_second(self._seconds[self._published].interval(self._published))

    def intervals(self) -> list[Interval]:
        return [self._seconds[s].interval(s) for s in sorted(self._seconds)]


ID_TAG_LENGTH = 20
"""The longest id tag (an IdToken is CiString20 in 1.6)."""
RUN_TAG_CHARACTERS = 6
"""Random hex characters a run adds to its id-tag prefix when it registers the tags."""


def with_run_id_tags(scenario: Scenario) -> Scenario:
    """A run that registers its driver pool in the central system gets tags of its own, which
    nobody can guess from the scenario file (the tags it registers are Accepted there until the
    run deletes them). Scenarios that register nothing keep their tags."""
    sessions = scenario.sessions
    room = ID_TAG_LENGTH - len(sessions.id_tag_prefix) - 5
    if not scenario.csms.api_url or room <= 0:
        return scenario
    random = secrets.token_hex(RUN_TAG_CHARACTERS)[: min(room, RUN_TAG_CHARACTERS)].upper()
    prefix = sessions.id_tag_prefix + random
    return dataclasses.replace(
        scenario, sessions=dataclasses.replace(sessions, id_tag_prefix=prefix)
    )


def _api_headers(scenario: Scenario) -> dict[str, str]:
    # A scenario without a token uses the service credential of the voltmesh it runs beside.
    token = scenario.csms.api_token or os.environ.get("VOLTMESH_API_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


async def _each_id_tag(scenario: Scenario, method: str, body: dict[str, str] | None) -> None:
    api_url = scenario.csms.api_url
    if not api_url:
        return
    headers = _api_headers(scenario)
    sessions = scenario.sessions
    async with aiohttp.ClientSession(headers=headers) as http:
        semaphore = asyncio.Semaphore(16)

        async def one(n: int) -> None:
            tag = sessions.id_tag(n)
            url = f"{api_url.rstrip('/')}/api/v1/id-tags/{tag}"
            async with semaphore, http.request(method, url, json=body) as response:
                if response.status >= 400 and not (method == "DELETE" and response.status == 404):
                    raise RuntimeError(f"{method} {tag}: HTTP {response.status}")

        await asyncio.gather(*(one(n) for n in range(sessions.id_tags)))


async def register_id_tags(scenario: Scenario) -> None:
    """Make the driver pool known to the CSMS through its REST API (when the scenario names it)."""
    await _each_id_tag(scenario, "PUT", {"status": "Accepted"})


async def unregister_id_tags(scenario: Scenario) -> None:
    """Delete the driver pool a run registered: nothing of the run stays Accepted there."""
    await _each_id_tag(scenario, "DELETE", None)


async def create_sites(scenario: Scenario) -> None:
    """Create the scenario's sites in the central system (``PUT /api/v1/sites/{id}``). Raises
    `SitesRefused` when the central system has no sites API or refuses one."""
    await _each_site(scenario, "PUT")


async def delete_sites(scenario: Scenario) -> None:
    """Delete the sites a run created (their stations' site profiles are cleared)."""
    await _each_site(scenario, "DELETE")


class SitesRefused(RuntimeError):
    """The central system did not take a site of the scenario."""


async def _each_site(scenario: Scenario, method: str) -> None:
    if not scenario.sites:
        return
    api_url = scenario.csms.api_url
    if not api_url:
        raise SitesRefused("a scenario with sites needs csms.api_url to create them")
    async with aiohttp.ClientSession(headers=_api_headers(scenario)) as http:
        for site in scenario.sites:
            url = f"{api_url.rstrip('/')}/api/v1/sites/{site.id}"
            body = site.body(scenario.site_members(site)) if method == "PUT" else None
            async with http.request(method, url, json=body) as response:
                if response.status >= 400 and not (method == "DELETE" and response.status == 404):
                    detail = (await response.text())[:300]
                    raise SitesRefused(f"{method} site {site.id}: HTTP {response.status} {detail}")


def site_runs(scenario: Scenario, timeline: list[Interval], origin: datetime) -> list[SiteRun]:
    """Each site's sampled power against its limit at the same moment. A site's schedule
    follows the central system's clock, which is the wall clock (``origin``: when the run's
    second 0 was), not the accelerated one of the stations."""
    runs: list[SiteRun] = []
    for site in scenario.sites:
        samples = [
            SiteSample(
                iv.t,
                iv.site_power_w.get(site.id, 0.0),
                iv.site_peak_w.get(site.id, 0.0),
                site.limit_w_at(origin + timedelta(seconds=iv.t)),
            )
            for iv in timeline
        ]
        peak = max(samples, key=lambda s: s.peak_w, default=SiteSample(0.0, 0.0, 0.0, 0.0))
        # A few milliwatts of rounding are not an excess.
        excess = [s.peak_w - s.limit_w for s in samples if s.peak_w > s.limit_w + 0.01]
        connected_at = next((iv.t for iv in timeline if iv.connected >= scenario.stations), None)
        steady = [s for s in samples if connected_at is not None and s.t > connected_at]
        runs.append(
            SiteRun(
                site_id=site.id,
                name=site.name or site.id,
                stations=len(scenario.site_members(site)),
                peak_power_w=round(peak.peak_w, 1),
                limit_at_peak_w=round(peak.limit_w, 1),
                seconds_over_limit=len(excess),
                worst_excess_w=round(max(excess, default=0.0), 1),
                connected_at=connected_at,
                steady_peak_w=round(max((s.peak_w for s in steady), default=0.0), 1),
                steady_seconds_over_limit=sum(s.peak_w > s.limit_w + 0.01 for s in steady),
                samples=samples,
            )
        )
    return runs


def _timing(scenario: Scenario) -> Timing:
    ramp = min(10.0, scenario.duration * 0.1)
    origin = time.monotonic() + 0.2
    return Timing(origin=origin, stop_at=origin + scenario.duration, ramp=ramp)


def run_fleet(
    scenario: Scenario,
    *,
    on_second: Callable[[Interval], None] | None = None,
    allow_remote: bool = False,
    load: LoadPlan | None = None,
    processes: bool | None = None,
) -> RunReport:
    """Run the scenario to its end and merge what the workers measured.

    With ``load`` the stations run that load shape (`sim.fleet.load`) and the report's
    ``extra["load"]`` holds the merged `LoadCounts`; such a run may end early, when the parent
    stops its phases. ``processes`` runs the workers as processes even when there is one (the
    default: only when there are several).
    """
    host = urlsplit(scenario.csms.url).hostname or ""
    ensure_target_allowed(host, allow_remote=allow_remote)
    started_at = datetime.now(UTC)
    scenario = with_run_id_tags(scenario)
    asyncio.run(register_id_tags(scenario))
    try:
        # Before any station connects, so that the first sessions already share the limits.
        asyncio.run(create_sites(scenario))
        timeline = Timeline(scenario.workers, on_second)
        timing = _timing(scenario)
        origin = datetime.now(UTC) + timedelta(seconds=timing.origin - time.monotonic())
        if not (scenario.workers > 1 if processes is None else processes):
            finals = [asyncio.run(run_worker(scenario, 0, timing, timeline.add, load))]
        else:
            finals = _run_processes(scenario, timing, timeline, load)
    finally:
        asyncio.run(delete_sites(scenario))
        asyncio.run(unregister_id_tags(scenario))
    report = _report(scenario, started_at, timing, timeline, finals)
    return dataclasses.replace(report, sites=site_runs(scenario, report.timeline, origin))


def _run_processes(
    scenario: Scenario, timing: Timing, timeline: Timeline, load: LoadPlan | None
) -> list[WorkerFinal]:
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    processes = []
    for worker in range(scenario.workers):
        parent_end, child_end = context.Pipe(duplex=False)
        process = context.Process(
            target=worker_process,
            args=(scenario, worker, timing, child_end, load),
            name=f"sim-worker-{worker}",
            daemon=True,
        )
        process.start()
        child_end.close()
        pipes.append(parent_end)
        processes.append(process)
    finals: list[WorkerFinal] = []
    open_pipes = list(pipes)
    deadline = timing.stop_at + FINAL_TIMEOUT
    try:
        while open_pipes and time.monotonic() < deadline:
            for ready in wait(open_pipes, timeout=1.0):
                assert isinstance(ready, Connection)
                try:
                    message: Any = ready.recv()
                except EOFError:
                    open_pipes.remove(ready)
                    continue
                if isinstance(message, Snapshot):
                    timeline.add(message)
                elif isinstance(message, WorkerFinal):
                    finals.append(message)
                    open_pipes.remove(ready)
                elif isinstance(message, BaseException):
                    raise message
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
    if len(finals) != scenario.workers:
        # A worker that died without a word (a signal, a crash inside the event loop) is known
        # only by its exit code: a negative one names the signal.
        codes = sorted({p.exitcode for p in processes if p.exitcode != 0}, key=str)
        raise RuntimeError(
            f"{scenario.workers - len(finals)} workers did not report (exit codes {codes})"
        )
    return finals


def _report(
    scenario: Scenario,
    started_at: datetime,
    timing: Timing,
    timeline: Timeline,
    finals: list[WorkerFinal],
) -> RunReport:
    def total(name: str) -> dict[str, int]:
        counter: Counter[str] = Counter()
        for final in finals:
            counter.update(getattr(final, name))
        return dict(sorted(counter.items()))

    latency = Histogram()
    for final in finals:
        latency.merge(Histogram.from_wire(final.latency))
    by_action = total("messages_by_action")
    extra: dict[str, Any] = {
        "simulator_workers": [
            {
                "worker": f.worker,
                "stations": f.stations,
                "max_rss_mib": f.max_rss_mib,
                "cpu_s": f.cpu_s,
            }
            for f in sorted(finals, key=lambda f: f.worker)
        ]
    }
    loads = [f.load for f in finals if f.load is not None]
    if loads:
        merged = LoadCounts()
        for counts in loads:
            merged.merge(counts)
        extra["load"] = merged
    sessions = sorted(
        (s for f in finals for s in f.sessions),
        key=lambda s: (s.start, s.station_id, s.connector_id),
    )
    return RunReport(
        scenario=scenario.name,
        seed=scenario.seed,
        url=scenario.csms.url,
        stations=sum(f.stations for f in finals),
        versions=total("versions"),
        workers=scenario.workers,
        duration_s=round(time.monotonic() - timing.origin, 3),
        acceleration=scenario.acceleration,
        started_at=started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        messages=sum(by_action.values()),
        messages_by_action=by_action,
        latency_ms=latency.summary(),
        errors_by_kind=total("errors_by_kind"),
        faults_injected=total("faults"),
        csms_calls=total("csms_calls"),
        sessions_started=sum(f.sessions_started for f in finals),
        sessions_completed=sum(f.sessions_completed for f in finals),
        energy_wh=round(sum(f.energy_wh for f in finals), 1),
        peak_connected=sum(f.peak_connected for f in finals),
        timeline=timeline.intervals(),
        sessions=sessions,
        violations=[v for f in finals for v in f.violations],
        extra=extra,
    )
