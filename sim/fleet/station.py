"""One simulated charging station: an actor with its own mailbox, driven by its plan and by the CSMS.

The station boots, reports its EVSEs, heartbeats, and serves the EVs of its plan: Authorize, start,
meter values at the model's interval while the battery charges (constant power, then a taper), and a
stop when the EV leaves. It answers the CSMS's commands as a real charger does, and suffers the
scenario's faults. Transaction messages it could not deliver (offline, connection lost, no answer)
are queued and replayed in order on the next connection, as chargers do.

Beyond charging, the feature modules answer the CSMS's calls and keep their state on the station:
charging profiles, which the station obeys (`sim.fleet.smart_charging`, `sim.fleet.profiles`),
reservations (`sim.fleet.reservations`), the local list (`sim.fleet.local_list`), firmware updates
and log uploads (`sim.fleet.maintenance`), display messages (`sim.fleet.display`) and settings
(`sim.fleet.configuration`). The model's `Behaviour` says which features it has and which calls
it refuses or leaves unanswered. Their timed steps run in the station's own loop (`schedule`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp

from actors.mailbox import Mailbox
from csms.payloads.timestamps import ocpp_time
from sim.fleet import (
    configuration,
    display,
    local_list,
    maintenance,
    publishing,
    reservations,
    smart_charging,
)
from sim.fleet.clock import SimClock
from sim.fleet.credentials import basic_auth
from sim.fleet.dialect import Dialect16, Payload, Session, dialect_for
from sim.fleet.display import transaction_ended
from sim.fleet.link import CallFailed, Link
from sim.fleet.local_list import local_status
from sim.fleet.physics import EvBattery
from sim.fleet.plan import (
    Arrival,
    Fault,
    FaultEvent,
    StationSpec,
    arrivals,
    backoff,
    faults,
    stream,
)
from sim.fleet.profiles import (
    Electrical,
    Profile,
    Purpose,
    changes,
    evse_limit_w,
    share,
    station_limit_w,
)
from sim.fleet.reservations import Reservation, reserved_for
from sim.fleet.results import SessionRecord
from sim.fleet.scenario_behaviour import refusal
from sim.fleet.tally import FleetTally

if TYPE_CHECKING:
    from sim.fleet.maintenance import FirmwareJob, LogJob
    from sim.fleet.publishing import Publication
    from sim.fleet.scenario import Scenario

log = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0
"""Wall-clock seconds a station waits for an answer."""
_FOREVER = float("inf")


@dataclass(frozen=True, slots=True)
class CsmsCall:
    """A CALL from the central system."""

    unique_id: str
    action: str
    payload: Payload


@dataclass(frozen=True, slots=True)
class LinkLost:
    """The websocket closed."""

    link: Link


@dataclass(frozen=True, slots=True, order=True)
class Timer:
    """A feature's next step (`SimStation.schedule`), ordered by time, then by when it was set."""

    at: float
    seq: int
    key: str | None = field(compare=False)
    action: Callable[[], Awaitable[None]] = field(compare=False)


@dataclass(frozen=True, slots=True)
class Plug:
    """An EV plugs in now (a driver who reserved, a test): `SimStation.arrive`."""

    evse: int
    arrival: Arrival


@dataclass(frozen=True, slots=True)
class Step:
    """Work a feature ran beside the loop has ended: its next step runs in the loop."""

    action: Callable[[], Awaitable[None]]


Message = CsmsCall | LinkLost | Plug | Step


@dataclass(slots=True)
class Queued:
    """A transaction message waiting for a connection; ``build`` makes its payload at send time
    (a 1.6 charger learns its transaction id only when StartTransaction is answered)."""

    action: str
    build: Callable[[], Payload]
    session: Session | None = None
    """Set for a StartTransaction: its answer names the transaction."""


@dataclass(slots=True)
class Evse:
    """What the station knows of one EVSE."""

    number: int
    register_wh: float
    arrivals: Iterator[Arrival]
    next_arrival: Arrival | None
    session: Session | None = None
    battery: EvBattery | None = None
    target_wh: float = 0.0
    leave_at: float = _FOREVER
    next_meter: float = _FOREVER
    last_update: float = 0.0
    available: bool = True
    reservation: Reservation | None = None


