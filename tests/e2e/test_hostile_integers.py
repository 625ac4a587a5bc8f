"""Integers past int32 in the station's messages that voltmesh keeps in 32-bit columns or looks
up by: refused with a CALLERROR PropertyConstraintViolation (OCPP-J 2.0.1 part 4, section 4.3)
before anything is kept, on SQLite and on PostgreSQL (which refuses them in a statement). The
station's connection goes on, and so do the writes of another station sending at the same time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v16 import call as call16

from persistence.events import station_events_of
from persistence.reads import EngineReads
from tests.ocpp_charger import charger16
from tests.ocpp_charger2 import charger201
from tests.server_fixtures import Running
from tests.v2_calls import boot_payload, call2

HUGE = (2**31, -(2**31) - 1)


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    return server_on_each_db


def _profile() -> dict[str, Any]:
    return {
        "id": 1,
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


def _hostile(value: int) -> list[tuple[str, dict[str, Any]]]:
    """Each 2.0.1 message voltmesh keeps an integer of, with ``value`` in that integer."""
    limit = {"chargingLimitSource": "EMS", "isGridCritical": False}
    return [
        ("FirmwareStatusNotification", {"status": "Downloading", "requestId": value}),
        (
            "PublishFirmwareStatusNotification",
            {"status": "Published", "location": ["http://lc/fw.bin"], "requestId": value},
        ),
        ("ReservationStatusUpdate", {"reservationId": value, "reservationUpdateStatus": "Expired"}),
        ("NotifyChargingLimit", {"chargingLimit": limit, "evseId": value}),
        ("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": value}),
        (
            "ReportChargingProfiles",
            {
                "requestId": value,
                "chargingLimitSource": "CSO",
                "evseId": 1,
                "tbc": False,
                "chargingProfile": [_profile()],
            },
        ),
        (
            "ReportChargingProfiles",
            {
                "requestId": 1,
                "chargingLimitSource": "CSO",
                "evseId": value,
                "tbc": False,
                "chargingProfile": [_profile()],
            },
        ),
        (
            "NotifyEVChargingNeeds",
            {"evseId": value, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase"}},
        ),
    ]


async def _limits(server: Running, station: str) -> list[tuple[int, str]]:
    status, body = await server.get(f"/api/v1/stations/{station}/charging-limits")
    assert status == 200, body
    return [(i["evse_id"], i["source"]) for i in body["items"]]


async def test_2x_integers_past_int32_are_refused_and_others_go_on(server: Running) -> None:
    hostile, neighbour = "CS-HUGE", "CS-NEIGHBOUR"
    async with (
        charger201(server.ocpp_url, hostile) as cp,
        charger201(server.ocpp_url, neighbour) as other,
    ):
        for station in (cp, other):
            assert (await call2(station, "BootNotification", boot_payload()))["status"] == (
                "Accepted"
            )

        async def attack() -> list[str]:
            refused = []
            for value in HUGE:
                for action, payload in _hostile(value):
                    with pytest.raises(PropertyConstraintViolationError) as error:
                        await call2(cp, action, payload)
                    refused.append(f"{action}: {error.value.description}")
            return refused

        async def neighbour_limits() -> None:
            for evse_id in range(1, 9):
                limit = {"chargingLimitSource": "SO", "isGridCritical": False}
                assert (
                    await call2(
                        other, "NotifyChargingLimit", {"chargingLimit": limit, "evseId": evse_id}
                    )
                    == {}
                )

        refused, _ = await asyncio.gather(attack(), neighbour_limits())
        assert len(refused) == 2 * len(_hostile(0))
        assert all("out of range (32-bit integer)" in r for r in refused), refused

        # The same connection goes on: the largest values there are are kept.
        assert await call2(cp, "Heartbeat", {})
        limit = {"chargingLimitSource": "EMS", "isGridCritical": True}
        await call2(cp, "NotifyChargingLimit", {"chargingLimit": limit, "evseId": 2**31 - 1})
        assert await server.is_connected(hostile)

    assert await _limits(server, hostile) == [(2**31 - 1, "EMS")]
    assert await _limits(server, neighbour) == [(e, "SO") for e in range(1, 9)]
    # Refused before anything was kept, the station event included.
    kinds = [k for k, _ in await station_events_of(EngineReads(server.node.engine), hostile)]
    assert kinds.count("NotifyChargingLimit") == 1, kinds
    assert not {a for a, _ in _hostile(0)} - {"NotifyChargingLimit"} & set(kinds), kinds


async def test_16_signed_firmware_request_id_past_int32_is_refused(server: Running) -> None:
    station = "CS-HUGE-16"
    async with charger16(server.ocpp_url, station) as cp:
        boot = call16.BootNotification(charge_point_model="VM-1", charge_point_vendor="Voltmesh")
        assert (await cp.call(boot, suppress=False)).status == "Accepted"
        for value in HUGE:
            with pytest.raises(PropertyConstraintViolationError):
                await cp.call(
                    call16.SignedFirmwareStatusNotification(status="Downloading", request_id=value),
                    suppress=False,
                )
        # The station goes on: its news of an id that fits is answered.
        answer = await cp.call(
            call16.SignedFirmwareStatusNotification(status="Downloading", request_id=2**31 - 1),
            suppress=False,
        )
        assert answer is not None
        assert await server.is_connected(station)
