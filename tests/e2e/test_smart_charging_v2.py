"""What 2.x stations report about smart charging, end to end with the ``ocpp`` package's 2.0.1
charger: external limits kept and shown (K12/K13), profiles read back through GetChargingProfiles
and ReportChargingProfiles (K09), and charging needs answered with a TxProfile (K15-K17)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from persistence import charging_profiles as kept_profiles
from persistence.events import station_events_of
from persistence.reads import EngineReads
from tests.ocpp_charger2 import Charger201, charger201
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually
from tests.v2_calls import boot_payload, call2, transaction_event


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    return server_on_each_db


def event_data(server: Running, station: str, kind: str) -> list[dict[str, Any]]:
    return [
        e.data for e in server.node.events.recent() if e.station_id == station and e.type == kind
    ]


async def _booted(cp: Charger201) -> None:
    assert (await call2(cp, "BootNotification", boot_payload()))["status"] == "Accepted"


async def _start(cp: Charger201, tx: str, evse_id: int = 1) -> None:
    await call2(
        cp,
        "TransactionEvent",
        transaction_event(
            "Started",
            0,
            tx,
            minutes=0,
            trigger="CablePluggedIn",
            evse={"id": evse_id, "connectorId": 1},
        ),
    )


async def test_external_limits_are_kept_shown_and_bound_the_composite(server: Running) -> None:
    station = "CS-LIMIT"
    path = f"/api/v1/stations/{station}/charging-limits"
    async with charger201(server.ocpp_url, station) as cp:
        await _booted(cp)
        start = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        reply = await call2(
            cp,
            "NotifyChargingLimit",
            {
                "chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": True},
                "evseId": 1,
                "chargingSchedule": [
                    {
                        "id": 1,
                        "startSchedule": start,
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 9.0}],
                    }
                ],
            },
        )
        assert reply == {}
        await call2(cp, "NotifyChargingLimit", {"chargingLimit": {"chargingLimitSource": "SO"}})
        status, body = await server.get(path)
        assert status == 200
        limits = {(item["evse_id"], item["source"]): item for item in body["items"]}
        assert set(limits) == {(0, "SO"), (1, "EMS")}
        assert limits[1, "EMS"]["grid_critical"] is True
        assert limits[1, "EMS"]["schedules"][0]["chargingSchedulePeriod"][0]["limit"] == 9.0
        assert limits[0, "SO"]["schedules"] is None
        status, composite = await server.get(
            f"/api/v1/stations/{station}/composite-schedule?evse_id=1&duration=60"
        )
        assert status == 200
        assert composite["computed"]["periods"][0]["limit"] == 9.0
        changed = event_data(server, station, "charging_limit.changed")
        assert {"evse_id": 1, "source": "EMS", "grid_critical": True, "cleared": False} in changed

        assert (
            await call2(cp, "ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1})
            == {}
        )
        status, body = await server.get(path)
        assert [(i["evse_id"], i["source"]) for i in body["items"]] == [(0, "SO")]
        assert event_data(server, station, "charging_limit.changed")[-1]["cleared"] is True
    kinds = [k for k, _ in await station_events_of(EngineReads(server.node.engine), station)]
    assert kinds.count("NotifyChargingLimit") == 2 and "ClearedChargingLimit" in kinds


async def test_profiles_are_read_back_from_the_report_parts(server: Running) -> None:
    station = "CS-REPORT"
    path = f"/api/v1/stations/{station}/charging-profiles/report"
    async with charger201(server.ocpp_url, station) as cp:
        await _booted(cp)
        # Nothing to report: answered at once.
        status, body = await server.post(path, {})
        assert status == 200, body
        assert (body["status"], body["complete"], body["parts"]) == ("NoProfiles", True, [])
        asked = cp.calls("GetChargingProfiles")[-1]
        assert asked["charging_profile"] == {"charging_limit_source": ["EMS", "Other", "SO", "CSO"]}

        cp.overrides["GetChargingProfiles"] = {"status": "Accepted"}
        pending = asyncio.create_task(
            server.post(path, {"evse_id": 1, "purpose": "TxDefaultProfile"})
        )
        await eventually(lambda: len(cp.calls("GetChargingProfiles")) == 2, what="asked")
        request = cp.calls("GetChargingProfiles")[-1]
        assert request["evse_id"] == 1
        assert request["charging_profile"] == {"charging_profile_purpose": "TxDefaultProfile"}
        request_id = request["request_id"]

        def part(profile_id: int, tbc: bool) -> dict[str, Any]:
            return {
                "requestId": request_id,
                "chargingLimitSource": "CSO",
                "evseId": 1,
                "tbc": tbc,
                "chargingProfile": [
                    {
                        "id": profile_id,
                        "stackLevel": profile_id,
                        "chargingProfilePurpose": "TxDefaultProfile",
                        "chargingProfileKind": "Relative",
                        "chargingSchedule": [
                            {
                                "id": 1,
                                "chargingRateUnit": "A",
                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
                            }
                        ],
                    }
                ],
            }

        assert await call2(cp, "ReportChargingProfiles", part(1, True)) == {}
        assert not pending.done()
        assert await call2(cp, "ReportChargingProfiles", part(2, False)) == {}
        status, body = await pending
        assert status == 200, body
        assert (body["request_id"], body["status"], body["complete"]) == (
            request_id,
            "Accepted",
            True,
        )
        assert [p["profiles"][0]["id"] for p in body["parts"]] == [1, 2]
        assert body["parts"][0]["profiles"][0]["purpose"] == "TxDefaultProfile"
        assert body["parts"][0]["source"] == "CSO"
        status, again = await server.get(f"{path}/{request_id}")
        assert status == 200 and again["parts"] == body["parts"]
        assert (await server.get(f"{path}/12345"))[0] == 404
        assert "differences" not in body  # a filtered report proves nothing of the rest
        status, problem = await server.post(path, {"sources": ["Grid"]})
        assert status == 400

        # A full report is compared with what voltmesh keeps.
        status, _ = await server.post(
            f"/api/v1/stations/{station}/charging-profiles",
            {
                "evse_id": 1,
                "id": 1,
                "stack_level": 1,
                "purpose": "TxDefaultProfile",
                "kind": "Relative",
                "schedules": [{"unit": "A", "periods": [{"start_period": 0, "limit": 16}]}],
            },
        )
        assert status == 201
        pending = asyncio.create_task(server.post(path, {}))
        await eventually(lambda: len(cp.calls("GetChargingProfiles")) == 3, what="asked again")
        request_id = cp.calls("GetChargingProfiles")[-1]["request_id"]
        assert await call2(cp, "ReportChargingProfiles", part(2, False)) == {}
        status, body = await pending
        assert status == 200, body
        assert body["differences"] == {"kept_not_reported": [1], "reported_not_kept": [2]}


async def test_charging_needs_get_a_tx_profile(server: Running) -> None:
    station = "CS-NEEDS"
    needs = {
        "requestedEnergyTransfer": "AC_three_phase",
        "departureTime": (datetime.now(UTC) + timedelta(hours=5)).isoformat(),
        "acChargingParameters": {
            "energyAmount": 20_700,
            "evMinCurrent": 6,
            "evMaxCurrent": 32,
            "evMaxVoltage": 400,
        },
    }
    async with charger201(server.ocpp_url, station) as cp:
        await _booted(cp)
        # No transaction on the EVSE: a TxProfile has nothing to bind to.
        reply = await call2(cp, "NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": needs})
        assert reply["status"] == "Rejected"
        assert cp.calls("SetChargingProfile") == []

        status, _ = await server.post(
            f"/api/v1/stations/{station}/charging-profiles",
            {
                "evse_id": 0,
                "id": 1,
                "stack_level": 0,
                "purpose": "ChargingStationMaxProfile",
                "kind": "Absolute",
                "schedules": [
                    {
                        "start": "2026-01-01T00:00:00Z",
                        "unit": "A",
                        "periods": [{"start_period": 0, "limit": 20}],
                    }
                ],
            },
        )
        assert status == 201
        await _start(cp, "tx-needs")
        reply = await call2(cp, "NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": needs})
        assert reply["status"] == "Accepted"
        await eventually(lambda: len(cp.calls("SetChargingProfile")) == 2, what="TxProfile sent")
        sent = cp.calls("SetChargingProfile")[-1]
        assert sent["evse_id"] == 1
        profile = sent["charging_profile"]
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert profile["transaction_id"] == "tx-needs"
        period = profile["charging_schedule"][0]["charging_schedule_period"][0]
        # 20.7 kWh in 5 h is 6 A over three phases; with the margin, below the station's 20 A.
        assert 6.0 < period["limit"] <= 8.0

        async def kept() -> list[dict[str, Any]]:
            status, body = await server.get(
                f"/api/v1/stations/{station}/charging-profiles?purpose=TxProfile"
            )
            return list(body["items"])

        (tx_profile,) = await eventually(kept, what="the TxProfile kept")
        assert tx_profile["transaction_id"] == f"{station},tx-needs"

        # A station limit below the EV's even rate caps it.
        needs_fast = {
            **needs,
            "departureTime": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
        }
        reply = await call2(cp, "NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": needs_fast})
        assert reply["status"] == "Accepted"
        await eventually(lambda: len(cp.calls("SetChargingProfile")) == 3, what="second plan")
        fast = cp.calls("SetChargingProfile")[-1]["charging_profile"]
        assert fast["charging_schedule"][0]["charging_schedule_period"][0]["limit"] == 20.0
    kinds = [k for k, _ in await station_events_of(EngineReads(server.node.engine), station)]
    assert kinds.count("NotifyEVChargingNeeds") == 3


SITE_START_HOLD: dict[str, Any] = {
    "evseId": 0,
    "chargingProfile": {
        "id": 911_000,
        "stackLevel": 90,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 0.0},
                    {"startPeriod": 3600, "limit": 6.0},
                ],
            }
        ],
    },
}
"""A site's TxDefaultProfile during its start hold: 0 A, then its minimum."""
TEST_TIME_BASE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
"""``tests.v2_calls.ts`` of 0 minutes."""