class SimStation:
    """Run with ``await station.run(stop_at)``; ``stop_at`` is a ``time.monotonic()`` instant."""

    # Slots: a fleet holds tens of thousands of stations, most of them idle.
    __slots__ = (
        "_connect_attempt",
        "_csms_epoch",
        "_faults",
        "_next_fault",
        "_next_limit_change",
        "_ready",
        "_reported",
        "_resend",
        "_timer_seq",
        "_timers",
        "_tx_ids",
        "behaviour",
        "clock",
        "configuration",
        "dialect",
        "display_messages",
        "evses",
        "firmware_job",
        "firmware_status",
        "firmware_version",
        "grid",
        "heartbeat_interval",
        "http",
        "id",
        "link",
        "local_list",
        "local_list_version",
        "log_job",
        "log_upload",
        "mailbox",
        "next_heartbeat",
        "offline_until",
        "profiles",
        "published",
        "publishing",
        "queue",
        "records",
        "scenario",
        "site",
        "spec",
        "start_delay",
        "stop_at",
        "tally",
        "uploads",
    )

    def __init__(
        self,
        spec: StationSpec,
        scenario: Scenario,
        clock: SimClock,
        tally: FleetTally,
        http: aiohttp.ClientSession,
        sessions: list[SessionRecord],
        *,
        start_delay: float = 0.0,
    ) -> None:
        self.spec = spec
        self.scenario = scenario
        self.clock = clock
        self.tally = tally
        self.http = http
        self.records = sessions
        self.start_delay = start_delay
        self.id = spec.station_id
        self.dialect = dialect_for(spec.version)
        # Bounded only by what a station can be sent: its own link and timers.
        self.mailbox: Mailbox[Message] = Mailbox(maxsize=1_000_000)
        self.link: Link | None = None
        self.queue: deque[Queued] = deque()
        self.offline_until = 0.0
        self.stop_at = _FOREVER
        self.heartbeat_interval = spec.model.heartbeat_interval or 300.0
        self.next_heartbeat = _FOREVER
        self._resend = stream(scenario.seed, self.id, "resend")
        self._tx_ids = stream(scenario.seed, self.id, "transaction-ids")
        self._faults = faults(scenario, self.id)
        self._next_fault: FaultEvent | None = next(self._faults, None)
        self._connect_attempt = 0
        start_register = stream(scenario.seed, self.id, "register").uniform(0, 5e6)
        self.evses = []
        for n in range(1, spec.model.evses + 1):
            plan = arrivals(scenario, self.id, n)
            self.evses.append(Evse(n, start_register, plan, next(plan, None)))
        self.configuration = {
            "HeartbeatInterval": str(int(self.heartbeat_interval)),
            "MeterValueSampleInterval": str(int(spec.model.meter_interval)),
            "LocalAuthListEnabled": "true",
            "LocalPreAuthorize": "true",
            "LocalAuthListMaxLength": "10000",
            "SendLocalListMaxLength": "10000",
        }
        self.behaviour = spec.model.behaviour
        self.grid = Electrical(self.behaviour.voltage, self.behaviour.phases)
        self.site = scenario.site_of(self.id) if scenario.sites else None
        self.profiles: list[Profile] = []
        """Charging profiles installed (`sim.fleet.smart_charging`)."""
        self.local_list: dict[str, str] = {}
        """Local authorization list: id tag -> status (`sim.fleet.local_list`)."""
        self.local_list_version: int = 0
        self.display_messages: dict[int, Payload] = {}
        """2.x display messages by id (`sim.fleet.display`)."""
        self.firmware_version = "sim-1.0"
        self.firmware_job: FirmwareJob | None = None
        self.firmware_status = "Idle"
        self.uploads: list[str] = []
        self.log_job: LogJob | None = None
        """The log upload under way (`sim.fleet.maintenance`)."""
        self.log_upload: asyncio.Task[None] | None = None
        """Its HTTP transfer, which runs beside the loop while it lasts."""
        """Names of the log files uploaded."""
        self.publishing: dict[str, Publication] = {}
        """2.x local controller: firmware being published, by MD5 checksum."""
        self.published: dict[str, list[str]] = {}
        """2.x local controller: published firmware (checksum -> where it is served)."""
        self._timers: list[Timer] = []
        self._timer_seq = 0
        self._next_limit_change = _FOREVER
        self._ready: asyncio.Event | None = None
        """Made when first asked for (`ready`): an idle fleet station needs none."""
        self._reported = False
        self._csms_epoch: tuple[datetime, float] | None = None
        """(the CSMS's currentTime at the last accepted boot, the simulated second then)."""

    # --- the actor's loop ---------------------------------------------------------------------

    async def run(self, stop_at: float) -> None:
        self.stop_at = stop_at
        try:
            await asyncio.sleep(self.start_delay)
            await self._connect(boot_reason="PowerUp")
            while time.monotonic() < stop_at:
                if self.link is None and not self.offline_until:
                    await self._reconnect()
                    continue
                await self._due(self.clock.elapsed())
                wake = min(self._next_wake(), self.clock.elapsed() + 3600.0)
                timeout = min(self.clock.wall_delay(wake), max(0.0, stop_at - time.monotonic()))
                message = await self.mailbox.get_within(timeout)
                if isinstance(message, CsmsCall):
                    await self._answer(message)
                elif isinstance(message, LinkLost) and message.link is self.link:
                    await self._lost()
                elif isinstance(message, Plug):
                    await self._plug(message)
                elif isinstance(message, Step):
                    await message.action()
        finally:
            await self._finish()

    def _next_wake(self) -> float:
        times = [self.next_heartbeat, self.offline_until or _FOREVER, self._next_limit_change]
        if self._timers:
            times.append(self._timers[0].at)
        if self._next_fault is not None:
            times.append(self._next_fault.at)
        for evse in self.evses:
            times.append(evse.next_meter)
            times.append(evse.leave_at)
            if evse.session is None and evse.next_arrival is not None:
                times.append(evse.next_arrival.at)
        return min(times)

    async def _due(self, now: float) -> None:
        """Everything whose simulated time has come, in a fixed order."""
        if self.offline_until and now >= self.offline_until:
            self.offline_until = 0.0
            await self._connect(boot_reason=None)
        while self._next_fault is not None and self._next_fault.at <= now:
            fault, self._next_fault = self._next_fault.fault, next(self._faults, None)
            await self._inject(fault, now)
        while self._timers and self._timers[0].at <= now:
            await heapq.heappop(self._timers).action()
        if self._next_limit_change <= now:
            self.apply_limits(now)
        for evse in self.evses:
            if evse.session is not None and evse.next_meter <= now:
                await self._meter(evse, now)
            if evse.session is not None and evse.leave_at <= now:
                evse.session.stop_reason = "EVDeparted"
                await self._stop(evse, now)
            while evse.session is None and evse.next_arrival and evse.next_arrival.at <= now:
                arrival, evse.next_arrival = evse.next_arrival, next(evse.arrivals, None)
                if evse.available and reserved_for(evse, arrival.id_tag):
                    # Offline, the station authorizes locally and queues the start.
                    await self._plug_in(evse, arrival, now)
                # An EV that finds the EVSE busy or out of order drives on.
        if self.next_heartbeat <= now:
            self.next_heartbeat = now + self.heartbeat_interval
            await self._call("Heartbeat", {})

    # --- connection -----------------------------------------------------------------------------

    async def _connect(self, *, boot_reason: str | None) -> None:
        """Connect (retrying with backoff), boot if ``boot_reason``, then replay the queue."""
        csms = self.scenario.csms
        while self.link is None:
            if time.monotonic() >= self.stop_at:
                return
            try:
                ws = await self.http.ws_connect(
                    f"{csms.url.rstrip('/')}/{self.id}",
                    protocols=[self.spec.version],
                    headers=basic_auth(self.id, csms.password),
                    autoping=True,
                    heartbeat=None,
                    timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.tally.error("connect", station_id=self.id, action="connect", detail=str(exc))
                await asyncio.sleep(self._retry_delay(exc))
                continue
            if ws.protocol != self.spec.version:
                self.tally.error(
                    "subprotocol",
                    station_id=self.id,
                    action="connect",
                    detail=f"offered {self.spec.version}, got {ws.protocol}",
                )
            self._connect_attempt = 0
            link = Link(
                self.id,
                self.spec.version,
                ws,
                self.tally,
                lambda unique_id, action, payload: self.mailbox.put_nowait(
                    CsmsCall(unique_id, action, payload)
                ),
                timeout=CALL_TIMEOUT,
                on_closed=lambda link: self.mailbox.put_nowait(LinkLost(link)),
            )
            link.start()
            self.link = link
            self.tally.connection_opened()
        if boot_reason is not None:
            await self._boot(boot_reason)
        await self._replay()

    async def _boot(self, reason: str) -> None:
        model = self.spec.model
        action, payload = self.dialect.boot(
            model.vendor, model.model, self.id, reason, self.firmware_version
        )
        while self.link is not None and time.monotonic() < self.stop_at:
            try:
                reply = await self._send(action, payload)
            except CallFailed:
                return
            if reply.get("status") == "Accepted":
                self._set_clock(reply.get("currentTime"))
                interval = float(reply.get("interval") or 0)
                if not model.heartbeat_interval and interval > 0:
                    self.heartbeat_interval = interval
                self.next_heartbeat = self.clock.elapsed() + self.heartbeat_interval
                break
            # Pending or Rejected: try again after the interval the CSMS gave (simulated time).
            await asyncio.sleep(
                min(30.0, float(reply.get("interval") or 60) / self.clock.acceleration)
            )
        now = self.clock.now()
        if isinstance(self.dialect, Dialect16):
            await self._call(*self.dialect.status(0, "available", now))
        for evse in self.evses:
            await self._call(*self.dialect.status(evse.number, self._state(evse), now))
        self._reported = True
        if self._ready is not None:
            self._ready.set()

    @property
    def ready(self) -> asyncio.Event:
        """Set once the station has booted and reported its EVSEs (`sim.fleet.single`)."""
        if self._ready is None:
            self._ready = asyncio.Event()
            if self._reported:
                self._ready.set()
        return self._ready

    def _set_clock(self, current_time: object) -> None:
        """A charger sets its clock from BootNotification's currentTime (1.6 section 4.2, 2.0.1
        B01): from then on the times the CSMS gives (profile starts, reservation expiry, firmware
        retrieval) are read against it. The simulated clock runs ``acceleration`` times faster,
        so a CSMS instant maps to the simulated one that is as far from the boot, scaled."""
        if isinstance(current_time, str):
            with contextlib.suppress(ValueError):
                moment = datetime.fromisoformat(current_time.replace("Z", "+00:00"))
                if moment.tzinfo is not None:
                    self._csms_epoch = (moment, self.clock.elapsed())

    def csms_time(self, moment: datetime) -> datetime:
        """An instant of the CSMS's clock on the station's simulated clock."""
        if self._csms_epoch is None:
            return moment
        csms_at, elapsed = self._csms_epoch
        seconds = (moment - csms_at).total_seconds() * self.clock.acceleration
        return self.clock.at(elapsed + seconds)

    def station_time(self, moment: datetime) -> datetime:
        """An instant of the simulated clock on the CSMS's clock (the inverse of `csms_time`)."""
        if self._csms_epoch is None:
            return moment
        csms_at, elapsed = self._csms_epoch
        seconds = (moment - self.clock.at(elapsed)).total_seconds() / self.clock.acceleration
        return csms_at + timedelta(seconds=seconds)

    def _state(self, evse: Evse) -> str:
        """The dialect's name of the EVSE's present status."""
        if evse.session is not None:
            if evse.session.charging and evse.session.held:
                return "suspended_evse"
            return "charging" if evse.session.charging else "suspended"
        if not evse.available:
            return "unavailable"
        return "available" if evse.reservation is None else "reserved"

    async def _lost(self) -> None:
        """The CSMS (or the network) closed the socket; the loop reconnects."""
        await self._drop_link()
        self.tally.errors_by_kind["disconnect"] += 1

    async def _reconnect(self) -> None:
        """After a lost connection: a pause with jitter, then connect again without booting (a
        reconnect is not a reboot)."""
        delay = self._retry_delay(None)
        await asyncio.sleep(min(delay, max(0.0, self.stop_at - time.monotonic())))
        await self._connect(boot_reason=None)

    def _retry_delay(self, failure: BaseException | None) -> float:
        """Wall-clock seconds before the next connection attempt; ``failure`` is why the last
        one failed (None: the connection was lost, which starts no new attempt)."""
        faults_ = self.scenario.faults
        delay = backoff(
            self.scenario.seed,
            self.id,
            self._connect_attempt,
            faults_.reconnect_backoff_min,
            faults_.reconnect_backoff_max,
        )
        if failure is not None:
            self._connect_attempt += 1
        return delay

    async def _drop_link(self) -> None:
        link, self.link = self.link, None
        if link is None:
            return
        self.tally.connection_closed()
        await link.close()

    async def _finish(self) -> None:
        if self.log_upload is not None:
            self.log_upload.cancel()
        now = self.clock.now()
        for evse in self.evses:
            if evse.session is not None:
                self._record(evse.session, evse, now, finished=False)
        await self._drop_link()

    # --- sending ----------------------------------------------------------------------------------

    async def _send(self, action: str, payload: Payload, *, expect_error: bool = False) -> Payload:
        if self.link is None:
            raise CallFailed("disconnect")
        resend = self._resend.random() < self.scenario.faults.resend_probability
        if resend:
            self.tally.faults["resend"] += 1
        try:
            return await self.link.call(action, payload, resend=resend, expect_error=expect_error)
        except CallFailed as exc:
            if exc.kind == "disconnect":
                await self._drop_link()
            raise

    async def _call(self, action: str, payload: Payload) -> Payload | None:
        """A message that is lost when there is no connection (status, heartbeat)."""
        try:
            return await self._send(action, payload)
        except CallFailed:
            return None

    async def _transaction_message(self, item: Queued) -> None:
        """A message the charger must deliver: sent now if the queue is empty and a connection is
        up, else queued behind the others."""
        self.queue.append(item)
        if len(self.queue) == 1 and self.link is not None:
            await self._replay()

    async def _replay(self) -> None:
        while self.queue and self.link is not None:
            item = self.queue[0]
            try:
                reply = await self._send(item.action, item.build())
            except CallFailed as exc:
                if exc.kind in ("disconnect", "timeout"):
                    return  # kept: resent on the next connection
                reply = None  # refused for good: a charger drops it
            self.queue.popleft()
            if reply is not None and item.session is not None:
                self.dialect.learn_transaction_id(item.session, reply)

    # --- charging -------------------------------------------------------------------------------

    async def _plug_in(
        self, evse: Evse, arrival: Arrival, now: float, *, remote_start_id: int | None = None
    ) -> None:
        sessions = self.scenario.sessions
        when = self.clock.at(now)
        reservation = evse.reservation
        await self._call(*self.dialect.status(evse.number, "occupied", when))
        # A token on the local list is decided there (1.6 LocalPreAuthorize, 2.x
        # LocalAuthListCtrlr); the others are asked for when the station asks at all.
        status = local_status(self, arrival.id_tag)
        if status is None and sessions.authorize and remote_start_id is None:
            reply = await self._call(*self.dialect.authorize(arrival.id_tag))
            status = self.dialect.authorized(reply) if reply is not None else "Offline"
        if status is not None and status not in ("Accepted", "Offline"):
            self.records.append(
                SessionRecord(
                    self.id,
                    evse.number,
                    arrival.id_tag,
                    ocpp_time(when),
                    ocpp_time(when),
                    0.0,
                    None,
                    self.spec.version,
                    f"NotAuthorized:{status}",
                )
            )
            await self._call(*self.dialect.status(evse.number, self._state(evse), when))
            return
        session = Session(evse.number, arrival.id_tag, when, evse.register_wh)
        session.remote_start_id = remote_start_id
        if reservation is not None and evse.reservation is reservation:
            session.reservation_id = reservation.id
            evse.reservation = None
        if not isinstance(self.dialect, Dialect16):
            session.transaction_id = f"{self._tx_ids.getrandbits(64):016x}"
        evse.session = session
        evse.battery = EvBattery(
            capacity_wh=sessions.battery_kwh * 1000.0,
            soc=arrival.soc,
            max_power_w=min(self.spec.model.max_power_kw, sessions.ev_max_power_kw) * 1000.0,
            taper_soc=sessions.taper_soc,
            cap_w=0.0,  # until `apply_limits` below gives it the profiles' limit
        )
        evse.target_wh = arrival.energy_wh
        evse.leave_at = now + arrival.dwell_s
        evse.next_meter = now + self.spec.model.meter_interval
        evse.last_update = now
        self.tally.active_sessions += 1
        self.tally.sessions_started += 1
        trigger = "RemoteStart" if remote_start_id is not None else "Authorized"
        self.apply_limits(now)
        action, payload = self.dialect.started(session, when, trigger, self.link is None)
        await self._transaction_message(Queued(action, _constant(payload), session))
        await self._call(*self.dialect.status(evse.number, "charging", when))

    def _advance(self, evse: Evse, now: float) -> float:
        """Charge up to ``now``; the power at the end."""
        assert evse.session is not None
        assert evse.battery is not None
        seconds = max(0.0, now - evse.last_update)
        evse.last_update = now
        delivered = 0.0
        if evse.session.charging:
            left = evse.target_wh - (evse.register_wh - evse.session.meter_start_wh)
            delivered = evse.battery.charge(seconds, max(0.0, left))
        evse.register_wh += delivered
        self.tally.energy_wh += delivered
        if evse.session.charging and (
            evse.register_wh - evse.session.meter_start_wh >= evse.target_wh - 1e-6
            or evse.battery.soc >= 1.0
        ):
            evse.session.charging = False
        self._publish_power()
        return self._power(evse)

    @staticmethod
    def _power(evse: Evse) -> float:
        """What the EVSE draws now (within its profiles' limit)."""
        if evse.session is None or evse.battery is None or not evse.session.charging:
            return 0.0
        return evse.battery.power_w()

    def _publish_power(self) -> None:
        """The station's power, for the site plots of a load management run."""
        if self.site is not None:
            self.tally.set_power(self.site, self.id, sum(self._power(e) for e in self.evses))

    def apply_limits(self, now: float) -> None:
        """Obey the charging profiles from ``now`` (simulated seconds): charge every EVSE up to
        now at its old limit, then set each EVSE's cap to the composite limit in force (its
        TxProfile or TxDefault, the station's maximum shared among the EVSEs that charge), and
        note when a profile next changes it."""
        at = self.clock.at(now)
        demands: dict[int, float] = {}
        caps: dict[int, float] = {}
        next_change = changes(self.profiles, at)
        for evse in self.evses:
            session, battery = evse.session, evse.battery
            if session is None or battery is None:
                continue
            self._advance(evse, now)
            demands[evse.number] = battery.demand_w() if session.charging else 0.0
            caps[evse.number] = evse_limit_w(
                self.profiles,
                evse.number,
                at,
                self.grid,
                transaction_id=session.transaction_id,
                tx_start=session.plugged_at,
            )
            own = changes(self.profiles, at, session.plugged_at)
            if own is not None and (next_change is None or own < next_change):
                next_change = own
        shared = share(demands, caps, station_limit_w(self.profiles, at, self.grid))
        for evse in self.evses:
            if evse.battery is not None and evse.session is not None:
                evse.battery.cap_w = shared.get(evse.number, math.inf)
                held = evse.battery.cap_w <= 0
                if held != evse.session.held:
                    # 1.6 SuspendedEVSE / 2.x chargingState SuspendedEVSE, reported at once.
                    evse.session.held = held
                    self.schedule(now, functools.partial(self.report_status, evse))
        self._next_limit_change = (
            _FOREVER
            if next_change is None
            else max(now, (next_change - self.clock.start).total_seconds())
        )
        self._publish_power()

    async def _meter(self, evse: Evse, now: float) -> None:
        assert evse.session is not None
        was_charging = evse.session.charging
        power = self._advance(evse, now)
        evse.next_meter = now + self.spec.model.meter_interval
        session, register, when = evse.session, evse.register_wh, self.clock.at(now)
        offline = self.link is None
        if isinstance(self.dialect, Dialect16):
            dialect = self.dialect
            build = lambda: dialect.meter(session, register, power, when, offline)[1]  # noqa: E731
            await self._transaction_message(Queued("MeterValues", build))
        else:
            action, payload = self.dialect.meter(session, register, power, when, offline)
            await self._transaction_message(Queued(action, _constant(payload)))
        if was_charging and not session.charging:
            await self._call(*self.dialect.status(evse.number, "suspended", when))

    async def _stop(self, evse: Evse, now: float) -> None:
        session = evse.session
        assert session is not None
        self._advance(evse, now)
        when = self.clock.at(now)
        register = evse.register_wh
        offline = self.link is None
        if isinstance(self.dialect, Dialect16):
            dialect = self.dialect
            build = lambda: dialect.ended(session, register, when, offline)[1]  # noqa: E731
            await self._transaction_message(Queued("StopTransaction", build))
        else:
            action, payload = self.dialect.ended(session, register, when, offline)
            await self._transaction_message(Queued(action, _constant(payload)))
        session.meter_stop_wh = register
        self._record(session, evse, when, finished=True)
        evse.session, evse.battery = None, None
        evse.leave_at = evse.next_meter = _FOREVER
        self.tally.active_sessions -= 1
        self.tally.sessions_completed += 1
        # A TxProfile ends with its transaction (1.6 section 3.13.2, 2.0.1 K01.FR.05), and so
        # do the display messages bound to it.
        self.profiles = [
            p for p in self.profiles if not (p.purpose is Purpose.TX and p.evse == evse.number)
        ]
        transaction_ended(self, session.transaction_id)
        self.apply_limits(now)
        await self._call(*self.dialect.status(evse.number, self._state(evse), when))

    def _record(self, session: Session, evse: Evse, when: datetime, *, finished: bool) -> None:
        end = session.meter_stop_wh if session.meter_stop_wh is not None else evse.register_wh
        self.records.append(
            SessionRecord(
                station_id=self.id,
                connector_id=evse.number,
                id_tag=session.id_tag,
                start=ocpp_time(session.plugged_at),
                stop=ocpp_time(when) if finished else None,
                energy_wh=end - session.meter_start_wh,
                transaction_id=session.transaction_id,
                protocol=self.spec.version,
                stop_reason=session.stop_reason if finished else None,
            )
        )

    # --- faults -----------------------------------------------------------------------------------

    async def _inject(self, fault: Fault, now: float) -> None:
        if self.link is None and fault is not Fault.REBOOT:
            return  # nothing to break while offline
        self.tally.faults[fault.value] += 1
        if fault is Fault.DROP:
            await self._drop_link()
        elif fault is Fault.OFFLINE:
            await self._drop_link()
            self.offline_until = now + self.scenario.faults.offline_seconds
        elif fault is Fault.REBOOT:
            await self._reboot(now, reason="PowerUp")
        elif fault is Fault.MALFORMED:
            if self.link is not None:
                with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
                    await self.link.send_raw('[2, "broken-frame", "Heartbeat"')
        elif fault is Fault.SCHEMA_VIOLATION:
            action, payload = self.dialect.status(1, "available", self.clock.at(now))
            broken = {**payload}
            if isinstance(self.dialect, Dialect16):
                broken["errorCode"] = "Error"
            else:
                broken["connectorStatus"] = "Broken"
            with contextlib.suppress(CallFailed):
                await self._send(action, broken, expect_error=True)

    async def _reboot(self, now: float, *, reason: str) -> None:
        for evse in self.evses:
            if evse.session is not None:
                evse.session.stop_reason = "Reboot"
                await self._stop(evse, now)
        await self._drop_link()
        await asyncio.sleep(self.scenario.faults.reconnect_backoff_min)
        await self._connect(boot_reason=reason)

    # --- the CSMS's calls -----------------------------------------------------------------------

    async def _answer(self, call: CsmsCall) -> None:
        link = self.link
        behaviour = self.behaviour
        if link is None or call.action in behaviour.ignore:
            return  # no answer: the CSMS times out
        handler = _HANDLERS_16 if isinstance(self.dialect, Dialect16) else _HANDLERS_2
        method = handler.get(call.action)
        if method is None or call.action in behaviour.unsupported or not self._has(call.action):
            code = "NotImplemented" if isinstance(self.dialect, Dialect16) else "NotSupported"
            await link.answer_error(call.unique_id, code, f"{call.action} is not supported")
            return
        refused = (
            refusal(call.action, is_2x=self.is_2x) if call.action in behaviour.reject else None
        )
        if refused is not None:
            await link.answer(call.unique_id, {"status": refused})
            return
        response, after = method(self, call.payload)
        await link.answer(call.unique_id, response)
        if after is not None:
            await after()

    def _has(self, action: str) -> bool:
        """Whether the station model has the feature ``action`` belongs to (1.6 answers the
        local list calls itself: NotSupported, -1)."""
        behaviour = self.behaviour
        if action in _SMART_CHARGING:
            return behaviour.smart_charging
        if action in _RESERVATIONS:
            return behaviour.reservations
        if action in _DISPLAY:
            return behaviour.display_messages
        if action in _PUBLISHING:
            return behaviour.local_controller
        if action in _LOCAL_LIST and self.is_2x:
            return behaviour.local_list
        return True

    # --- what the feature modules use -------------------------------------------------------

    @property
    def is_2x(self) -> bool:
        return not isinstance(self.dialect, Dialect16)

    def schedule(
        self, at: float, action: Callable[[], Awaitable[None]], *, key: str | None = None
    ) -> None:
        """Run ``action`` in the station's loop at simulated second ``at`` (called from the
        loop itself, which looks at its timers again before it sleeps). A ``key`` names a flow
        that has one next step at most (a firmware update, a log upload, an EVSE's reservation):
        its earlier step still waiting is dropped, so however often the CSMS starts the flow
        over, the station keeps one timer for it."""
        if key is not None and any(t.key == key for t in self._timers):
            self._timers = [t for t in self._timers if t.key != key]
            heapq.heapify(self._timers)
        self._timer_seq += 1
        heapq.heappush(self._timers, Timer(at, self._timer_seq, key, action))

    def post(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` in the station's loop as soon as it is free (from work that runs beside
        the loop: the loop alone sends the station's calls, one at a time as OCPP-J wants)."""
        self.mailbox.put_nowait(Step(action))

    async def send_call(self, action: str, payload: Payload) -> Payload | None:
        """A CALL of a feature (status notifications, reports); None if it went unanswered."""
        return await self._call(action, payload)

    async def report_status(self, evse: Evse) -> None:
        await self._call(*self.dialect.status(evse.number, self._state(evse), self.clock.now()))

    async def reboot(self, *, reason: str) -> None:
        await self._reboot(self.clock.elapsed(), reason=reason)

    def arrive(
        self,
        evse: int,
        id_tag: str,
        *,
        energy_wh: float = 10_000.0,
        dwell_s: float = 3600.0,
        soc: float = 0.2,
    ) -> None:
        """An EV with ``id_tag`` plugs in at ``evse`` now (as if it were in the plan)."""
        arrival = Arrival(self.clock.elapsed(), id_tag, energy_wh, dwell_s, soc)
        self.mailbox.put_nowait(Plug(evse, arrival))

    async def _plug(self, plug: Plug) -> None:
        evse = self.evses[plug.evse - 1]
        if evse.session is None and evse.available and reserved_for(evse, plug.arrival.id_tag):
            await self._plug_in(evse, plug.arrival, self.clock.elapsed())

    def _free_evse(self, number: int | None, id_tag: str) -> Evse | None:
        for evse in self.evses:
            if (
                (number is None or evse.number == number)
                and evse.session is None
                and evse.available
                and reserved_for(evse, id_tag)
            ):
                return evse
        return None

    def _remote_start(
        self, id_tag: str, number: int | None, remote_id: int | None
    ) -> tuple[Payload, Any]:
        evse = self._free_evse(number, id_tag)
        if evse is None or self.link is None:
            return {"status": "Rejected"}, None
        sessions = self.scenario.sessions
        now = self.clock.elapsed()
        arrival = Arrival(
            now, id_tag, sessions.energy_kwh_mean * 1000.0, sessions.dwell_minutes_mean * 60.0, 0.2
        )
        return {"status": "Accepted"}, lambda: self._plug_in(
            evse, arrival, now, remote_start_id=remote_id if remote_id is not None else -1
        )

    def _remote_stop(self, transaction_id: str) -> tuple[Payload, Any]:
        for evse in self.evses:
            if evse.session is not None and evse.session.transaction_id == transaction_id:
                evse.session.stop_reason = "Remote"
                return {"status": "Accepted"}, lambda evse=evse: self._stop(
                    evse, self.clock.elapsed()
                )
        return {"status": "Rejected"}, None

    def _reset(self) -> tuple[Payload, Any]:
        return {"status": "Accepted"}, lambda: self._reboot(
            self.clock.elapsed(), reason="RemoteReset"
        )

    def _availability(self, number: int, operative: bool) -> tuple[Payload, Any]:
        targets = [e for e in self.evses if number in (0, e.number)]

        async def apply() -> None:
            for evse in targets:
                evse.available = operative
                if evse.session is None:
                    state = "available" if operative else "unavailable"
                    await self._call(*self.dialect.status(evse.number, state, self.clock.now()))

        busy = any(e.session is not None for e in targets)
        return {"status": "Scheduled" if busy else "Accepted"}, apply

    def _trigger(self, requested: str) -> tuple[Payload, Any]:
        now = self.clock.now()
        if requested == "Heartbeat":
            return {"status": "Accepted"}, lambda: self._call("Heartbeat", {})
        if requested == "StatusNotification":

            async def statuses() -> None:
                for evse in self.evses:
                    await self._call(*self.dialect.status(evse.number, self._state(evse), now))

            return {"status": "Accepted"}, statuses
        if requested == "BootNotification":
            model = self.spec.model
            reason = "Triggered"
            return {"status": "Accepted"}, lambda: self._call(
                *self.dialect.boot(
                    model.vendor, model.model, self.id, reason, self.firmware_version
                )
            )
        if requested in ("DiagnosticsStatusNotification", "LogStatusNotification"):
            # 1.6 section 5.17 / 2.0.1 F06: Idle, no upload being under way when asked.
            return {"status": "Accepted"}, lambda: self._call(requested, {"status": "Idle"})
        if requested == "FirmwareStatusNotification":
            # 1.6 section 5.17 / 2.0.1 F06: Idle unless an update is under way.
            status = self.firmware_status if self.firmware_job is not None else "Idle"
            return {"status": "Accepted"}, lambda: self._call(
                "FirmwareStatusNotification", {"status": status}
            )
        return {"status": "NotImplemented"}, None


def _constant(payload: Payload) -> Callable[[], Payload]:
    """A queued message whose payload is complete when it is queued (2.x, and 1.6 starts)."""
    return lambda: payload


# Handlers of CSMS-initiated calls: (station, payload) -> (response, follow-up coroutine factory).
Handler = Callable[[SimStation, Payload], tuple[Payload, Any]]
_Handler = Handler

_SMART_CHARGING = frozenset(
    {"SetChargingProfile", "ClearChargingProfile", "GetCompositeSchedule", "GetChargingProfiles"}
)
_RESERVATIONS = frozenset({"ReserveNow", "CancelReservation"})
_LOCAL_LIST = frozenset({"SendLocalList", "GetLocalListVersion"})
_DISPLAY = frozenset({"SetDisplayMessage", "GetDisplayMessages", "ClearDisplayMessage"})
_PUBLISHING = frozenset({"PublishFirmware", "UnpublishFirmware"})


_HANDLERS_16: dict[str, _Handler] = {
    "RemoteStartTransaction": lambda st, p: st._remote_start(
        p["idTag"], p.get("connectorId"), None
    ),
    "RemoteStopTransaction": lambda st, p: st._remote_stop(str(p["transactionId"])),
    "Reset": lambda st, p: st._reset(),
    "UnlockConnector": lambda st, p: ({"status": "Unlocked"}, None),
    "ChangeAvailability": lambda st, p: st._availability(
        p["connectorId"], p["type"] == "Operative"
    ),
    **configuration.HANDLERS_16,
    "TriggerMessage": lambda st, p: st._trigger(p["requestedMessage"]),
    "ClearCache": lambda st, p: ({"status": "Accepted"}, None),
    "DataTransfer": lambda st, p: ({"status": "UnknownVendorId"}, None),
    **smart_charging.HANDLERS_16,
    **reservations.HANDLERS_16,
    **local_list.HANDLERS_16,
    **maintenance.HANDLERS_16,
}


def _transaction_status(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    response: Payload = {"messagesInQueue": bool(st.queue)}
    if "transactionId" in p:
        response["ongoingIndicator"] = any(
            e.session is not None and e.session.transaction_id == p["transactionId"]
            for e in st.evses
        )
    return response, None


_HANDLERS_2: dict[str, _Handler] = {
    "RequestStartTransaction": lambda st, p: st._remote_start(
        p["idToken"]["idToken"], p.get("evseId"), p["remoteStartId"]
    ),
    "RequestStopTransaction": lambda st, p: st._remote_stop(p["transactionId"]),
    "Reset": lambda st, p: st._reset(),
    "UnlockConnector": lambda st, p: ({"status": "Unlocked"}, None),
    "ChangeAvailability": lambda st, p: st._availability(
        (p.get("evse") or {}).get("id", 0), p["operationalStatus"] == "Operative"
    ),
    **configuration.HANDLERS_2,
    "TriggerMessage": lambda st, p: st._trigger(p["requestedMessage"]),
    "ClearCache": lambda st, p: ({"status": "Accepted"}, None),
    "DataTransfer": lambda st, p: ({"status": "UnknownVendorId"}, None),
    "GetTransactionStatus": _transaction_status,
    **smart_charging.HANDLERS_2,
    **reservations.HANDLERS_2,
    **local_list.HANDLERS_2,
    **maintenance.HANDLERS_2,
    **display.HANDLERS_2,
    **publishing.HANDLERS_2,
}
