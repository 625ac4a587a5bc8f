"""Unknown-station policies, registration over REST, basic auth, lenient mode."""

from __future__ import annotations

import asyncio
import base64

import pytest
import websockets

from csms.station.services import UnknownStationPolicy
from tests.raw_charger import CallErrorReply, RawCharger
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


@pytest.mark.parametrize(("policy", "expected"), [("pending", "Pending"), ("reject", "Rejected")])
async def test_unknown_station_policy(
    start_server: StartServer, policy: str, expected: str
) -> None:
    server = await start_server(
        unknown_stations=UnknownStationPolicy(policy), boot_retry_interval=600
    )
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-NEW")
    try:
        boot = await charger.call("BootNotification", BOOT)
        assert boot["status"] == expected
        assert boot["interval"] == 600
        if expected == "Pending":
            assert "currentTime" in (await charger.call("Heartbeat", {}))
        else:
            # 2.0.1 B03, 1.6 section 4.2.1: a Rejected station sends nothing but its boot.
            with pytest.raises(CallErrorReply) as info:
                await charger.call("Heartbeat", {})
            assert info.value.code == "SecurityError"
        with pytest.raises(CallErrorReply) as info:
            await charger.call("Authorize", {"idTag": "T"})
        assert info.value.code == "SecurityError"
        status, station = await server.get("/api/v1/stations/CP-NEW")
        assert status == 200
        assert station["registered"] is False
        assert station["boot"]["status"] == expected
        status, _ = await server.put("/api/v1/stations/CP-NEW", {"allowed": True})
        assert status == 200
        assert (await charger.call("BootNotification", BOOT))["status"] == "Accepted"
        assert (await charger.call("Authorize", {"idTag": "T"}))["idTagInfo"]["status"] == "Invalid"
    finally:
        await charger.close()


