"""Load shapes over the fleet's stations: what the benchmarks drive instead of EV traffic.

A load station is a fleet station (`SimStation`: its link, dialect, mailbox and answers to the
CSMS) that, once booted, waits for the run's traffic phase and then sends what its shape asks for:

- ``saturate``: a closed loop, the next CALL as soon as the previous one is answered;
- ``rate``: an open loop, a fixed total rate spread evenly over the fleet; latency counts from the
  scheduled send time so a slow server cannot hide its queueing (coordinated omission);
- ``idle``: a Heartbeat every ``heartbeat_interval`` seconds; with ``reconnect``, a station whose
  connection is lost comes back without booting (a central system's restart is not a reboot)
  and is *back* once its first Heartbeat is answered.

Station ``i`` connects from the shape's source address ``i % len`` when it has any
(`sim.fleet.sources`), else from whatever address the kernel chooses.

The parent of the run (`sim.fleet.conductor`) decides when the traffic starts and when the run
stops, through `Phases`, which every worker process shares.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import math
import multiprocessing
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from sim.certs import client_context
from sim.fleet.link import CallFailed, Link
from sim.fleet.plan import StationSpec, stream
from sim.fleet.sources import SourceSessions, check_sources
from sim.fleet.station import CsmsCall, LinkLost, SimStation
from sim.traffic import HEARTBEAT, Request, SessionScript, fleet_id_tag, start_transaction

if TYPE_CHECKING:
    from sim.fleet.clock import SimClock
    from sim.fleet.results import SessionRecord
    from sim.fleet.scenario import Scenario
    from sim.fleet.tally import FleetTally, LoadCounts

PHASE_POLL = 0.02
"""Seconds between a worker's looks at the shared `Phases`."""


class LoadMode(enum.Enum):
    """How load stations pace their CALLs (see the module docstring)."""

    SATURATE = "saturate"
    RATE = "rate"
    IDLE = "idle"


class EventLoop(enum.Enum):
    """The event loop a load run's workers run on."""

    UVLOOP = "uvloop"
    """uvloop where installed (else asyncio's): the cheaper loop, so the load generator leaves
    more of the machine to the server under test."""
    ASYNCIO = "asyncio"
    """asyncio's own loop, which survives a reconnect storm over wss: there thousands of TLS
    handshakes are cut off by the restart, and a uvloop worker has failed with "File descriptor N
    is used by transport" (a socket numbered like one whose transport uvloop had not released) and,
    on uvloop 0.23, died in one storm of two without a report."""


class Script(Protocol):
    """What one station sends in saturate and rate mode, one CALL at a time: call
    `next_request()`, send it, then exactly one of `on_result(payload)` or `on_failure()`."""

    def next_request(self) -> Request: ...

    def on_result(self, payload: dict[str, Any]) -> None: ...

    def on_failure(self) -> None: ...


ScriptFactory = Callable[[StationSpec, int], Script]
"""(station, seed) -> its script; a module-level function, so that it reaches worker processes."""