async def test_a_site_start_hold_does_not_bound_the_charging_needs_plan(server: Running) -> None:
    """A site's TxDefaultProfile holds a new session at 0 A for its first seconds (its own
    planner, stacked at 90): the plan for the EV's needs is bounded by the station's maximum and
    the EV, not by that hold, else it would be 0 A for the whole session."""
    station = "CS-NEEDS-HOLD"
    needs = {
        "requestedEnergyTransfer": "AC_three_phase",
        "departureTime": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
        "acChargingParameters": {
            "energyAmount": 20_700,
            "evMinCurrent": 6,
            "evMaxCurrent": 32,
            "evMaxVoltage": 400,
        },
    }
    profiles = [
        {
            "evse_id": 0,
            "id": 1,
            "stack_level": 0,
            "purpose": "ChargingStationMaxProfile",
            "kind": "Absolute",
            "schedules": [
                {
                    "start": "2026-01-01T00:00:00Z",
                    "unit": "A",
                    "periods": [{"start_period": 0, "limit": 20}],
                }
            ],
        },
    ]
    async with charger201(server.ocpp_url, station) as cp:
        await _booted(cp)
        for body in profiles:
            status, created = await server.post(
                f"/api/v1/stations/{station}/charging-profiles", body
            )
            assert status == 201, created
        # As a site sends it (csms.sites.profiles), through the raw command endpoint: the REST
        # resource keeps the sites' id range to them.
        status, answer = await server.command(station, "SetChargingProfile", SITE_START_HOLD)
        assert status == 200 and answer["response"]["status"] == "Accepted", answer

        async def hold_kept() -> bool:
            status, body = await server.get(
                f"/api/v1/stations/{station}/charging-profiles?purpose=TxDefaultProfile"
            )
            return status == 200 and len(body["items"]) == 1

        await eventually(hold_kept, what="the site's TxDefaultProfile kept")
        # Started now (the hold runs from the transaction's start, as a Relative profile does).
        now_minutes = (datetime.now(UTC) - TEST_TIME_BASE).total_seconds() / 60
        await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Started",
                0,
                "tx-hold",
                minutes=now_minutes,
                trigger="CablePluggedIn",
                evse={"id": 1, "connectorId": 1},
            ),
        )
        reply = await call2(cp, "NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": needs})
        assert reply["status"] == "Accepted"
        await eventually(lambda: len(cp.calls("SetChargingProfile")) == 3, what="TxProfile sent")
        plan = cp.calls("SetChargingProfile")[-1]["charging_profile"]
        assert plan["charging_profile_purpose"] == "TxProfile"
        (period,) = plan["charging_schedule"][0]["charging_schedule_period"]
        # 20.7 kWh in 30 min would take 60 A: the station's 20 A bounds it, the hold does not.
        assert period["limit"] == 20.0