async def test_accept_policy_registers(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-AUTO")
    try:
        assert (await charger.call("BootNotification", BOOT))["status"] == "Accepted"
    finally:
        await charger.close()
    status, station = await server.get("/api/v1/stations/CP-AUTO")
    assert station["registered"] is True
    assert station["connected"] is False


async def test_disallowed_station_is_rejected(server: Running) -> None:
    await server.put("/api/v1/stations/CP-BANNED", {"allowed": False})
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-BANNED")
    try:
        assert (await charger.call("BootNotification", BOOT))["status"] == "Rejected"
    finally:
        await charger.close()


async def test_basic_auth(server: Running) -> None:
    status, station = await server.put(
        "/api/v1/stations/CP-AUTH", {"allowed": True, "password": "s3cret-key-0123456"}
    )
    assert status == 201
    assert station["has_password"] is True
    url = server.ocpp_url.replace("ws://", "ws://{}@")
    for creds in ("", "CP-AUTH:wrong-password-x", "OTHER:s3cret-key-0123456"):
        target = url.format(creds) if creds else server.ocpp_url
        with pytest.raises(websockets.InvalidStatus) as info:
            await RawCharger.connect(f"{target}/CP-AUTH")
        assert info.value.response.status_code == 401
    for _ in range(2):  # the second connection is answered from the verified-password memory
        charger = await RawCharger.connect(f"{url.format('CP-AUTH:s3cret-key-0123456')}/CP-AUTH")
        try:
            assert (await charger.call("BootNotification", BOOT))["status"] == "Accepted"
        finally:
            await charger.close()
    # Changing the password invalidates the remembered one.
    await server.put("/api/v1/stations/CP-AUTH", {"allowed": True, "password": "another-key-98765"})
    with pytest.raises(websockets.InvalidStatus):
        await RawCharger.connect(f"{url.format('CP-AUTH:s3cret-key-0123456')}/CP-AUTH")
    # Absent password keeps it; null removes it.
    await server.put("/api/v1/stations/CP-AUTH", {"allowed": True})
    with pytest.raises(websockets.InvalidStatus):
        await RawCharger.connect(f"{server.ocpp_url}/CP-AUTH")
    await server.put("/api/v1/stations/CP-AUTH", {"allowed": True, "password": None})
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-AUTH")
    await charger.close()


async def test_basic_auth_of_an_identity_with_a_colon(server: Running) -> None:
    """OCPP 2.0.1 identities may hold ':', which basic auth uses to end the username."""
    status, _ = await server.put("/api/v1/stations/COL:1", {"password": "s3cret:key-0123456"})
    assert status == 201
    headers = {"Authorization": "Basic " + base64.b64encode(b"COL:1:s3cret:key-0123456").decode()}
    charger = await RawCharger.connect(f"{server.ocpp_url}/COL:1", additional_headers=headers)
    try:
        assert (await charger.call("BootNotification", BOOT))["status"] == "Accepted"
    finally:
        await charger.close()
    wrong = {"Authorization": "Basic " + base64.b64encode(b"COL:1:key-0123456").decode()}
    with pytest.raises(websockets.InvalidStatus) as refused:
        await RawCharger.connect(f"{server.ocpp_url}/COL:1", additional_headers=wrong)
    assert refused.value.response.status_code == 401


async def test_lenient_station_gets_broken_payload_accepted(server: Running) -> None:
    await server.put("/api/v1/stations/CP-SLOPPY", {"allowed": True, "lenient": True})
    strict = await RawCharger.connect(f"{server.ocpp_url}/CP-STRICT")
    sloppy = await RawCharger.connect(f"{server.ocpp_url}/CP-SLOPPY")
    too_long = {**BOOT, "chargePointSerialNumber": "X" * 40}
    odd_status = {"connectorId": 1, "errorCode": "Error", "status": "Available"}
    try:
        with pytest.raises(CallErrorReply) as info:
            await strict.call("BootNotification", too_long)
        assert info.value.code == "PropertyConstraintViolation"
        assert (await sloppy.call("BootNotification", too_long))["status"] == "Accepted"
        assert await sloppy.call("StatusNotification", odd_status) == {}
        # What cannot be used even leniently is still refused, with the reason.
        with pytest.raises(CallErrorReply) as info:
            await sloppy.call("StatusNotification", {"errorCode": "NoError", "status": "Available"})
        assert info.value.code == "FormationViolation"
    finally:
        await strict.close()
        await sloppy.close()
    status, station = await server.get("/api/v1/stations/CP-SLOPPY")
    assert station["boot"]["serial"] == "X" * 40
    assert station["evses"][0]["connectors"][0]["error_code"] == "Error"


async def test_deleting_a_connected_station_disconnects_it(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-GONE")
    try:
        await charger.call("BootNotification", BOOT)
        assert await server.delete("/api/v1/stations/CP-GONE") == 204
        await asyncio.wait_for(charger.ws.wait_closed(), 100 * UNIT)
    finally:
        await charger.close()
    assert (await server.get("/api/v1/stations/CP-GONE"))[0] == 404


@pytest.mark.parametrize("station_id", ["x" * 65, "has%20space"])
async def test_station_ids_that_cannot_connect_are_refused(
    server: Running, station_id: str
) -> None:
    status, problem = await server.put(f"/api/v1/stations/{station_id}", {"allowed": True})
    assert status == 400
    assert "station id" in problem["detail"]


async def test_pending_station_sends_what_it_was_asked_for_and_cannot_be_started(
    start_server: StartServer,
) -> None:
    server = await start_server(unknown_stations=UnknownStationPolicy.PENDING)
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-WAIT")

    async def accept(payload: dict[str, object]) -> dict[str, object]:
        return {"status": "Accepted"}

    charger.handlers["TriggerMessage"] = accept
    charger.handlers["RemoteStartTransaction"] = accept
    status_notification = {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
    try:
        assert (await charger.call("BootNotification", BOOT))["status"] == "Pending"
        with pytest.raises(CallErrorReply):
            await charger.call("StatusNotification", status_notification)
        status, problem = await server.command("CP-WAIT", "RemoteStartTransaction", {"idTag": "T"})
        assert status == 409
        status, _ = await server.command(
            "CP-WAIT", "TriggerMessage", {"requestedMessage": "StatusNotification"}
        )
        assert status == 200
        # Asked for, so served once; not a licence for more.
        assert await charger.call("StatusNotification", status_notification) == {}
        with pytest.raises(CallErrorReply):
            await charger.call("StatusNotification", status_notification)
    finally:
        await charger.close()
