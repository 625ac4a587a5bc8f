"""Charging profiles end to end with the ``ocpp`` package's chargers (1.6 and 2.0.1): sent through
REST or the raw command endpoint, kept when the station accepts them, replaced and cleared as the
specifications say, ended with their transaction; the unhappy paths (Rejected, a CALLERROR, no
answer, offline, a station that drops the connection mid-call) keep nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from ocpp import exceptions as ocpp_errors
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
from websockets.typing import Subprotocol

from tests.ocpp_charger import Charger16
from tests.ocpp_charger2 import Charger21, Charger201, charger2
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually
from tests.v2_calls import boot_payload, call2, transaction_event

V16, V201, V21 = "ocpp1.6", "ocpp2.0.1", "ocpp2.1"


class SmartCharger16(Charger16):
    """A 1.6 charger with the Smart Charging feature profile: answers ``set_status`` (or a
    NotSupported CALLERROR, or never) and keeps what it accepted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.set_status = "Accepted"
        self.clear_status = "Accepted"
        self.not_supported = False
        self.release = asyncio.Event()
        self.hold = False

    @on(Action.set_charging_profile)  # type: ignore[untyped-decorator]
    async def set_profile(self, **kwargs: Any) -> call_result.SetChargingProfile:
        self._note("SetChargingProfile", **kwargs)
        if self.not_supported:
            raise ocpp_errors.NotSupportedError(description="no smart charging here")
        if self.hold:
            await self.release.wait()
        return call_result.SetChargingProfile(status=self.set_status)

    @on(Action.clear_charging_profile)  # type: ignore[untyped-decorator]
    async def clear_profile(self, **kwargs: Any) -> call_result.ClearChargingProfile:
        self._note("ClearChargingProfile", **kwargs)
        return call_result.ClearChargingProfile(status=self.clear_status)

    @on(Action.get_composite_schedule)  # type: ignore[untyped-decorator]
    async def composite(self, **kwargs: Any) -> call_result.GetCompositeSchedule:
        self._note("GetCompositeSchedule", **kwargs)
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=kwargs["connector_id"],
            schedule_start=datetime.now(UTC).isoformat(),
            charging_schedule={
                "duration": kwargs["duration"],
                "charging_rate_unit": kwargs.get("charging_rate_unit", "A"),
                "charging_schedule_period": [{"start_period": 0, "limit": 13.0}],
            },
        )

    def calls(self, action: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.received if name == action]


