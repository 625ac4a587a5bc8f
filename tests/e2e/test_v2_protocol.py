"""2.x on the wire: subprotocol negotiation (newest first, configurable, per station), the 2.x error
codes, lenient mode, and what a station that is not accepted yet may do."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets

from csms.station.services import UnknownStationPolicy
from tests.ocpp_charger2 import charger2
from tests.raw_charger import CallErrorReply, RawCharger
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT
from tests.v2_calls import boot_payload, call2, ts
from transport.versions import OcppVersion

BOOT = boot_payload()
ALL = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]


async def _negotiated(server: Running, station: str, offered: list[str]) -> str | None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/{station}", subprotocols=offered)
    try:
        return charger.ws.subprotocol
    finally:
        await charger.close()


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (ALL, "ocpp2.1"),
        (["ocpp1.6", "ocpp2.0.1"], "ocpp2.0.1"),
        (["ocpp2.1", "ocpp1.6"], "ocpp2.1"),
        (["ocpp1.6"], "ocpp1.6"),
        (["ocpp2.0", "ocpp2.0.1"], "ocpp2.0.1"),
    ],
)
async def test_the_newest_version_offered_wins(
    server: Running, offered: list[str], expected: str
) -> None:
    assert await _negotiated(server, "CS-NEG", offered) == expected


async def test_preference_order_is_configurable(start_server: StartServer) -> None:
    server = await start_server(
        subprotocols=(OcppVersion.V16, OcppVersion.V201), default_subprotocol=OcppVersion.V16
    )
    assert await _negotiated(server, "CS-ORDER", ALL) == "ocpp1.6"
    assert await _negotiated(server, "CS-ORDER", ["ocpp2.1", "ocpp2.0.1"]) == "ocpp2.0.1"
    with pytest.raises(websockets.InvalidStatus) as info:
        await RawCharger.connect(f"{server.ocpp_url}/CS-ORDER", subprotocols=["ocpp2.1"])
    assert info.value.response.status_code == 400


async def test_a_station_can_be_restricted_to_versions(server: Running) -> None:
    status, body = await server.put("/api/v1/stations/CS-R", {"protocols": ["ocpp2.0.1"]})
    assert status == 201
    assert body["protocols"] == ["ocpp2.0.1"]
    assert await _negotiated(server, "CS-R", ALL) == "ocpp2.0.1"
    with pytest.raises(websockets.InvalidStatus) as info:
        await RawCharger.connect(f"{server.ocpp_url}/CS-R", subprotocols=["ocpp2.1", "ocpp1.6"])
    assert info.value.response.status_code == 400
    # A charger that offers nothing speaks the first version its operator allowed.
    charger = await RawCharger.connect(f"{server.ocpp_url}/CS-R", subprotocols=[])
    try:
        assert (await charger.call("BootNotification", BOOT))["status"] == "Accepted"
    finally:
        await charger.close()
    status, body = await server.put("/api/v1/stations/CS-R", {"protocols": None})
    assert body["protocols"] is None
    assert await _negotiated(server, "CS-R", ALL) == "ocpp2.1"
    for bad in (["ocpp1.5"], [], "ocpp2.1", ["ocpp2.1", "ocpp2.1"]):
        status, problem = await server.put("/api/v1/stations/CS-R", {"protocols": bad})
        assert status == 400, bad
        assert "protocols" in problem["detail"]


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_2x_error_codes_and_the_connection_lives_on(server: Running, version: str) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CS-ERR", subprotocols=[version])
    try:
        await charger.call("BootNotification", BOOT)
        cases: list[tuple[list[Any] | str, str]] = [
            ("[2, 'x'", "RpcFrameworkError"),
            ([2, "m1", "Heartbeat", {"extra": 1}], "FormatViolation"),
            (
                [2, "m2", "StatusNotification", {"timestamp": ts(), "evseId": 1}],
                "OccurrenceConstraintViolation",
            ),
            (
                [2, "m3", "Authorize", {"idToken": {"idToken": 5, "type": "ISO14443"}}],
                "TypeConstraintViolation",
            ),
            (
                [2, "m4", "BootNotification", {**BOOT, "reason": "Bored"}],
                "PropertyConstraintViolation",
            ),
            ([2, "m5", "StartTransaction", {}], "NotSupported"),
            ([2, "m6", "FlyToTheMoon", {}], "NotImplemented"),
            ([9, "m7", "Heartbeat", {}], "MessageTypeNotSupported"),
        ]
        for frame, code in cases:
            await charger.send_frame(frame)
            reply = await charger.next_unsolicited()
            assert reply[0] == 4, (frame, reply)
            assert reply[2] == code, (frame, reply)
        # A CALLRESULT that answers nothing is dropped; the socket stays.
        await charger.send_frame([3, "never-asked", {}])
        assert "currentTime" in await charger.call("Heartbeat", {})
    finally:
        await charger.close()


async def test_lenient_station_gets_usable_payloads_through(server: Running) -> None:
    await server.put("/api/v1/stations/CS-LAX", {"lenient": True})
    charger = await RawCharger.connect(f"{server.ocpp_url}/CS-LAX", subprotocols=["ocpp2.0.1"])
    try:
        long_serial = {**BOOT["chargingStation"], "serialNumber": "S" * 40}
        reply = await charger.call("BootNotification", {**BOOT, "chargingStation": long_serial})
        assert reply["status"] == "Accepted"
        # Unusable even leniently: no timestamp to record the status at.
        with pytest.raises(CallErrorReply) as info:
            await charger.call(
                "StatusNotification",
                {"connectorStatus": "Available", "evseId": 1, "connectorId": 1},
            )
        assert info.value.code == "FormatViolation"
    finally:
        await charger.close()
    status, station = await server.get("/api/v1/stations/CS-LAX")
    assert station["boot"]["serial"] == "S" * 40


async def test_pending_station_may_report_but_not_charge(start_server: StartServer) -> None:
    server = await start_server(unknown_stations=UnknownStationPolicy.PENDING)
    async with charger2(server.ocpp_url, "CS-PEND") as cp:
        boot = await call2(cp, "BootNotification", BOOT)
        assert boot["status"] == "Pending"
        # OCPP 2.0.1 B02: the CSMS may query a Pending station, never start a transaction on it.
        status, problem = await server.command(
            "CS-PEND",
            "RequestStartTransaction",
            {"remoteStartId": 1, "idToken": {"idToken": "T", "type": "Central"}},
        )
        assert status == 409, problem
        status, body = await server.command(
            "CS-PEND", "GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"}
        )
        assert status == 200, body
        await asyncio.wait_for(cp.report_sent.wait(), 100 * UNIT)
        assert all(
            error is None or not isinstance(error, Exception) for _, error in cp.report_results
        )
        status, page = await server.get("/api/v1/stations/CS-PEND/variables?limit=1000")
        assert len(page["items"]) == len(cp.variables)
        # The report is over: a further NotifyReport is not asked for.
        with pytest.raises(Exception, match="SecurityError"):
            await call2(
                cp,
                "NotifyReport",
                {"requestId": 7, "generatedAt": ts(), "seqNo": 9, "tbc": False},
            )