async def test_an_ev_charging_schedule_is_accepted_and_kept(server: Running) -> None:
    station = "CS-EV-SCHEDULE"
    async with charger201(server.ocpp_url, station) as cp:
        await _booted(cp)
        reply = await call2(
            cp,
            "NotifyEVChargingSchedule",
            {
                "timeBase": datetime.now(UTC).isoformat(),
                "evseId": 1,
                "chargingSchedule": {
                    "id": 1,
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0}],
                },
            },
        )
        assert reply["status"] == "Accepted"
    events = await station_events_of(
        EngineReads(server.node.engine), station, "NotifyEVChargingSchedule"
    )
    ((_, payload),) = events
    assert payload["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 7400.0


async def test_a_report_whose_last_part_never_comes(start_server: StartServer) -> None:
    server = await start_server(command_timeout=10 * UNIT)
    path = "/api/v1/stations/CS-PARTIAL/charging-profiles/report"
    async with charger201(server.ocpp_url, "CS-PARTIAL") as cp:
        await _booted(cp)
        cp.overrides["GetChargingProfiles"] = {"status": "Accepted"}
        pending = asyncio.create_task(server.post(path, {}))
        await eventually(lambda: len(cp.calls("GetChargingProfiles")) == 1, what="asked")
        request_id = cp.calls("GetChargingProfiles")[-1]["request_id"]
        first = {
            "requestId": request_id,
            "chargingLimitSource": "CSO",
            "evseId": 0,
            "tbc": True,
            "chargingProfile": [
                {
                    "id": 4,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "ChargingStationMaxProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": [
                        {
                            "id": 1,
                            "startSchedule": "2026-01-01T00:00:00Z",
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000.0}],
                        }
                    ],
                }
            ],
        }
        # A part of another report does not end this one.
        other = {**first, "requestId": request_id + 1, "tbc": False}
        assert await call2(cp, "ReportChargingProfiles", other) == {}
        assert await call2(cp, "ReportChargingProfiles", first) == {}
        status, body = await pending
        assert status == 200, body
        # What came by the command timeout, marked incomplete, and compared with nothing.
        assert (body["status"], body["complete"]) == ("Accepted", False)
        assert [p["profiles"][0]["id"] for p in body["parts"]] == [4]
        assert "differences" not in body


