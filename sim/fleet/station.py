"""One simulated charging station: an actor with its own mailbox, driven by its plan and by the CSMS.

The station boots, reports its EVSEs, heartbeats, and serves the EVs of its plan: Authorize, start,
meter values at the model's interval while the battery charges (constant power, then a taper), and a
stop when the EV leaves. It answers the CSMS's commands as a real charger does, and suffers the
scenario's faults. Transaction messages it could not deliver (offline, connection lost, no answer)
are queued and replayed in order on the next connection, as chargers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from actors.mailbox import Mailbox
from csms.payloads.timestamps import ocpp_time
from sim.fleet.clock import SimClock
from sim.fleet.dialect import Dialect16, Payload, Session, dialect_for
from sim.fleet.link import CallFailed, Link
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
from sim.fleet.results import SessionRecord
from sim.fleet.tally import FleetTally

if TYPE_CHECKING:
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


Message = CsmsCall | LinkLost


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


class SimStation:
    """Run with ``await station.run(stop_at)``; ``stop_at`` is a ``time.monotonic()`` instant."""

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
        }

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
        finally:
            await self._finish()

    def _next_wake(self) -> float:
        times = [self.next_heartbeat, self.offline_until or _FOREVER]
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
        for evse in self.evses:
            if evse.session is not None and evse.next_meter <= now:
                await self._meter(evse, now)
            if evse.session is not None and evse.leave_at <= now:
                evse.session.stop_reason = "EVDeparted"
                await self._stop(evse, now)
            while evse.session is None and evse.next_arrival and evse.next_arrival.at <= now:
                arrival, evse.next_arrival = evse.next_arrival, next(evse.arrivals, None)
                if evse.available:
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
        auth = aiohttp.BasicAuth(self.id, csms.password) if csms.password else None
        while self.link is None:
            if time.monotonic() >= self.stop_at:
                return
            try:
                ws = await self.http.ws_connect(
                    f"{csms.url.rstrip('/')}/{self.id}",
                    protocols=[self.spec.version],
                    auth=auth,
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
        action, payload = self.dialect.boot(model.vendor, model.model, self.id, reason)
        while self.link is not None and time.monotonic() < self.stop_at:
            try:
                reply = await self._send(action, payload)
            except CallFailed:
                return
            if reply.get("status") == "Accepted":
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
            state = "available" if evse.available else "unavailable"
            if evse.session is not None:
                state = "charging" if evse.session.charging else "suspended"
            await self._call(*self.dialect.status(evse.number, state, now))

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
        await self._call(*self.dialect.status(evse.number, "occupied", when))
        if sessions.authorize and remote_start_id is None:
            reply = await self._call(*self.dialect.authorize(arrival.id_tag))
            status = self.dialect.authorized(reply) if reply is not None else "Offline"
            if status not in ("Accepted", "Offline"):
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
                await self._call(*self.dialect.status(evse.number, "available", when))
                return
        session = Session(evse.number, arrival.id_tag, when, evse.register_wh)
        session.remote_start_id = remote_start_id
        if not isinstance(self.dialect, Dialect16):
            session.transaction_id = f"{self._tx_ids.getrandbits(64):016x}"
        evse.session = session
        evse.battery = EvBattery(
            capacity_wh=sessions.battery_kwh * 1000.0,
            soc=arrival.soc,
            max_power_w=min(self.spec.model.max_power_kw, sessions.ev_max_power_kw) * 1000.0,
            taper_soc=sessions.taper_soc,
        )
        evse.target_wh = arrival.energy_wh
        evse.leave_at = now + arrival.dwell_s
        evse.next_meter = now + self.spec.model.meter_interval
        evse.last_update = now
        self.tally.active_sessions += 1
        self.tally.sessions_started += 1
        trigger = "RemoteStart" if remote_start_id is not None else "Authorized"
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
        return evse.battery.power_w() if evse.session.charging else 0.0

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
        await self._call(*self.dialect.status(evse.number, "available", when))

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
        if link is None:
            return
        handler = _HANDLERS_16 if isinstance(self.dialect, Dialect16) else _HANDLERS_2
        method = handler.get(call.action)
        if method is None:
            code = "NotImplemented" if isinstance(self.dialect, Dialect16) else "NotSupported"
            await link.answer_error(call.unique_id, code, f"{call.action} is not simulated")
            return
        response, after = method(self, call.payload)
        await link.answer(call.unique_id, response)
        if after is not None:
            await after()

    def _free_evse(self, number: int | None) -> Evse | None:
        for evse in self.evses:
            if (
                (number is None or evse.number == number)
                and evse.session is None
                and evse.available
            ):
                return evse
        return None

    def _remote_start(
        self, id_tag: str, number: int | None, remote_id: int | None
    ) -> tuple[Payload, Any]:
        evse = self._free_evse(number)
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
                    state = (
                        "charging"
                        if evse.session
                        else "available"
                        if evse.available
                        else "unavailable"
                    )
                    await self._call(*self.dialect.status(evse.number, state, now))

            return {"status": "Accepted"}, statuses
        if requested == "BootNotification":
            model = self.spec.model
            reason = "Triggered"
            return {"status": "Accepted"}, lambda: self._call(
                *self.dialect.boot(model.vendor, model.model, self.id, reason)
            )
        return {"status": "NotImplemented"}, None


def _constant(payload: Payload) -> Callable[[], Payload]:
    """A queued message whose payload is complete when it is queued (2.x, and 1.6 starts)."""
    return lambda: payload


# Handlers of CSMS-initiated calls: (station, payload) -> (response, follow-up coroutine factory).
_Handler = Callable[[SimStation, Payload], tuple[Payload, Any]]


def _get_configuration(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    wanted = p.get("key") or list(st.configuration)
    known = [
        {"key": k, "readonly": False, "value": st.configuration[k]}
        for k in wanted
        if k in st.configuration
    ]
    response: Payload = {"configurationKey": known}
    unknown = [k for k in wanted if k not in st.configuration]
    if unknown:
        response["unknownKey"] = unknown
    return response, None


def _change_configuration(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    if p["key"] not in st.configuration:
        return {"status": "NotSupported"}, None
    st.configuration[p["key"]] = p["value"]
    return {"status": "Accepted"}, None


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
    "GetConfiguration": _get_configuration,
    "ChangeConfiguration": _change_configuration,
    "TriggerMessage": lambda st, p: st._trigger(p["requestedMessage"]),
    "ClearCache": lambda st, p: ({"status": "Accepted"}, None),
    "DataTransfer": lambda st, p: ({"status": "UnknownVendorId"}, None),
}

_VARIABLES = {("OCPPCommCtrlr", "HeartbeatInterval"), ("SampledDataCtrlr", "TxUpdatedInterval")}


def _variable_value(st: SimStation, component: str, variable: str) -> str | None:
    if (component, variable) == ("OCPPCommCtrlr", "HeartbeatInterval"):
        return st.configuration["HeartbeatInterval"]
    if (component, variable) == ("SampledDataCtrlr", "TxUpdatedInterval"):
        return st.configuration["MeterValueSampleInterval"]
    return None


def _get_variables(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    results = []
    for data in p["getVariableData"]:
        value = _variable_value(st, data["component"]["name"], data["variable"]["name"])
        result: Payload = {
            "attributeStatus": "Accepted" if value is not None else "UnknownVariable",
            "component": data["component"],
            "variable": data["variable"],
        }
        if value is not None:
            result["attributeValue"] = value
        results.append(result)
    return {"getVariableResult": results}, None


def _set_variables(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    results = []
    for data in p["setVariableData"]:
        key = (data["component"]["name"], data["variable"]["name"])
        known = key in _VARIABLES
        if known:
            name = (
                "HeartbeatInterval" if key[1] == "HeartbeatInterval" else "MeterValueSampleInterval"
            )
            st.configuration[name] = data["attributeValue"]
        results.append(
            {
                "attributeStatus": "Accepted" if known else "UnknownVariable",
                "component": data["component"],
                "variable": data["variable"],
            }
        )
    return {"setVariableResult": results}, None


def _base_report(st: SimStation, p: Payload) -> tuple[Payload, Any]:
    request_id = p["requestId"]

    async def report() -> None:
        data = [
            {
                "component": {"name": component},
                "variable": {"name": variable},
                "variableAttribute": [
                    {
                        "value": _variable_value(st, component, variable) or "",
                        "mutability": "ReadWrite",
                    }
                ],
                "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": False},
            }
            for component, variable in sorted(_VARIABLES)
        ]
        await st._call(
            "NotifyReport",
            {
                "requestId": request_id,
                "generatedAt": ocpp_time(st.clock.now()),
                "seqNo": 0,
                "tbc": False,
                "reportData": data,
            },
        )

    return {"status": "Accepted"}, report


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
    "GetVariables": _get_variables,
    "SetVariables": _set_variables,
    "GetBaseReport": _base_report,
    "TriggerMessage": lambda st, p: st._trigger(p["requestedMessage"]),
    "ClearCache": lambda st, p: ({"status": "Accepted"}, None),
    "DataTransfer": lambda st, p: ({"status": "UnknownVendorId"}, None),
    "GetTransactionStatus": _transaction_status,
}
