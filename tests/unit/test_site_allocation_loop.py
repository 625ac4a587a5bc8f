"""The site loop against a real store and stations that answer from a table: the schedule's timer,
leadership (only the leading member sends profiles), sites in watts, and members that leave."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.events import EventBus
from csms.sites.loop import SiteLoopSettings, site_loop
from csms.station.features import FeatureContext
from gateway.calls import CommandResult, StationNotConnected
from persistence.models import device_variables, transactions
from persistence.reads import EngineReads
from persistence.sites import ScheduleEntry, Site, SiteMember, save_site
from persistence.writer import GroupCommitWriter
from tests.timing import UNIT, eventually
from transport.versions import OcppVersion

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Stations:
    """Connected stations answering every call ``answer``; the calls they got, in order."""

    def __init__(
        self,
        versions: dict[str, OcppVersion],
        answer: str = "Accepted",
        *,
        tx_answer: str | None = None,
    ) -> None:
        self.versions = versions
        self.answer = answer
        self.tx_answer = tx_answer
        """The answer to TxProfiles, if not ``answer``."""
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.exchanges: list[tuple[str, str, str]] = []
        """("sent" or "answered", station, what: the action, or the profile's purpose): calls
        sent together are all sent before any is answered."""

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], *, timeout: float
    ) -> CommandResult:
        if station_id not in self.versions:
            raise StationNotConnected(station_id)
        self.calls.append((station_id, action, payload))
        profile = payload.get("chargingProfile") or payload.get("csChargingProfiles") or {}
        what = profile.get("chargingProfilePurpose", action)
        self.exchanges.append(("sent", station_id, what))
        await asyncio.sleep(0)  # the others of a batch are sent meanwhile
        self.exchanges.append(("answered", station_id, what))
        if self.tx_answer is not None and '"TxProfile"' in json.dumps(payload):
            return CommandResult(action, {"status": self.tx_answer})
        return CommandResult(action, {"status": self.answer})

    async def configuration(self, station_id: str) -> dict[str, Any]:
        return {}

    async def version_of(self, station_id: str) -> OcppVersion | None:
        return self.versions.get(station_id)

    def tx_limits(self) -> list[tuple[str, float]]:
        """(station, limit) of every TxProfile sent, in order."""
        sent = []
        for station, action, payload in self.calls:
            if action != "SetChargingProfile":
                continue
            profile = payload.get("chargingProfile") or payload["csChargingProfiles"]
            if profile["chargingProfilePurpose"] != "TxProfile":
                continue
            schedule = profile["chargingSchedule"]
            period = (schedule[0] if isinstance(schedule, list) else schedule)[
                "chargingSchedulePeriod"
            ][0]
            sent.append((station, period["limit"]))
        return sent


async def _open_transaction(
    engine: AsyncEngine, tx: str, station: str, protocol: str, evse: int = 1
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(transactions).values(
                id=tx, station_id=station, evse_id=evse, connector_id=1, protocol=protocol
            )
        )


@contextlib.asynccontextmanager
async def running_loop(
    engine: AsyncEngine,
    stations: Stations,
    *,
    clock: Callable[[], datetime],
    leads: Callable[[], bool],
    tmp_path: Path,
) -> AsyncIterator[EventBus]:
    writer = GroupCommitWriter(engine)
    await writer.start()
    events = EventBus("m1")
    ctx = FeatureContext(
        reads=EngineReads(engine),
        writer=writer,
        router=stations,
        events=events,
        member="m1",
        leads=leads,
        data_dir=tmp_path,
        clock=clock,
    )
    settings = SiteLoopSettings(resync=600.0, call_timeout=20 * UNIT, follower_poll=UNIT)
    task = asyncio.create_task(site_loop(ctx, settings))
    try:
        yield events
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await writer.stop()


def _site(schedule: tuple[ScheduleEntry, ...] = ()) -> Site:
    return Site(
        id="depot",
        name="Depot",
        limit_unit="A",
        limit_value=40.0,
        phases=3,
        min_current=6.0,
        schedule=schedule,
        members=(SiteMember("A16", None), SiteMember("B201", None)),
    )


async def test_the_schedule_lowers_the_sessions_before_its_entry_starts(
    main_engine: AsyncEngine, tmp_path: Path
) -> None:
    # The clock runs from 2 s (40 units) before noon, when the schedule lowers 40 A to 20 A; a
    # station has 1 s (20 units) to answer, so the sessions are lowered from 1 s before noon.
    started = time.monotonic()
    before = 40 * UNIT

    def clock() -> datetime:
        return NOON - timedelta(seconds=before) + timedelta(seconds=time.monotonic() - started)

    await save_site(main_engine, _site((ScheduleEntry(0, 40.0), ScheduleEntry(12 * 60, 20.0))))
    await _open_transaction(main_engine, "7", "A16", "ocpp1.6")
    await _open_transaction(main_engine, "B201,tx", "B201", "ocpp2.0.1")
    stations = Stations({"A16": OcppVersion.V16, "B201": OcppVersion.V201})
    lowered_at: list[datetime] = []

    def lowered() -> bool:
        if sorted(stations.tx_limits()[-2:]) == [("A16", 10.0), ("B201", 10.0)]:
            lowered_at.append(clock())
        return bool(lowered_at)

    async with running_loop(
        main_engine, stations, clock=clock, leads=lambda: True, tmp_path=tmp_path
    ):
        await eventually(lowered, what="the evening limit shared")
    sent = stations.tx_limits()
    assert sorted(sent[:2]) == [("A16", 20.0), ("B201", 20.0)]
    assert NOON - timedelta(seconds=20 * UNIT) <= lowered_at[0] < NOON


async def test_only_the_leading_member_sends(main_engine: AsyncEngine, tmp_path: Path) -> None:
    leading = False
    asked = 0

    def leads() -> bool:
        nonlocal asked
        asked += 1
        return leading

    await save_site(main_engine, _site())
    await _open_transaction(main_engine, "8", "A16", "ocpp1.6")
    stations = Stations({"A16": OcppVersion.V16, "B201": OcppVersion.V201})
    async with running_loop(
        main_engine, stations, clock=lambda: NOON, leads=leads, tmp_path=tmp_path
    ) as events:
        await eventually(lambda: asked >= 1, what="the loop running")
        before = asked
        events.publish("site.changed", None, {"site_id": "depot", "stations": ["A16", "B201"]})
        # A follower takes the event, drops it, asks again whether it leads, waits a poll (a
        # unit: time for a round it should not have started to send) and asks again.
        await eventually(lambda: asked >= before + 3, what="the event taken, a poll later")
        assert stations.calls == []
        leading = True
        await eventually(lambda: ("A16", 40.0) in stations.tx_limits(), what="the leader sends")
    purposes = [
        (p.get("csChargingProfiles") or p["chargingProfile"])["chargingProfilePurpose"]
        for _, _, p in stations.calls
    ]
    # Taking over, it gives every member its default before the session's share.
    assert purposes.index("TxDefaultProfile") < purposes.index("TxProfile")


class HeldStations(Stations):
    """Stations whose answers wait until the test lets them go."""

    def __init__(self, versions: dict[str, OcppVersion]) -> None:
        super().__init__(versions)
        self.release = asyncio.Event()

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], *, timeout: float
    ) -> CommandResult:
        await self.release.wait()
        return await super().call(station_id, action, payload, timeout=timeout)


async def test_a_member_that_stops_leading_mid_round_sends_nothing_more(
    main_engine: AsyncEngine, tmp_path: Path
) -> None:
    leading = True
    await save_site(main_engine, _site())
    await _open_transaction(main_engine, "8", "A16", "ocpp1.6")
    stations = HeldStations({"A16": OcppVersion.V16, "B201": OcppVersion.V201})
    async with running_loop(
        main_engine, stations, clock=lambda: NOON, leads=lambda: leading, tmp_path=tmp_path
    ) as events:
        events.publish("site.changed", None, {"site_id": "depot", "stations": ["A16", "B201"]})
        # Its round waits for the stations' answers; another member takes over meanwhile.
        await asyncio.sleep(5 * UNIT)
        leading = False
        events.publish("site.changed", None, {"site_id": "depot", "stations": ["A16", "B201"]})
        await asyncio.sleep(5 * UNIT)  # a poll of the loop: it notices it no longer leads
        stations.release.set()
        await asyncio.sleep(10 * UNIT)
    assert stations.calls == []


async def test_stations_that_reject_everything_are_counted_at_the_assumed_maximum(
    main_engine: AsyncEngine, tmp_path: Path
) -> None:
    await save_site(main_engine, _site())
    await _open_transaction(main_engine, "9", "A16", "ocpp1.6")
    await _open_transaction(main_engine, "B201,tx", "B201", "ocpp2.0.1")
    stations = Stations({"A16": OcppVersion.V16, "B201": OcppVersion.V201}, answer="Rejected")
    async with running_loop(
        main_engine, stations, clock=lambda: NOON, leads=lambda: True, tmp_path=tmp_path
    ) as events:
        subscription = events.subscribe()
        view = await eventually(
            lambda: _last_allocation(
                subscription, lambda v: {s["status"] for s in v["sessions"]} == {"rejected"}
            ),
            what="both rejected",
        )
    # Over the limit: the site cannot lower what it does not control.
    assert view["allocated"] == 64.0
    assert [s["accepted_limit"] for s in view["sessions"]] == [None, None]


def _last_allocation(subscription: Any, condition: Callable[[dict[str, Any]], bool]) -> Any:
    found = None
    while (event := subscription.take_now()) is not None:
        if event.type == "site.allocated" and condition(event.data):
            found = event.data
    return found


async def test_a_site_in_watts_sends_watts(main_engine: AsyncEngine, tmp_path: Path) -> None:
    site = dataclasses.replace(_site(), limit_unit="W", limit_value=22_000.0)
    await save_site(main_engine, site)
    await _open_transaction(main_engine, "10", "A16", "ocpp1.6")
    await _open_transaction(main_engine, "B201,tx", "B201", "ocpp2.0.1")
    stations = Stations({"A16": OcppVersion.V16, "B201": OcppVersion.V201})
    async with running_loop(
        main_engine, stations, clock=lambda: NOON, leads=lambda: True, tmp_path=tmp_path
    ):
        await eventually(
            lambda: sorted(stations.tx_limits()) == [("A16", 11_000.0), ("B201", 11_000.0)],
            what="11 kW each",
        )
    defaults = [p for _, _, p in stations.calls if "TxDefaultProfile" in str(p)]
    # Held at 0 for two minutes, then the minimum in W: 6 A on 3 phases at 230 V.
    assert len(defaults) == 2
    assert all(_periods_of(p) == [(0, 0.0), (120, 6.0 * 230 * 3)] for p in defaults)
    assert all(_unit_of(p) == "W" for _, _, p in stations.calls)


async def test_a_member_that_leaves_has_the_site_profiles_cleared(
    main_engine: AsyncEngine, tmp_path: Path
) -> None:
    await save_site(main_engine, _site())
    stations = Stations({"A16": OcppVersion.V16, "B201": OcppVersion.V201})
    async with running_loop(
        main_engine, stations, clock=lambda: NOON, leads=lambda: True, tmp_path=tmp_path
    ) as events:
        await eventually(lambda: len(stations.calls) == 2, what="both defaults")
        smaller = dataclasses.replace(_site(), members=(SiteMember("A16", None),))
        await save_site(main_engine, smaller)
        events.publish("site.changed", None, {"site_id": "depot", "stations": ["A16", "B201"]})
        cleared = await eventually(
            lambda: [(s, p) for s, a, p in stations.calls if a == "ClearChargingProfile"],
            what="cleared",
        )
    assert cleared == [("B201", {"chargingProfileCriteria": {"stackLevel": 90}})]


def _profile(payload: dict[str, Any]) -> dict[str, Any]:
    profile: dict[str, Any] = payload.get("chargingProfile") or payload["csChargingProfiles"]
    return profile


def _schedule(payload: dict[str, Any]) -> dict[str, Any]:
    schedule = _profile(payload)["chargingSchedule"]
    chosen: dict[str, Any] = schedule[0] if isinstance(schedule, list) else schedule
    return chosen


def _periods_of(payload: dict[str, Any]) -> list[tuple[int, float]]:
    return [
        (int(p["startPeriod"]), float(p["limit"]))
        for p in _schedule(payload)["chargingSchedulePeriod"]
    ]


def _unit_of(payload: dict[str, Any]) -> str:
    return str(_schedule(payload)["chargingRateUnit"])


async def test_an_evse_rated_below_its_share_gives_the_rest_to_the_others(
    main_engine: AsyncEngine, tmp_path: Path
) -> None:
    # B201's EVSE 1 delivers at most 11,040 W: 16 A on three phases at 230 V.
    async with main_engine.begin() as conn:
        await conn.execute(
            insert(device_variables).values(
                station_id="B201",
                variable_key="evse-1-power",
                component="EVSE",
                evse_id=1,
                variable="Power",
                attribute_type="Actual",
                value="0",
                characteristics={"unit": "W", "dataType": "decimal", "maxLimit": 11040},
                source="NotifyReport",
            )
        )
    await save_site(main_engine, _site())
    await _open_transaction(main_engine, "11", "A16", "ocpp1.6")
    await _open_transaction(main_engine, "B201,tx", "B201", "ocpp2.0.1")
    stations = Stations({"A16": OcppVersion.V16, "B201": OcppVersion.V201})
    async with running_loop(
        main_engine, stations, clock=lambda: NOON, leads=lambda: True, tmp_path=tmp_path
    ):
        await eventually(
            lambda: sorted(stations.tx_limits()) == [("A16", 24.0), ("B201", 16.0)],
            what="the rated EVSE capped, the other given the rest",
        )


async def test_a_session_counts_at_the_default_only_if_it_started_under_it(
    main_engine: AsyncEngine, tmp_path: Path
) -> None:
    # EVSE 1's session ran before its station had the site's default, EVSE 2's started after;
    # the station refuses every TxProfile, so each stays counted at what it may draw by that.
    await save_site(main_engine, dataclasses.replace(_site(), members=(SiteMember("A16", None),)))
    await _open_transaction(main_engine, "12", "A16", "ocpp1.6", evse=1)
    stations = Stations({"A16": OcppVersion.V16}, tx_answer="Rejected")
    async with running_loop(
        main_engine, stations, clock=lambda: NOON, leads=lambda: True, tmp_path=tmp_path
    ) as events:
        subscription = events.subscribe()
        first = await eventually(
            lambda: _last_allocation(
                subscription, lambda v: [s["status"] for s in v["sessions"]] == ["rejected"]
            ),
            what="the running session refused its share",
        )
        assert (first["sessions"][0]["accepted_limit"], first["allocated"]) == (None, 32.0)
        await _open_transaction(main_engine, "13", "A16", "ocpp1.6", evse=2)
        events.publish("transaction.started", "A16", {"transaction_id": "13"})
        view = await eventually(
            lambda: _last_allocation(
                subscription,
                lambda v: [s["status"] for s in v["sessions"]] == ["rejected", "rejected"],
            ),
            what="both refused",
        )
    assert [s["accepted_limit"] for s in view["sessions"]] == [None, 6.0]
    assert view["allocated"] == 38.0
    # The one that started under the default was offered what the other leaves.
    assert stations.tx_limits()[-1] == ("A16", 8.0)


async def test_a_session_of_unknown_draw_gets_its_share_after_the_others_are_lowered(
    main_engine: AsyncEngine, tmp_path: Path
) -> None:
    # B201's session holds the whole limit; A16 joins the site with a session already running
    # (it may draw anything, or, held by an earlier default, nothing): it is given its share only
    # once B201 was lowered to make room, in a step of its own.
    alone = dataclasses.replace(_site(), members=(SiteMember("B201", None),))
    await save_site(main_engine, alone)
    stations = Stations({"A16": OcppVersion.V16, "B201": OcppVersion.V201})
    async with running_loop(
        main_engine, stations, clock=lambda: NOON, leads=lambda: True, tmp_path=tmp_path
    ) as events:
        await eventually(lambda: len(stations.calls) == 1, what="B201's default")
        await _open_transaction(main_engine, "B201,tx", "B201", "ocpp2.0.1")
        events.publish("transaction.started", "B201", {"transaction_id": "B201,tx"})
        await eventually(lambda: stations.tx_limits() == [("B201", 40.0)], what="B201 alone")
        await _open_transaction(main_engine, "14", "A16", "ocpp1.6")
        await save_site(main_engine, _site())
        stations.exchanges.clear()
        events.publish("site.changed", None, {"site_id": "depot", "stations": ["A16", "B201"]})
        await eventually(
            lambda: stations.tx_limits()[1:] == [("B201", 20.0), ("A16", 20.0)], what="halves"
        )
    profiles = [
        (kind, station) for kind, station, what in stations.exchanges if what == "TxProfile"
    ]
    assert profiles == [
        ("sent", "B201"),
        ("answered", "B201"),
        ("sent", "A16"),
        ("answered", "A16"),
    ]


async def test_a_member_that_moves_to_another_site_keeps_that_sites_profiles(
    main_engine: AsyncEngine, tmp_path: Path
) -> None:
    await save_site(main_engine, _site())
    stations = Stations({"A16": OcppVersion.V16, "B201": OcppVersion.V201})
    async with running_loop(
        main_engine, stations, clock=lambda: NOON, leads=lambda: True, tmp_path=tmp_path
    ) as events:
        await eventually(lambda: len(stations.calls) == 2, what="both defaults")
        await save_site(
            main_engine, dataclasses.replace(_site(), members=(SiteMember("A16", None),))
        )
        yard = dataclasses.replace(_site(), id="yard", members=(SiteMember("B201", None),))
        await save_site(main_engine, yard)
        events.publish("site.changed", None, {"site_id": "yard", "stations": ["B201"]})
        events.publish("site.changed", None, {"site_id": "depot", "stations": ["A16", "B201"]})

        def sent_to(station: str) -> int:
            return sum(1 for s, _, _ in stations.calls if s == station)

        # The depot's round (which gives A16 its default again) came after its departure's.
        await eventually(lambda: sent_to("A16") == 2 and sent_to("B201") == 2, what="rounds")
    assert [a for _, a, _ in stations.calls] == ["SetChargingProfile"] * 4


def test_the_hold_is_read_from_the_environment() -> None:
    assert SiteLoopSettings.from_env({}).start_hold == 120.0
    assert SiteLoopSettings.from_env({"VOLTMESH_SITE_START_HOLD": "0"}).start_hold == 0.0
    for bad in ("-1", "soon", "nan"):
        with pytest.raises(ValueError, match="VOLTMESH_SITE_START_HOLD"):
            SiteLoopSettings.from_env({"VOLTMESH_SITE_START_HOLD": bad})
    with pytest.raises(ValueError, match="VOLTMESH_SITE_RESYNC"):
        SiteLoopSettings.from_env({"VOLTMESH_SITE_RESYNC": "0"})


async def test_a_session_left_open_under_a_newer_one_on_its_evse_is_not_shared_to(
    main_engine: AsyncEngine, tmp_path: Path
) -> None:
    # The charger started "16" on EVSE 1 without ending "15": only "16" draws there.
    await save_site(main_engine, dataclasses.replace(_site(), members=(SiteMember("A16", None),)))
    await _open_transaction(main_engine, "15", "A16", "ocpp1.6")
    await _open_transaction(main_engine, "16", "A16", "ocpp1.6")
    stations = Stations({"A16": OcppVersion.V16})
    async with running_loop(
        main_engine, stations, clock=lambda: NOON, leads=lambda: True, tmp_path=tmp_path
    ) as events:
        subscription = events.subscribe()
        view = await eventually(
            lambda: _last_allocation(
                subscription, lambda v: [s["status"] for s in v["sessions"]] == ["accepted"]
            ),
            what="the newer session's share accepted",
        )
    assert [(s["transaction_id"], s["limit"]) for s in view["sessions"]] == [("16", 40.0)]
    assert stations.tx_limits() == [("A16", 40.0)]