class SmartCharger201(Charger201):
    """A 2.0.1 charger whose SetChargingProfile answers a CALLERROR (``not_supported``), or
    only once ``release`` is set (``hold``), or as ``Charger201`` does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.not_supported = False
        self.hold = False
        self.release = asyncio.Event()

    # The name of the handler it replaces (ocpp.routing finds handlers by their names).
    @on("SetChargingProfile")  # type: ignore[untyped-decorator]
    async def _ocpp_on_set_charging_profile(self, **kwargs: Any) -> Any:
        if self.not_supported:
            self.received.append(("SetChargingProfile", kwargs))
            raise ocpp_errors.NotImplementedError(details={"cause": "no smart charging here"})
        if self.hold:
            await self.release.wait()
        return await super()._ocpp_on_set_charging_profile(**kwargs)


@contextlib.asynccontextmanager
async def charger16(ocpp_url: str, station_id: str) -> AsyncIterator[SmartCharger16]:
    async with websockets.connect(
        f"{ocpp_url}/{station_id}", subprotocols=[Subprotocol("ocpp1.6")], open_timeout=100 * UNIT
    ) as ws:
        cp = SmartCharger16(station_id, ws, response_timeout=200 * UNIT)
        loop = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            cp.release.set()
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop


@contextlib.asynccontextmanager
async def smart_charger201(ocpp_url: str, station_id: str) -> AsyncIterator[SmartCharger201]:
    async with websockets.connect(
        f"{ocpp_url}/{station_id}",
        subprotocols=[Subprotocol("ocpp2.0.1")],
        open_timeout=100 * UNIT,
    ) as ws:
        cp = SmartCharger201(station_id, ws, response_timeout=200 * UNIT)
        loop = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            cp.release.set()
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop
            await cp.stop_tasks()


Charger = SmartCharger16 | SmartCharger201 | Charger201 | Charger21


@contextlib.asynccontextmanager
async def booted(server: Running, station: str, version: str) -> AsyncIterator[Charger]:
    """A connected, accepted charger of ``version``."""
    if version == V16:
        async with charger16(server.ocpp_url, station) as cp16:
            boot = await cp16.call(
                call.BootNotification(charge_point_model="M", charge_point_vendor="V")
            )
            assert boot.status == "Accepted"
            yield cp16
    elif version == V201:
        async with smart_charger201(server.ocpp_url, station) as cp201:
            assert (await call2(cp201, "BootNotification", boot_payload()))["status"] == "Accepted"
            yield cp201
    else:
        async with charger2(server.ocpp_url, station, version) as cp2:
            assert (await call2(cp2, "BootNotification", boot_payload()))["status"] == "Accepted"
            yield cp2


def schedule(limit: float, unit: str = "A", **extra: Any) -> dict[str, Any]:
    return {"unit": unit, "periods": [{"start_period": 0, "limit": limit}], **extra}


def absolute(profile_id: int, purpose: str, limit: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": profile_id,
        "stack_level": 1,
        "purpose": purpose,
        "kind": "Absolute",
        "schedules": [schedule(limit, start="2026-01-01T00:00:00Z")],
        **extra,
    }


def sent_sets(cp: Charger) -> list[dict[str, Any]]:
    return cp.calls("SetChargingProfile")


async def profile_ids(server: Running, station: str) -> list[int]:
    status, body = await server.get(f"/api/v1/stations/{station}/charging-profiles")
    assert status == 200, body
    return [p["id"] for p in body["items"]]


def event_types(server: Running, station: str) -> list[str]:
    return [e.type for e in server.node.events.recent() if e.station_id == station]


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    return server_on_each_db


@pytest.mark.parametrize("version", [V16, V201, V21])
async def test_a_profile_is_sent_kept_replaced_and_cleared(server: Running, version: str) -> None:
    station = f"CP-SC-{version}"
    path = f"/api/v1/stations/{station}/charging-profiles"
    async with booted(server, station, version) as cp:
        status, kept = await server.post(
            path, {"evse_id": 0, **absolute(1, "ChargingStationMaxProfile", 32.0)}
        )
        assert status == 201, kept
        assert (kept["id"], kept["evse_id"], kept["purpose"]) == (1, 0, "ChargingStationMaxProfile")
        assert kept["schedules"][0]["periods"] == [
            {"start_period": 0, "limit": 32.0, "number_phases": None, "phase_to_use": None}
        ]
        assert kept["protocol"] == version
        (sent,) = sent_sets(cp)
        if version == V16:
            assert sent["connector_id"] == 0
            wire = sent["cs_charging_profiles"]
            assert wire["charging_profile_purpose"] == "ChargePointMaxProfile"
            assert wire["charging_profile_id"] == 1
            assert kept["wire"]["chargingProfileId"] == 1
        else:
            assert sent["evse_id"] == 0
            wire = sent["charging_profile"]
            assert wire["charging_profile_purpose"] == "ChargingStationMaxProfile"
            assert wire["charging_schedule"][0]["id"] == 1
        assert "charging_profile.set" in event_types(server, station)

        # Same stack level and purpose on the same EVSE, validity periods apart: 1.6 replaces
        # the old profile (section 5.16); a 2.x station keeps both, as it refuses the new one only
        # when they overlap (2.0.1 K01.FR.06).
        status, _ = await server.post(
            path,
            {"evse_id": 1, **absolute(2, "TxDefaultProfile", 16, valid_to="2030-01-01T00:00:00Z")},
        )
        assert status == 201
        status, _ = await server.post(
            path,
            {
                "evse_id": 1,
                **absolute(3, "TxDefaultProfile", 10, valid_from="2030-01-01T00:00:00Z"),
            },
        )
        assert status == 201
        on_evse_1 = [3] if version == V16 else [2, 3]
        assert await profile_ids(server, station) == [1, *on_evse_1]
        # Without an id: the next free one.
        status, body = await server.post(
            path, {"evse_id": 2, **{**absolute(0, "TxDefaultProfile", 8), "id": None}}
        )
        assert status == 201 and body["id"] == 4
        status, body = await server.get(f"{path}?evse_id=1&purpose=TxDefaultProfile")
        assert [p["id"] for p in body["items"]] == on_evse_1
        # A purpose by either version's name.
        status, body = await server.get(f"{path}?purpose=ChargePointMaxProfile")
        assert [p["id"] for p in body["items"]] == [1]
        assert (await server.get(f"{path}?purpose=Sometimes"))[0] == 400
        status, one = await server.get(f"{path}/3")
        assert status == 200 and one["schedules"][0]["periods"][0]["limit"] == 10

        assert await server.delete(f"{path}/3") == 204
        cleared = cp.calls("ClearChargingProfile")[-1]
        assert cleared == ({"id": 3} if version == V16 else {"charging_profile_id": 3})
        assert await profile_ids(server, station) == [1, *on_evse_1[:-1], 4]
        assert "charging_profile.cleared" in event_types(server, station)
        assert (await server.get(f"{path}/3"))[0] == 404

        # A station that holds nothing of the kind: Unknown, and 404 when voltmesh kept none.
        if isinstance(cp, SmartCharger16):
            cp.clear_status = "Unknown"
        else:
            cp.overrides["ClearChargingProfile"] = {"status": "Unknown"}
        assert await server.delete(f"{path}/77") == 404
        # ... but a kept one the station forgot is forgotten too.
        assert await server.delete(f"{path}/4") == 204
        assert await profile_ids(server, station) == [1, *on_evse_1[:-1]]


@pytest.mark.parametrize("version", [V16, V201, V21])
async def test_profiles_sent_through_the_command_endpoint_are_kept(
    server: Running, version: str
) -> None:
    station = f"CP-RAW-{version}"
    async with booted(server, station, version):
        if version == V16:
            payload = {
                "connectorId": 1,
                "csChargingProfiles": {
                    "chargingProfileId": 9,
                    "stackLevel": 2,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Relative",
                    "chargingSchedule": {
                        "chargingRateUnit": "W",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
                    },
                },
            }
        else:
            payload = {
                "evseId": 1,
                "chargingProfile": {
                    "id": 9,
                    "stackLevel": 2,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Relative",
                    "chargingSchedule": [
                        {
                            "id": 1,
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
                        }
                    ],
                },
            }
        status, body = await server.command(station, "SetChargingProfile", payload)
        assert status == 200 and body["response"]["status"] == "Accepted"
        status, kept = await server.get(f"/api/v1/stations/{station}/charging-profiles/9")
        assert status == 200, kept
        assert (kept["evse_id"], kept["stack_level"], kept["kind"]) == (1, 2, "Relative")
        assert kept["schedules"][0]["unit"] == "W"
        # A clear by criteria removes what matches them only.
        status, _ = await server.post(
            f"/api/v1/stations/{station}/charging-profiles",
            {"evse_id": 0, **absolute(1, "ChargingStationMaxProfile", 32.0)},
        )
        assert status == 201
        clear = (
            {"chargingProfilePurpose": "TxDefaultProfile"}
            if version == V16
            else {"chargingProfileCriteria": {"chargingProfilePurpose": "TxDefaultProfile"}}
        )
        status, body = await server.command(station, "ClearChargingProfile", clear)
        assert status == 200 and body["response"]["status"] == "Accepted"
        assert await profile_ids(server, station) == [1]


@pytest.mark.parametrize("version", [V16, V201])
async def test_a_tx_profile_ends_with_its_transaction(server: Running, version: str) -> None:
    station = f"CP-TX-{version}"
    await server.put("/api/v1/id-tags/TAG-SC", {"status": "Accepted"})
    path = f"/api/v1/stations/{station}/charging-profiles"
    async with booted(server, station, version) as cp:
        # A TxProfile without a transaction running on its EVSE: the station discards it (1.6
        # section 5.16.3), so nothing is kept.
        unbound = {
            "evse_id": 1,
            "id": 6,
            "stack_level": 4,
            "purpose": "TxProfile",
            "kind": "Relative",
            "schedules": [schedule(12.0)],
        }
        status, sent = await server.post(path, unbound)
        assert status == 201 and sent["accepted_at"] is None, sent
        assert await profile_ids(server, station) == []
        if isinstance(cp, SmartCharger16):
            start = await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="TAG-SC", meter_start=0, timestamp="2026-12-01T08:00:00Z"
                )
            )
            tx_id = str(start.transaction_id)
        else:
            await call2(
                cp,
                "TransactionEvent",
                transaction_event(
                    "Started",
                    0,
                    "tx-sc",
                    minutes=0,
                    trigger="Authorized",
                    idToken={"idToken": "TAG-SC", "type": "ISO14443"},
                    evse={"id": 1, "connectorId": 1},
                ),
            )
            tx_id = f"{station},tx-sc"
        tx_profile = {
            "evse_id": 1,
            "id": 5,
            "stack_level": 3,
            "purpose": "TxProfile",
            "kind": "Relative",
            "transaction_id": tx_id,
            "schedules": [schedule(11.0)],
        }
        status, kept = await server.post(path, tx_profile)
        assert status == 201, kept
        assert kept["transaction_id"] == tx_id
        wire = sent_sets(cp)[-1]
        if version == V16:
            assert wire["cs_charging_profiles"]["transaction_id"] == int(tx_id)
        else:
            assert wire["charging_profile"]["transaction_id"] == "tx-sc"
        status, composite = await server.get(
            f"/api/v1/stations/{station}/composite-schedule?evse_id=1&duration=60"
        )
        assert status == 200
        assert composite["computed"]["periods"][0]["limit"] == 11.0
        # Without a transaction id it applies to the one running there: bound to it, it ends
        # with it too.
        status, kept = await server.post(path, unbound)
        assert status == 201 and kept["transaction_id"] == tx_id, kept
        assert await profile_ids(server, station) == [5, 6]

        if isinstance(cp, SmartCharger16):
            await cp.call(
                call.StopTransaction(
                    transaction_id=int(tx_id), meter_stop=100, timestamp="2026-12-01T09:00:00Z"
                )
            )
        else:
            await call2(
                cp,
                "TransactionEvent",
                transaction_event("Ended", 1, "tx-sc", minutes=60, trigger="EVDeparted", info={}),
            )
        assert await profile_ids(server, station) == []
        assert (await server.get(f"{path}/5"))[0] == 404


@pytest.mark.parametrize("version", [V16, V201])
async def test_composite_schedule_beside_the_stations_answer(server: Running, version: str) -> None:
    station = f"CP-CS-{version}"
    path = f"/api/v1/stations/{station}/charging-profiles"
    async with booted(server, station, version) as cp:
        await server.post(path, {"evse_id": 0, **absolute(1, "ChargingStationMaxProfile", 20)})
        await server.post(path, {"evse_id": 1, **absolute(2, "TxDefaultProfile", 10)})
        status, body = await server.get(
            f"/api/v1/stations/{station}/composite-schedule?evse_id=1&duration=600&unit=W"
        )
        assert status == 200, body
        assert (body["evse_id"], body["duration"], body["unit"]) == (1, 600, "W")
        # min(20 A, 10 A) at 3 x 230 V.
        assert body["computed"]["periods"] == [
            {"start_period": 0, "limit": 6900.0, "number_phases": None}
        ]
        assert body["station"]["status"] == "Accepted"
        assert body["station"]["schedule"]["unit"] == "W"
        assert body["station"]["schedule"]["periods"][0]["limit"] in (13.0, 22000.0)
        request = cp.calls("GetCompositeSchedule")[-1]
        assert request["duration"] == 600
        assert request["charging_rate_unit"] == "W"
        status, body = await server.get(f"/api/v1/stations/{station}/composite-schedule?unit=kW")
        assert status == 400
        status, body = await server.get(f"/api/v1/stations/{station}/composite-schedule?duration=0")
        assert status == 400


async def test_a_profile_past_its_validity_is_no_longer_listed(server: Running) -> None:
    path = "/api/v1/stations/CP-OLD/charging-profiles"
    async with booted(server, "CP-OLD", V201):
        expired = absolute(
            1,
            "TxDefaultProfile",
            16,
            valid_from="2026-01-01T00:00:00Z",
            valid_to="2026-02-01T00:00:00Z",
        )
        status, body = await server.post(path, {"evse_id": 1, **expired})
        assert status == 201 and body["accepted_at"] is None, body
        status, body = await server.post(
            path, {"evse_id": 1, **absolute(2, "TxDefaultProfile", 10, stack_level=2)}
        )
        assert status == 201 and body["accepted_at"] is not None
        assert await profile_ids(server, "CP-OLD") == [2]
        assert (await server.get(f"{path}/1"))[0] == 404


# -- unhappy paths (SQLite is enough) -----------------------------------------------------------


@pytest.mark.parametrize("version", [V16, V201])
async def test_a_rejected_profile_is_a_conflict_and_not_kept(
    start_server: StartServer, version: str
) -> None:
    server = await start_server()
    station = f"CP-REJ-{version}"
    async with booted(server, station, version) as cp:
        if isinstance(cp, SmartCharger16):
            cp.set_status = "Rejected"
        else:
            cp.overrides["SetChargingProfile"] = {
                "status": "Rejected",
                "statusInfo": {"reasonCode": "InvalidSchedule"},
            }
        status, problem = await server.post(
            f"/api/v1/stations/{station}/charging-profiles",
            {"evse_id": 1, **absolute(1, "TxDefaultProfile", 16)},
        )
        assert status == 409, problem
        assert problem["station_status"] == "Rejected"
        if version == V201:
            assert problem["reason"] == "InvalidSchedule"
        assert len(sent_sets(cp)) == 1
        assert await profile_ids(server, station) == []


@pytest.mark.parametrize("version", [V16, V201])
async def test_a_callerror_is_a_bad_gateway(start_server: StartServer, version: str) -> None:
    server = await start_server()
    async with booted(server, "CP-NS", version) as cp:
        assert isinstance(cp, SmartCharger16 | SmartCharger201)
        cp.not_supported = True
        status, problem = await server.post(
            "/api/v1/stations/CP-NS/charging-profiles",
            {"evse_id": 1, **absolute(1, "TxDefaultProfile", 16)},
        )
        assert status == 502, problem
        assert problem["code"] == ("NotSupported" if version == V16 else "NotImplemented")
        assert await profile_ids(server, "CP-NS") == []


@pytest.mark.parametrize("version", [V16, V201])
async def test_no_answer_is_a_gateway_timeout(start_server: StartServer, version: str) -> None:
    server = await start_server(command_timeout=10 * UNIT)
    path = "/api/v1/stations/CP-SLOW/charging-profiles"
    async with booted(server, "CP-SLOW", version) as cp:
        assert isinstance(cp, SmartCharger16 | SmartCharger201)
        cp.hold = True
        status, problem = await server.post(
            path, {"evse_id": 1, **absolute(1, "TxDefaultProfile", 16)}
        )
        assert status == 504, problem
        cp.release.set()
        # The late answer comes before the next call's (one call at a time) and is dropped: an
        # answer nobody waits for any more is not taken as the station's word.
        status, _ = await server.post(path, {"evse_id": 2, **absolute(2, "TxDefaultProfile", 8)})
        assert status == 201
        assert await profile_ids(server, "CP-SLOW") == [2]


async def test_bad_requests_and_offline_stations(start_server: StartServer) -> None:
    server = await start_server()
    path = "/api/v1/stations/CP-OFF/charging-profiles"
    async with booted(server, "CP-OFF", V201) as cp:
        for body, message in (
            ({"evse_id": 1, **absolute(1, "TxDefaultProfile", 16), "colour": 1}, "colour"),
            ({"evse_id": 1, **absolute(1, "ChargingStationMaxProfile", 16)}, "evse_id 0"),
            ({"evse_id": 0, **absolute(1, "TxProfile", 16)}, "not 0"),
            ({"evse_id": -1, **absolute(1, "TxDefaultProfile", 16)}, "evse_id"),
            ({"evse_id": 1, **absolute(1, "TxDefaultProfile", 16), "kind": "Sometimes"}, "kind"),
        ):
            status, problem = await server.post(path, body)
            assert status == 400, (body, problem)
            assert message in problem["detail"]
        assert sent_sets(cp) == []
    await eventually(lambda: _offline(server, "CP-OFF"), what="disconnected")
    status, problem = await server.post(path, {"evse_id": 1, **absolute(1, "TxDefaultProfile", 1)})
    assert status == 404, problem
    assert await server.delete(f"{path}/1") == 404
    # The computed schedule needs no station; its answer says why it is missing.
    status, body = await server.get("/api/v1/stations/CP-OFF/composite-schedule?evse_id=1")
    assert status == 200
    assert body["computed"]["periods"] == [
        {"start_period": 0, "limit": None, "number_phases": None}
    ]
    assert body["station"]["error"]["status"] == 404
    assert (await server.get("/api/v1/stations/NOBODY/charging-profiles"))[0] == 404
    assert (await server.get("/api/v1/stations/NOBODY/composite-schedule"))[0] == 404
    assert (await server.get("/api/v1/stations/NOBODY/charging-limits"))[0] == 404


async def _offline(server: Running, station: str) -> bool:
    return not await server.is_connected(station)


async def test_a_station_that_drops_the_call_and_reconnects(start_server: StartServer) -> None:
    server = await start_server()
    path = "/api/v1/stations/CP-DROP/charging-profiles"
    async with booted(server, "CP-DROP", V16) as cp:
        assert isinstance(cp, SmartCharger16)
        status, _ = await server.post(
            path, {"evse_id": 0, **absolute(1, "ChargingStationMaxProfile", 32)}
        )
        assert status == 201
        cp.hold = True
        pending = asyncio.create_task(
            server.post(path, {"evse_id": 1, **absolute(2, "TxDefaultProfile", 16)})
        )
        await eventually(lambda: len(sent_sets(cp)) == 2, what="second profile received")
        await cp._connection.close()
        status, problem = await pending
        assert status == 404, problem
    # What was accepted before stays; what was never answered is not kept.
    assert await profile_ids(server, "CP-DROP") == [1]
    async with charger16(server.ocpp_url, "CP-DROP") as again:
        await eventually(lambda: server.is_connected("CP-DROP"), what="reconnected")
        assert await server.delete(f"{path}/1") == 204
        assert again.calls("ClearChargingProfile") == [{"id": 1}]
    assert await profile_ids(server, "CP-DROP") == []


async def test_profiles_without_an_id_sent_at_once_get_their_own(
    start_server: StartServer,
) -> None:
    server = await start_server()
    path = "/api/v1/stations/CP-IDS/charging-profiles"
    async with booted(server, "CP-IDS", V16) as cp:
        assert isinstance(cp, SmartCharger16)
        cp.hold = True
        first, second = (
            asyncio.create_task(
                server.post(
                    path, {"evse_id": evse, **absolute(0, "TxDefaultProfile", 16), "id": None}
                )
            )
            for evse in (1, 2)
        )
        await eventually(lambda: len(sent_sets(cp)) == 1, what="first profile received")
        cp.release.set()
        (status_1, one), (status_2, two) = await first, await second
        assert (status_1, status_2) == (201, 201), (one, two)
        assert {one["id"], two["id"]} == {1, 2}
        assert await profile_ids(server, "CP-IDS") == [1, 2]
        # The ranges voltmesh's own senders use are not an operator's to take.
        for reserved in (911_001, 912_002, 2_000_000_001):
            status, problem = await server.post(
                path, {"evse_id": 1, **absolute(reserved, "TxDefaultProfile", 16)}
            )
            assert status == 400 and "leave id out" in problem["detail"], problem
        assert len(sent_sets(cp)) == 2


async def test_one_six_cannot_read_profiles_back(start_server: StartServer) -> None:
    server = await start_server()
    async with booted(server, "CP-16-REPORT", V16):
        status, problem = await server.post(
            "/api/v1/stations/CP-16-REPORT/charging-profiles/report", {}
        )
        assert status == 400
        assert "1.6" in problem["detail"]


async def test_ids_beyond_32_bits_name_nothing(server: Running) -> None:
    """A path id no OCPP profile or report can have is a 404, never a store error."""
    await server.put("/api/v1/stations/CP-BIG", {"allowed": True})
    for path in (
        "/api/v1/stations/CP-BIG/charging-profiles/99999999999",
        "/api/v1/stations/CP-BIG/charging-profiles/report/99999999999",
    ):
        status, problem = await server.get(path)
        assert status == 404, (path, problem)
