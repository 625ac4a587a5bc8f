"""Site load management end to end: real 1.6 and 2.0.1 chargers on one site, each obeying the
profiles it accepts, and a model of what they may draw checked at every profile they apply."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
from websockets import Subprotocol

from csms.events import EventFilter
from tests.ocpp_charger import Charger16
from tests.ocpp_charger2 import Charger201
from tests.server_fixtures import Running
from tests.timing import UNIT, eventually
from tests.v2_calls import boot_payload, call2, energy, transaction_event, ts

ASSUMED_MAX = 32.0
"""What a session may draw before any profile of the site reached its charger (A per phase)."""
EPS = 1e-6


Periods = list[tuple[float, float]]
"""(start in seconds from the transaction's start, limit) of a Relative profile."""


def limit_after(periods: Periods, elapsed: float) -> float:
    """The limit of a Relative schedule ``elapsed`` seconds after the transaction started."""
    return [limit for start, limit in periods if start <= elapsed][-1]


@dataclass
class Grid:
    """What the site's chargers applied, in the order they received it, and what each active
    session may draw by it: its TxProfile, else the TxDefaultProfile of its EVSE or its station
    (Relative: from the session's start), else anything (``ASSUMED_MAX``)."""

    limit: float
    log: list[tuple[str, int, str, float]] = field(default_factory=list)
    """(station, EVSE, purpose, limit of the profile's last period) of every profile applied."""
    sessions: dict[tuple[str, int], tuple[str, float]] = field(default_factory=dict)
    """(station, EVSE) -> (transaction id, when it started), of the sessions charging now."""
    tx_limits: dict[tuple[str, int], tuple[str, float]] = field(default_factory=dict)
    defaults: dict[tuple[str, int], Periods] = field(default_factory=dict)
    raises: list[tuple[float, float]] = field(default_factory=list)
    """(the sum of what the sessions may draw, the limit in force) after each TxProfile that let
    its session draw more than before, and after each session's start."""

    def default(self, station: str, evse: int = 0) -> float | None:
        """What a session of the default of (station, EVSE) may draw once its hold is over."""
        periods = self.defaults.get((station, evse))
        return None if periods is None else periods[-1][1]

    def may_draw(self, key: tuple[str, int]) -> float:
        tx = self.tx_limits.get(key)
        session = self.sessions.get(key)
        if tx is not None and session is not None and tx[0] == session[0]:
            return tx[1]
        station, _ = key
        periods = self.defaults.get(key, self.defaults.get((station, 0)))
        if periods is None:
            return ASSUMED_MAX
        elapsed = 0.0 if session is None else time.monotonic() - session[1]
        return limit_after(periods, elapsed)

    def total(self) -> float:
        return sum(self.may_draw(key) for key in self.sessions)

    def applied(
        self, station: str, evse: int, purpose: str, periods: Periods, tx: str | None
    ) -> None:
        self.log.append((station, evse, purpose, periods[-1][1]))
        if purpose == "TxDefaultProfile":
            self.defaults[(station, evse)] = periods
            return
        session = self.sessions.get((station, evse))
        assert tx is not None and session is not None and session[0] == tx, (station, evse, tx)
        before = self.may_draw((station, evse))
        self.tx_limits[(station, evse)] = (tx, limit_after(periods, 0.0))
        if self.tx_limits[(station, evse)][1] > before:
            self.raises.append((self.total(), self.limit))

    def started(self, station: str, evse: int, tx: str) -> None:
        """A session starts drawing what its default allows (the CSMS learns of it after)."""
        self.sessions[(station, evse)] = (tx, time.monotonic())
        self.raises.append((self.total(), self.limit))

    def ended(self, station: str, evse: int) -> None:
        self.sessions.pop((station, evse), None)
        self.tx_limits.pop((station, evse), None)

    def tx_profiles(self, station: str) -> list[float]:
        return [lim for s, _, p, lim in self.log if s == station and p == "TxProfile"]

    def limit_of(self, station: str, evse: int = 1) -> float | None:
        tx = self.tx_limits.get((station, evse))
        return None if tx is None else tx[1]

    def never_over(self) -> None:
        """Neither a profile that let a session draw more nor a session's start left the sessions
        able to draw more together than the limit in force (lowering comes first, a start is
        held at 0 by its default), and they cannot now."""
        assert self.raises, self.log
        assert all(total <= limit + EPS for total, limit in self.raises), (self.raises, self.log)
        assert self.total() <= self.limit + EPS, self.log


class SiteCharger16(Charger16):
    """A 1.6 charger that keeps the profiles it accepts in ``grid``."""

    grid: Grid
    answer = "Accepted"

    @on(Action.set_charging_profile)  # type: ignore[untyped-decorator]
    async def set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any]
    ) -> call_result.SetChargingProfile:
        self._note("SetChargingProfile", connector_id=connector_id, profile=cs_charging_profiles)
        if self.answer == "Accepted":
            tx = cs_charging_profiles.get("transaction_id")
            self.grid.applied(
                self.id,
                connector_id,
                cs_charging_profiles["charging_profile_purpose"],
                _periods(cs_charging_profiles["charging_schedule"]),
                None if tx is None else str(tx),
            )
        return call_result.SetChargingProfile(status=self.answer)

    @on(Action.clear_charging_profile)  # type: ignore[untyped-decorator]
    async def clear_charging_profile(self, **kwargs: Any) -> call_result.ClearChargingProfile:
        self._note("ClearChargingProfile", **kwargs)
        return call_result.ClearChargingProfile(status="Accepted")


