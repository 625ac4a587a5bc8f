"""Password rotation (OCPP 2.0.1 A01, the 1.6 whitepaper's AuthorizationKey) with real chargers
answering Accepted, Rejected and nothing: the old password keeps working until the new one is used,
and a password never reaches what is stored in clear."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from sqlalchemy import select

from persistence.events import station_events_of
from persistence.models import stations
from persistence.reads import EngineReads
from tests.raw_charger import RawCharger
from tests.server_fixtures import Running
from tests.timing import UNIT
from transport.versions import OcppVersion

OLD = "old-password-0123456789"
BOOT_V2 = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}
BOOT_V16 = {"chargePointVendor": "V", "chargePointModel": "M"}


async def _pending(server: Running, station: str) -> str | None:
    row = await EngineReads(server.node.engine).first(
        select(stations.c.pending_password_hash).where(stations.c.id == station)
    )
    assert row is not None
    return row["pending_password_hash"]  # type: ignore[no-any-return]


async def _connect(
    server: Running, station: str, password: str, version: OcppVersion
) -> RawCharger:
    url = server.ocpp_url.replace("ws://", f"ws://{station}:{password}@")
    return await RawCharger.connect(f"{url}/{station}", subprotocols=[version.value])


async def _station(server: Running, station: str, version: OcppVersion) -> RawCharger:
    status, _ = await server.put(f"/api/v1/stations/{station}", {"password": OLD})
    assert status == 201
    charger = await _connect(server, station, OLD, version)
    boot = BOOT_V16 if version is OcppVersion.V16 else BOOT_V2
    assert (await charger.call("BootNotification", boot))["status"] == "Accepted"
    return charger


def _answering(status: str, seen: list[dict[str, Any]]) -> Any:
    async def handle(payload: dict[str, Any]) -> dict[str, Any]:
        seen.append(payload)
        if "setVariableData" in payload:
            data = payload["setVariableData"][0]
            return {
                "setVariableResult": [
                    {
                        "attributeStatus": status,
                        "component": data["component"],
                        "variable": data["variable"],
                    }
                ]
            }
        return {"status": status}

    return handle


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
async def test_accepted_rotation(server: Running, version: OcppVersion) -> None:
    station = f"CP-ROT-{version.name}"
    charger = await _station(server, station, version)
    seen: list[dict[str, Any]] = []
    action = "ChangeConfiguration" if version is OcppVersion.V16 else "SetVariables"
    charger.handlers[action] = _answering("Accepted", seen)
    try:
        status, body = await server.post(f"/api/v1/stations/{station}/password", {})
    finally:
        await charger.close()
    assert status == 200, body
    assert body["status"] == "Accepted" and body["changed"] is True
    new = body["password"]
    if version is OcppVersion.V16:
        # The whitepaper: the hex of the password's 16-20 bytes in AuthorizationKey.
        assert seen == [{"key": "AuthorizationKey", "value": new.encode().hex()}]
        assert 16 <= len(new) <= 20
    else:
        assert seen[0]["setVariableData"][0]["attributeValue"] == new
        assert seen[0]["setVariableData"][0]["variable"]["name"] == "BasicAuthPassword"
        assert 24 <= len(new) <= 40
    assert await _pending(server, station) is not None
    # The password is kept nowhere in clear: not in the station's events.
    events = await station_events_of(EngineReads(server.node.engine), station)
    assert new not in str(events) and new.encode().hex() not in str(events)
    # The old password still works until the new one is used...
    again = await _connect(server, station, OLD, version)
    await again.close()
    assert await _pending(server, station) is not None
    # ...then the new one is the station's password and the old one is refused.
    renewed = await _connect(server, station, new, version)
    await renewed.close()
    assert await _pending(server, station) is None
    with pytest.raises(websockets.InvalidStatus) as refused:
        await _connect(server, station, OLD, version)
    assert refused.value.response.status_code == 401


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
async def test_rejected_rotation_keeps_the_old_password(
    server: Running, version: OcppVersion
) -> None:
    station = f"CP-ROT-REJ-{version.name}"
    charger = await _station(server, station, version)
    action = "ChangeConfiguration" if version is OcppVersion.V16 else "SetVariables"
    charger.handlers[action] = _answering("Rejected", [])
    given = "given-password-0123"
    try:
        status, body = await server.post(
            f"/api/v1/stations/{station}/password", {"password": given}
        )
    finally:
        await charger.close()
    assert status == 200
    assert body == {
        "station_id": station,
        "action": action,
        "status": "Rejected",
        "changed": False,
    }
    assert await _pending(server, station) is None
    again = await _connect(server, station, OLD, version)
    await again.close()
    with pytest.raises(websockets.InvalidStatus):
        await _connect(server, station, given, version)


async def test_no_answer_keeps_the_old_password(server: Running) -> None:
    station = "CP-ROT-SILENT"
    charger = await _station(server, station, OcppVersion.V201)
    never = asyncio.Event()

    async def silent(payload: dict[str, Any]) -> dict[str, Any]:
        await never.wait()
        return {}

    charger.handlers["SetVariables"] = silent
    try:
        status, body = await server.post(f"/api/v1/stations/{station}/password", {})
    finally:
        await charger.close()
    assert status == 504
    assert "password" not in body or body["password"] is None
    assert await _pending(server, station) is None
    again = await _connect(server, station, OLD, OcppVersion.V201)
    await again.close()


@pytest.mark.parametrize(
    "body",
    [{"password": "short"}, {"password": "x" * 41}, {"password": 12345678901234567}, {"pw": "x"}],
)
async def test_bad_requests_are_refused(server: Running, body: dict[str, Any]) -> None:
    station = "CP-ROT-BAD"
    charger = await _station(server, station, OcppVersion.V201)
    try:
        status, _ = await server.post(f"/api/v1/stations/{station}/password", body)
        assert status == 400
    finally:
        await charger.close()
    assert await _pending(server, station) is None


async def test_a_station_not_connected_is_404(server: Running) -> None:
    status, _ = await server.post("/api/v1/stations/NOBODY/password", {})
    assert status == 404
    assert UNIT > 0