async def test_unasked_report_parts_are_bounded_per_request_and_station(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A station may send ReportChargingProfiles parts unasked, under any requestId with tbc
    true: only ``REPORT_PARTS_KEPT`` parts of a request and the latest ``REPORTS_KEPT`` requests
    of the station are kept; the report of a request past the parts kept stays incomplete."""
    monkeypatch.setattr(kept_profiles, "REPORT_PARTS_KEPT", 3)
    monkeypatch.setattr(kept_profiles, "REPORTS_KEPT", 2)
    station, neighbour = "CS-REPORT-FLOOD", "CS-REPORT-CALM"
    engine = server.node.engine

    async def rows(station_id: str) -> list[tuple[int, bool]]:
        c = kept_profiles.charging_profile_reports.c
        async with engine.connect() as conn:
            found = await conn.execute(
                select(c.request_id, c.tbc).where(c.station_id == station_id).order_by(c.id)
            )
            return [(int(r[0]), bool(r[1])) for r in found]

    def part(request_id: int, tbc: bool) -> dict[str, Any]:
        return {
            "requestId": request_id,
            "chargingLimitSource": "CSO",
            "evseId": 1,
            "tbc": tbc,
            "chargingProfile": [
                {
                    "id": 7,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Relative",
                    "chargingSchedule": [
                        {
                            "id": 1,
                            "chargingRateUnit": "A",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
                        }
                    ],
                }
            ],
        }

    async with (
        charger201(server.ocpp_url, station) as cp,
        charger201(server.ocpp_url, neighbour) as calm,
    ):
        await _booted(cp)
        await _booted(calm)
        assert await call2(calm, "ReportChargingProfiles", part(5, False)) == {}
        # One request without end: its first parts only; the last is not kept either.
        for _ in range(6):
            assert await call2(cp, "ReportChargingProfiles", part(1, True)) == {}
        assert await call2(cp, "ReportChargingProfiles", part(1, False)) == {}
        assert await rows(station) == [(1, True)] * 3
        status, body = await server.get(f"/api/v1/stations/{station}/charging-profiles/report/1")
        assert status == 200, body
        assert (body["complete"], len(body["parts"])) == (False, 3)

        # Many requests: only the latest two that received a part are kept.
        for request_id in range(10, 20):
            assert await call2(cp, "ReportChargingProfiles", part(request_id, True)) == {}
        assert await call2(cp, "ReportChargingProfiles", part(18, False)) == {}
        assert await rows(station) == [(18, True), (19, True), (18, False)]
        status, body = await server.get(f"/api/v1/stations/{station}/charging-profiles/report/1")
        assert status == 404, body
        # Each part was still kept as a station event and the station is still there.
        kinds = [k for k, _ in await station_events_of(EngineReads(engine), station)]
        assert kinds.count("ReportChargingProfiles") == 7 + 11
        assert await server.is_connected(station)
    # Another station's report is its own.
    assert await rows(neighbour) == [(5, False)]