class SiteCharger201(Charger201):
    """A 2.0.1 charger that keeps the profiles it accepts in ``grid`` (``overrides`` as usual:
    ``{"SetChargingProfile": {"status": "Rejected"}}`` refuses them)."""

    grid: Grid

    @on("SetChargingProfile")  # type: ignore[untyped-decorator]
    async def _ocpp_on_set_charging_profile(self, **kwargs: Any) -> Any:
        reply = await Charger201._ocpp_on_set_charging_profile(self, **kwargs)
        if reply.status == "Accepted":
            profile = kwargs["charging_profile"]
            self.grid.applied(
                self.id,
                kwargs["evse_id"],
                profile["charging_profile_purpose"],
                _periods(profile["charging_schedule"][0]),
                profile.get("transaction_id"),
            )
        return reply


def _periods(schedule: dict[str, Any]) -> Periods:
    """The periods of a Relative charging schedule (both versions), as the ocpp package gives
    them (snake_case keys)."""
    assert schedule.get("start_schedule") is None, schedule
    return [
        (float(p["start_period"]), float(p["limit"])) for p in schedule["charging_schedule_period"]
    ]


@contextlib.asynccontextmanager
async def site_charger16(
    server: Running, station_id: str, grid: Grid
) -> AsyncIterator[SiteCharger16]:
    async with websockets.connect(
        f"{server.ocpp_url}/{station_id}", subprotocols=[Subprotocol("ocpp1.6")]
    ) as ws:
        cp = SiteCharger16(station_id, ws, response_timeout=200 * UNIT)
        cp.grid = grid
        loop = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop


@contextlib.asynccontextmanager
async def site_charger201(
    server: Running, station_id: str, grid: Grid
) -> AsyncIterator[SiteCharger201]:
    async with websockets.connect(
        f"{server.ocpp_url}/{station_id}", subprotocols=[Subprotocol("ocpp2.0.1")]
    ) as ws:
        cp = SiteCharger201(station_id, ws, response_timeout=200 * UNIT)
        cp.grid = grid
        loop = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop
            await cp.stop_tasks()


async def boot16(cp: SiteCharger16) -> None:
    boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    assert boot.status == "Accepted"


async def start16(server: Running, cp: SiteCharger16, tag: str, connector: int = 1) -> str:
    await server.put(f"/api/v1/id-tags/{tag}", {"status": "Accepted"})
    started = await cp.call(
        call.StartTransaction(connector_id=connector, id_tag=tag, meter_start=0, timestamp=ts())
    )
    assert started.id_tag_info["status"] == "Accepted"
    tx = str(started.transaction_id)
    cp.grid.started(cp.id, connector, tx)
    return tx


async def stop16(cp: SiteCharger16, tx: str, connector: int = 1) -> None:
    # The charger stops drawing first, then tells the CSMS (1.6 section 4.10).
    cp.grid.ended(cp.id, connector)
    await cp.call(call.StopTransaction(meter_stop=1000, timestamp=ts(10), transaction_id=int(tx)))


async def boot2(cp: SiteCharger201) -> None:
    assert (await call2(cp, "BootNotification", boot_payload()))["status"] == "Accepted"


async def start2(server: Running, cp: SiteCharger201, tag: str, tx: str, evse: int = 1) -> None:
    await server.put(f"/api/v1/id-tags/{tag}", {"status": "Accepted", "type": "ISO14443"})
    cp.grid.started(cp.id, evse, tx)
    started = await call2(
        cp,
        "TransactionEvent",
        transaction_event(
            "Started",
            0,
            tx,
            minutes=0,
            trigger="Authorized",
            meter=[energy(0, 0, "Transaction.Begin")],
            idToken={"idToken": tag, "type": "ISO14443"},
            evse={"id": evse, "connectorId": 1},
            info={"chargingState": "Charging"},
        ),
    )
    assert started["idTokenInfo"]["status"] == "Accepted"