def charging_sessions(spec: StationSpec, seed: int) -> Script:
    """Endless OCPP 1.6 charging sessions on the station's first connector (`sim.traffic`)."""
    return SessionScript(
        connector_id=1,
        id_tag=fleet_id_tag(spec.index, 0),
        rng=random.Random(seed * 1_000_003 + spec.index * 101),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadShape:
    """What every station of a load run does once booted."""

    mode: LoadMode
    rate: float | None = None
    """Rate mode: total offered CALLs per second over the fleet."""
    script: ScriptFactory = charging_sessions
    """Saturate and rate mode: what each station sends."""
    connect_rate: float | None = None
    """New connections per second over the fleet (station ``i`` at ``i / connect_rate``); None
    connects every station at once."""
    boot_timeout: float = 60.0
    """Seconds after the connect ramp by which a station must have booted."""
    call_timeout: float = 10.0
    """Seconds a CALL (and a websocket connect) may take."""
    heartbeat_interval: float = 300.0
    """Idle mode: seconds between a station's Heartbeats (the first at a random offset)."""
    open_transactions: float = 0.0
    """Idle mode: share of the stations that start a transaction right after booting and keep
    it open (spread evenly over the fleet); the ids answered are reported."""
    reconnect: bool = False
    """Idle mode: a station whose connection is lost comes back (see the module docstring)."""
    reconnect_backoff: float = 1.0
    """Seconds; reconnect attempt ``n`` (from 0) waits a uniform random time in
    [0, min(reconnect_backoff_max, reconnect_backoff * 2**n)] (exponential, full jitter)."""
    reconnect_backoff_max: float = 4.0
    tls_ca: str | None = None
    """PEM file of the CA that issued the server's certificate: the stations then connect over
    ``wss://`` and verify the server against it (security profile 2); None: ``ws://``."""
    event_loop: EventLoop = EventLoop.UVLOOP
    """The workers' event loop."""
    source_addresses: tuple[str, ...] = ()
    """Loopback addresses the stations connect from, station ``i`` from address ``i % len``
    (`sim.fleet.sources`): a fleet larger than one address's ephemeral ports; () lets the
    kernel choose."""

    def __post_init__(self) -> None:
        if self.mode is LoadMode.RATE and (self.rate is None or self.rate <= 0):
            raise ValueError("rate mode needs a positive rate")
        if self.connect_rate is not None and self.connect_rate <= 0:
            raise ValueError("connect_rate must be positive")
        if self.call_timeout <= 0 or self.boot_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be positive")
        if not 0 <= self.open_transactions <= 1:
            raise ValueError("open_transactions must be between 0 and 1")
        if (self.reconnect or self.open_transactions) and self.mode is not LoadMode.IDLE:
            raise ValueError("reconnect and open_transactions need idle mode")
        if not 0 < self.reconnect_backoff <= self.reconnect_backoff_max:
            raise ValueError("need 0 < reconnect_backoff <= reconnect_backoff_max")
        check_sources(self.source_addresses)

    @property
    def scheme(self) -> str:
        """``wss`` with `tls_ca`, else ``ws``."""
        return "ws" if self.tls_ca is None else "wss"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The stations' TLS context (one per worker process: contexts do not pickle)."""
        return None if self.tls_ca is None else client_context(self.tls_ca)

    def connect_delay(self, index: int) -> float:
        """Seconds after the start at which station ``index`` connects."""
        return 0.0 if self.connect_rate is None else index / self.connect_rate

    def ramp_seconds(self, stations: int) -> float:
        """How long the connect ramp spreads the connections."""
        return self.connect_delay(stations)

    def opens_transaction(self, index: int) -> bool:
        """Idle mode: whether station ``index`` starts a transaction after booting.

        Exactly ``round_down(stations * open_transactions)`` of the first ``stations`` do,
        spread evenly (with 0.1, stations 9, 19, 29, ...).
        """
        share = self.open_transactions
        return int((index + 1) * share + 1e-9) > int(index * share + 1e-9)


class Phases:
    """When the traffic runs and when the run stops, set by the parent and read by every worker
    (shared memory, so it reaches spawned worker processes: pass it when creating them).

    The parent calls `start_traffic()` once, and `stop()` to end the run early.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        # traffic_at, window_start, window_end; traffic_at is written last and 0 means unset.
        self._times = context.RawArray("d", 3)
        self._stop = context.Event()
        self._booted = context.Value("q", 0)
        self._back = context.Value("q", 0)

    def start_traffic(self, traffic_at: float, window_start: float, window_end: float) -> None:
        """Traffic from ``traffic_at``, measured over [``window_start``, ``window_end``)."""
        self._times[1] = window_start
        self._times[2] = window_end
        self._times[0] = traffic_at

    def traffic(self) -> tuple[float, float, float] | None:
        """(traffic_at, window_start, window_end) once the parent has set them."""
        if self._times[0] == 0.0:
            return None
        return self._times[0], self._times[1], self._times[2]

    def station_booted(self) -> None:
        with self._booted.get_lock():
            self._booted.value += 1

    def station_back(self) -> None:
        with self._back.get_lock():
            self._back.value += 1

    def booted(self) -> int:
        """Stations booted so far, over every worker."""
        return int(self._booted.value)

    def back(self) -> int:
        """Stations back after a lost connection so far, over every worker."""
        return int(self._back.value)

    def stop(self) -> None:
        self._stop.set()

    def stopped(self) -> bool:
        return self._stop.is_set()


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """A load run's shape and its shared phases, handed to every worker."""

    shape: LoadShape
    phases: Phases
    sessions: SourceSessions = field(init=False)
    """The worker's sessions bound to the shape's source addresses (each worker its own)."""

    def __post_init__(self) -> None:
        sessions = SourceSessions(self.shape.source_addresses, self.shape.tls_ca)
        object.__setattr__(self, "sessions", sessions)


async def follow_phases(
    phases: Phases, counts: LoadCounts, go: asyncio.Event, tasks: list[asyncio.Task[None]]
) -> None:
    """A worker's watch over `phases`: sets the window and ``go`` when the traffic starts, and
    cancels the stations' ``tasks`` when the parent stops the run."""
    while True:
        if not go.is_set() and (traffic := phases.traffic()) is not None:
            counts.window_start, counts.window_end = traffic[1], traffic[2]
            go.set()
        if phases.stopped():
            for task in tasks:
                task.cancel()
            return
        await asyncio.sleep(PHASE_POLL)


class BootFailed(Exception):
    """A load station could not connect and boot; its reason is counted."""


class LoadStation(SimStation):
    """A fleet station that runs a `LoadShape` instead of the scenario's EV traffic."""

    def __init__(
        self,
        spec: StationSpec,
        scenario: Scenario,
        clock: SimClock,
        tally: FleetTally,
        http: aiohttp.ClientSession,
        sessions: list[SessionRecord],
        *,
        plan: LoadPlan,
        go: asyncio.Event,
        boot_deadline: float,
    ) -> None:
        super().__init__(
            spec,
            scenario,
            clock,
            tally,
            http,
            sessions,
            start_delay=max(0.0, clock.origin - time.monotonic())
            + plan.shape.connect_delay(spec.index),
        )
        self._sources = plan.sessions
        self.http = plan.sessions.for_station(spec.index, http)
        self.shape = plan.shape
        self.phases = plan.phases
        self.counts = tally.load
        self.go = go
        self.boot_deadline = boot_deadline
        self._jitter = stream(scenario.seed, self.id, "load/backoff")
        self._coming_back = False

    async def run(self, stop_at: float) -> None:
        self.stop_at = min(stop_at, self.boot_deadline)
        try:
            await asyncio.sleep(self.start_delay)
            if self.counts.connect_started_at is None:
                self.counts.connect_started_at = time.monotonic()
            try:
                async with asyncio.timeout(max(0.0, self.boot_deadline - time.monotonic())):
                    await self._boot_sequence()
            except (BootFailed, TimeoutError) as exc:
                reason = str(exc) if isinstance(exc, BootFailed) else "boot timeout"
                self.counts.boot_failures[reason] += 1
                return
            self.counts.booted += 1
            self.counts.last_booted_at = time.monotonic()
            self.phases.station_booted()
            self.stop_at = stop_at
            await self.go.wait()
            traffic = self.phases.traffic()
            assert traffic is not None
            if self.shape.mode is LoadMode.IDLE:
                await self._idle(*traffic)
            else:
                await self._traffic(*traffic)
        finally:
            await self._finish()
            await self._sources.release(self.spec.index)

    # --- boot -----------------------------------------------------------------------------------

    async def _boot_sequence(self) -> None:
        """Connect, BootNotification (Accepted), the status of every connector, and in idle mode
        perhaps a transaction that stays open; raises `BootFailed` with the reason."""
        await self._connect(boot_reason=None)
        if self.link is None:
            raise BootFailed("connect")
        model = self.spec.model
        reply = await self._expect(
            *self.dialect.boot(model.vendor, model.model, self.id, "PowerUp")
        )
        if reply.get("status") != "Accepted":
            raise BootFailed(f"BootNotification:{reply.get('status')}")
        now = self.clock.now()
        for connector in (0, *(evse.number for evse in self.evses)):
            await self._expect(*self.dialect.status(connector, "available", now))
        if self.shape.opens_transaction(self.spec.index):
            await self._open_transaction()

    async def _expect(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._send(action, payload)
        except CallFailed as exc:
            raise BootFailed(f"{action}:{exc.kind}") from None

    async def _open_transaction(self) -> None:
        request = start_transaction(1, fleet_id_tag(self.spec.index, 0), meter_start_wh=0)
        reply = await self._expect(request.action, request.payload)
        transaction_id = reply.get("transactionId")
        info = reply.get("idTagInfo")
        status = info.get("status") if isinstance(info, dict) else None
        if isinstance(transaction_id, int):
            # The server has answered for it: it must not lose it, whatever the status.
            self.counts.transactions.append((self.id, str(transaction_id)))
        if status != "Accepted" or not isinstance(transaction_id, int):
            raise BootFailed(f"StartTransaction:{status}")

    # --- saturate and rate ----------------------------------------------------------------------

    async def _traffic(self, traffic_at: float, window_start: float, window_end: float) -> None:
        script = self.shape.script(self.spec, self.scenario.seed)
        await _sleep_until(traffic_at)
        if self.shape.mode is LoadMode.SATURATE:
            while self.link is not None and (now := time.monotonic()) < window_end:
                await self._serve_mailbox()
                await self._exchange(script, now)
        else:
            await self._paced(script, traffic_at, window_start, window_end)
        if self.link is None:
            self.counts.disconnects += 1

    async def _paced(
        self, script: Script, traffic_at: float, window_start: float, window_end: float
    ) -> None:
        rate = self.shape.rate
        assert rate is not None
        # Slots are 1/rate apart over the whole fleet; each station takes every stations-th one.
        interval = self.scenario.stations / rate
        first_at = traffic_at + self.spec.index / rate
        give_up_at = window_end + self.shape.call_timeout
        slot = 0
        while (scheduled := first_at + slot * interval) < window_end:
            if self.link is None or time.monotonic() >= give_up_at:
                first_in_window = max(slot, math.ceil((window_start - first_at) / interval))
                self.counts.unsent += max(
                    0, math.ceil((window_end - first_at) / interval) - first_in_window
                )
                return
            await _sleep_until(scheduled)
            await self._serve_mailbox()
            # Latency counts from `scheduled`, not from the actual send: when the server falls
            # behind, the wait before sending is part of what a charger experiences.
            await self._exchange(script, scheduled)
            slot += 1

    async def _exchange(self, script: Script, scheduled: float) -> None:
        request = script.next_request()
        try:
            reply = await self._send(request.action, request.payload)
        except CallFailed as exc:
            self.counts.failure(exc.kind, scheduled)
            script.on_failure()
            return
        self.counts.result(request.action, scheduled, time.monotonic())
        script.on_result(reply)

    async def _serve_mailbox(self) -> None:
        """Answer the CSMS's calls that came in while a CALL of ours was out."""
        while not self.mailbox.empty():
            message = self.mailbox.get_nowait()
            if isinstance(message, CsmsCall):
                await self._answer(message)
            elif isinstance(message, LinkLost) and message.link is self.link:
                await self._drop_link()

    # --- idle -----------------------------------------------------------------------------------

    async def _idle(self, traffic_at: float, window_start: float, window_end: float) -> None:
        interval = self.shape.heartbeat_interval
        heartbeat_at = traffic_at + stream(self.scenario.seed, self.id, "load/heartbeat").uniform(
            0, interval
        )
        self.stop_at = window_end
        while (now := time.monotonic()) < window_end:
            link = self.link
            if link is None:
                return
            message = await self.mailbox.get_within(min(heartbeat_at, window_end) - now)
            if isinstance(message, CsmsCall):
                await self._answer(message)
            elif isinstance(message, LinkLost) and message.link is link:
                await self._lost_link(link)
                return
            if time.monotonic() >= heartbeat_at:
                await self._exchange(_Once(HEARTBEAT), heartbeat_at)
                heartbeat_at += interval
                if self.link is None:
                    # Lost while the Heartbeat was out: `_send` has dropped the link already, and
                    # the station comes back like any other whose connection was lost.
                    await self._lost_link(link)
                    return

    async def _lost_link(self, link: Link) -> None:
        """Count a lost connection by its close code, drop it and, with reconnect, come back."""
        code = link.ws.close_code
        self.counts.lost["no close frame" if code is None else str(code)] += 1
        await self._drop_link()
        if self.shape.reconnect:
            await self._come_back()

    async def _come_back(self) -> None:
        """Reconnect without booting until a Heartbeat is answered (or the run ends)."""
        self._coming_back = True
        self._connect_attempt = 0
        await asyncio.sleep(self._retry_delay(None))
        while time.monotonic() < self.stop_at:
            await self._connect(boot_reason=None)
            if self.link is None:
                return
            try:
                await self._send(HEARTBEAT.action, HEARTBEAT.payload)
            except CallFailed as exc:
                self.counts.reconnect_failures[f"Heartbeat:{exc.kind}"] += 1
                await self._drop_link()
                await asyncio.sleep(self._retry_delay(None))
                continue
            self.counts.back_at.append(time.monotonic())
            self.phases.station_back()
            return

    def _retry_delay(self, failure: BaseException | None) -> float:
        """Exponential backoff with full jitter (see `LoadShape.reconnect_backoff`); every call
        is one attempt, and while coming back every failed attempt is counted by reason."""
        if failure is not None and self._coming_back:
            self.counts.reconnect_failures[_reason(failure)] += 1
        shape = self.shape
        ceiling = shape.reconnect_backoff * 2.0 ** min(self._connect_attempt, 30)
        self._connect_attempt += 1
        return self._jitter.uniform(0, min(shape.reconnect_backoff_max, ceiling))


class _Once:
    """A script of one request, sent again each time."""

    def __init__(self, request: Request) -> None:
        self._request = request

    def next_request(self) -> Request:
        return self._request

    def on_result(self, payload: dict[str, Any]) -> None:
        pass

    def on_failure(self) -> None:
        pass


def _reason(exc: BaseException) -> str:
    """A failed connection attempt as a short, countable reason."""
    if isinstance(exc, TimeoutError):
        return "Timeout"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"Handshake:{exc.status}"
    code = exc.errno if isinstance(exc, OSError) else None
    if code is not None and code in errno.errorcode:
        # e.g. ClientConnectorError:ECONNREFUSED (nothing listens) or :EADDRNOTAVAIL (no port).
        return f"{type(exc).__name__}:{errno.errorcode[code]}"
    return type(exc).__name__


async def _sleep_until(at: float) -> None:
    delay = at - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