async def stop2(cp: SiteCharger201, tx: str, evse: int = 1) -> None:
    cp.grid.ended(cp.id, evse)
    await call2(
        cp,
        "TransactionEvent",
        transaction_event(
            "Ended",
            1,
            tx,
            minutes=10,
            trigger="EVDeparted",
            meter=[energy(1000, 10, "Transaction.End")],
            info={"stoppedReason": "EVDisconnected"},
        ),
    )


def site(limit: float, *stations: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Depot A",
        "limit": {"unit": "A", "value": limit, "phases": 3},
        "min_current": 6.0,
        "members": [{"station_id": s, "evse_id": None, "priority": 0} for s in stations],
        **extra,
    }


async def allocation(server: Running, site_id: str = "depot") -> dict[str, Any]:
    status, body = await server.get(f"/api/v1/sites/{site_id}/allocation")
    assert status == 200, body
    result: dict[str, Any] = body
    return result


def shares(view: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {s["station_id"]: (s["limit"], s["status"]) for s in view["sessions"]}


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    return server_on_each_db


async def test_sessions_share_the_limit_decreases_go_first_and_an_end_gives_it_back(
    server: Running,
) -> None:
    grid = Grid(limit=40.0)
    status, body = await server.put("/api/v1/sites/depot", site(40.0, "S16", "S201"))
    assert status == 201, body
    async with (
        site_charger16(server, "S16", grid) as a,
        site_charger201(server, "S201", grid) as b,
    ):
        await boot16(a)
        await boot2(b)
        # Members are held at the minimum until a session's share is known.
        await eventually(lambda: grid.default("S16") == 6.0, what="1.6 default")
        await eventually(lambda: grid.default("S201") == 6.0, what="2.0.1 default")
        # A session that starts waits at 0 for its share, for up to two minutes.
        held = [(0.0, 0.0), (120.0, 6.0)]
        assert grid.defaults[("S16", 0)] == grid.defaults[("S201", 0)] == held

        tx_a = await start16(server, a, "TAG-A")
        await eventually(lambda: grid.limit_of("S16") == 40.0, what="alone: the whole limit")

        await start2(server, b, "TAG-B", "tx-b")
        await eventually(lambda: grid.limit_of("S201") == 20.0, what="the second gets half")
        assert grid.limit_of("S16") == 20.0
        # The 1.6 session was lowered before the 2.0.1 one was raised.
        order = [(s, lim) for s, _, p, lim in grid.log if p == "TxProfile"]
        assert order.index(("S16", 20.0)) < order.index(("S201", 20.0))
        both = {"S16": (20.0, "accepted"), "S201": (20.0, "accepted")}
        view = await eventually(
            lambda: _when(allocation(server), lambda v: shares(v) == both), what="view"
        )
        assert view["allocated"] == 40.0
        assert view["limit"] == {"unit": "A", "value": 40.0, "phases": 3}
        transactions = {s["station_id"]: s["transaction_id"] for s in view["sessions"]}
        assert transactions == {"S16": tx_a, "S201": "S201,tx-b"}

        await stop16(a, tx_a)
        await eventually(lambda: grid.limit_of("S201") == 40.0, what="the share given back")
        view = await eventually(
            lambda: _when(allocation(server), lambda v: shares(v) == {"S201": (40.0, "accepted")}),
            what="one left, accepted",
        )
        assert view["allocated"] == 40.0
        await stop2(b, "tx-b")
    grid.never_over()


async def _when(view: Any, condition: Any) -> Any:
    value = await view
    return value if condition(value) else None


async def test_a_lower_limit_is_shared_out_again_and_priorities_are_served_first(
    server: Running,
) -> None:
    grid = Grid(limit=60.0)
    members = [
        {"station_id": "P16", "evse_id": 1, "priority": 0},
        {"station_id": "P201", "evse_id": 1, "priority": 0},
    ]
    body = {**site(60.0), "members": members}
    assert (await server.put("/api/v1/sites/depot", body))[0] == 201
    published = server.node.events.subscribe(EventFilter(types=["site.allocated"]))
    async with (
        site_charger16(server, "P16", grid) as a,
        site_charger201(server, "P201", grid) as b,
    ):
        await boot16(a)
        await boot2(b)
        await eventually(lambda: grid.default("P16", 1) == 6.0, what="EVSE default")
        await start16(server, a, "TAG-PA")
        # (Started together, the first could be raised before the CSMS knew of the second.)
        await eventually(lambda: grid.limit_of("P16") == 60.0, what="alone: the whole limit")
        await start2(server, b, "TAG-PB", "tx-pb")
        await eventually(
            lambda: (grid.limit_of("P16"), grid.limit_of("P201")) == (30.0, 30.0), what="halves"
        )

        # The limit falls: both are lowered before anything is raised.
        grid.limit = 30.0
        status, _ = await server.put(
            "/api/v1/sites/depot", {**body, "limit": {"unit": "A", "value": 30.0}}
        )
        assert status == 200
        await eventually(
            lambda: (grid.limit_of("P16"), grid.limit_of("P201")) == (15.0, 15.0), what="15 each"
        )
        grid.never_over()

        # The 2.0.1 EVSE becomes the priority: it takes what is left above the other's minimum.
        members[1]["priority"] = 5
        status, _ = await server.put(
            "/api/v1/sites/depot", {**body, "limit": {"unit": "A", "value": 30.0}}
        )
        assert status == 200
        await eventually(
            lambda: (grid.limit_of("P16"), grid.limit_of("P201")) == (6.0, 24.0), what="priority"
        )
        grid.never_over()
        order = [(s, lim) for s, _, p, lim in grid.log if p == "TxProfile"]
        assert order.index(("P16", 6.0)) < order.index(("P201", 24.0))

        # Every change of the allocation was published, the last one as the REST view shows it
        # (checked while connected: a round after the chargers hang up publishes its own).
        final = {"P16": (6.0, "accepted"), "P201": (24.0, "accepted")}
        events: list[dict[str, Any]] = []

        def published_final() -> bool:
            while (event := published.take_now()) is not None:
                events.append(event.data)
            return bool(events) and shares(events[-1]) == final

        await eventually(published_final, what="the final allocation published")
        published.close()
        assert events[-1] == {**await allocation(server), "computed_at": events[-1]["computed_at"]}
        limits = [{s["station_id"]: s["limit"] for s in e["sessions"]} for e in events]
        assert {"P16": 6.0, "P201": 24.0} in limits
        assert {"P16": 15.0, "P201": 15.0} in limits


async def test_a_charger_that_rejects_keeps_its_draw_counted(server: Running) -> None:
    grid = Grid(limit=40.0)
    assert (await server.put("/api/v1/sites/depot", site(40.0, "R16", "R201")))[0] == 201
    async with (
        site_charger16(server, "R16", grid) as a,
        site_charger201(server, "R201", grid) as b,
    ):
        a.answer = "Rejected"  # refuses every profile, its default too
        await boot16(a)
        await boot2(b)
        await eventually(lambda: grid.default("R201") == 6.0, what="2.0.1 default")
        await start16(server, a, "TAG-RA")
        await start2(server, b, "TAG-RB", "tx-rb")
        # The 1.6 session may draw the assumed maximum: the 2.0.1 one gets the rest.
        await eventually(lambda: grid.limit_of("R201") == 40.0 - ASSUMED_MAX, what="the rest")
        view = await eventually(
            lambda: _when(
                allocation(server),
                lambda v: (
                    shares(v).get("R16", (0, ""))[1] == "rejected"
                    and shares(v).get("R201", (0, ""))[1] == "accepted"
                ),
            ),
            what="rejected in the view",
        )
        assert view["allocated"] == 40.0
        assert a.received and all(
            name == "SetChargingProfile" for name, _ in a.received if name != "GetConfiguration"
        )
    grid.never_over()


async def test_deleting_a_site_clears_its_profiles(server: Running) -> None:
    grid = Grid(limit=40.0)
    assert (await server.put("/api/v1/sites/depot", site(40.0, "D16", "D201")))[0] == 201
    async with (
        site_charger16(server, "D16", grid) as a,
        site_charger201(server, "D201", grid) as b,
    ):
        await boot16(a)
        await boot2(b)
        await eventually(lambda: grid.default("D201") == 6.0, what="defaults")
        assert await server.delete("/api/v1/sites/depot") == 204
        cleared16 = await eventually(
            lambda: [kw for name, kw in a.received if name == "ClearChargingProfile"],
            what="1.6 cleared",
        )
        cleared2 = await eventually(lambda: b.calls("ClearChargingProfile"), what="2.0.1 cleared")
        assert cleared16[0]["stack_level"] == 90
        assert cleared2[0]["charging_profile_criteria"]["stack_level"] == 90
    assert (await server.get("/api/v1/sites/depot"))[0] == 404
    assert await server.delete("/api/v1/sites/depot") == 404


async def test_a_station_that_reconnects_gets_its_default_again(server: Running) -> None:
    grid = Grid(limit=40.0)
    assert (await server.put("/api/v1/sites/depot", site(40.0, "C201")))[0] == 201
    async with site_charger201(server, "C201", grid) as b:
        await boot2(b)
        await eventually(lambda: len(b.calls("SetChargingProfile")) >= 1, what="first default")
    grid.defaults.clear()
    async with site_charger201(server, "C201", grid) as b:
        await eventually(lambda: grid.default("C201") == 6.0, what="default again")
