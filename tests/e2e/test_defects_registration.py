"""An operator holds a registered station back: ``registration`` Pending or Rejected is what its next
BootNotification gets, and what it may send and be sent follows 2.0.1 B02/B03 and 1.6 section 4.2.1."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.raw_charger import CallErrorReply, RawCharger
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT
from tests.v2_calls import boot_payload, ts

BOOT16 = {"chargePointVendor": "V", "chargePointModel": "M"}
STATUS16 = {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
STATUS2 = {"timestamp": ts(), "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
REMOTE_START = {
    "ocpp1.6": ("RemoteStartTransaction", {"idTag": "T"}),
    "ocpp2.0.1": (
        "RequestStartTransaction",
        {"remoteStartId": 1, "idToken": {"idToken": "T", "type": "Central"}},
    ),
}
# A query B02 allows while Pending.
QUERY = {
    "ocpp1.6": ("GetConfiguration", {}),
    "ocpp2.0.1": (
        "GetVariables",
        {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "X"}}]},
    ),
}
QUERY_ANSWER: dict[str, dict[str, Any]] = {
    "ocpp1.6": {"configurationKey": [], "unknownKey": []},
    "ocpp2.0.1": {
        "getVariableResult": [
            {
                "attributeStatus": "UnknownVariable",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "X"},
            }
        ]
    },
}


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return server_on_each_db


async def _connect(server: Running, station_id: str, version: str) -> RawCharger:
    charger = await RawCharger.connect(f"{server.ocpp_url}/{station_id}", subprotocols=[version])
    action, _ = QUERY[version]

    async def answer(payload: dict[str, Any]) -> dict[str, Any]:
        return QUERY_ANSWER[version]

    charger.handlers[action] = answer
    return charger


async def _boot(charger: RawCharger, version: str) -> dict[str, Any]:
    reply: dict[str, Any] = await charger.call(
        "BootNotification", BOOT16 if version == "ocpp1.6" else boot_payload()
    )
    return reply


async def _status(charger: RawCharger, version: str) -> Any:
    return await charger.call("StatusNotification", STATUS16 if version == "ocpp1.6" else STATUS2)


async def _refused(coroutine: Any) -> str:
    with pytest.raises(CallErrorReply) as info:
        await coroutine
    return info.value.code


async def test_registration_is_validated_and_shown(server: Running) -> None:
    status, body = await server.put("/api/v1/stations/CP-REG", {"registration": "Pending"})
    assert status == 201, body
    assert (body["registration"], body["allowed"]) == ("Pending", True)
    status, body = await server.put("/api/v1/stations/CP-REG", {"allowed": False})
    assert (body["registration"], body["allowed"]) == ("Rejected", False)
    status, body = await server.get("/api/v1/stations/CP-REG")
    assert body["registration"] == "Rejected"
    status, listing = await server.get("/api/v1/stations")
    assert [s["registration"] for s in listing["items"] if s["id"] == "CP-REG"] == ["Rejected"]
    status, body = await server.put("/api/v1/stations/CP-REG", {})
    assert (body["registration"], body["allowed"]) == ("Accepted", True)
    status, problem = await server.put("/api/v1/stations/CP-REG", {"registration": "Maybe"})
    assert status == 400 and "Accepted, Pending, Rejected" in problem["detail"]
    status, problem = await server.put(
        "/api/v1/stations/CP-REG", {"registration": "Rejected", "allowed": True}
    )
    assert status == 400 and "contradicts" in problem["detail"]
    assert (await server.get("/api/v1/stations/CP-REG"))[1]["registration"] == "Accepted"


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_pending_station_may_be_queried_but_not_charge(
    start_server: StartServer, version: str
) -> None:
    server = await start_server(boot_retry_interval=600)
    station = f"{version}-HELD"
    await server.put(f"/api/v1/stations/{station}", {"registration": "Pending"})
    charger = await _connect(server, station, version)
    try:
        boot = await _boot(charger, version)
        assert (boot["status"], boot["interval"]) == ("Pending", 600)
        assert "currentTime" in await charger.call("Heartbeat", {})
        assert await _refused(_status(charger, version)) == "SecurityError"
        action, payload = REMOTE_START[version]
        status, problem = await server.command(station, action, payload)
        assert status == 409, problem
        action, payload = QUERY[version]
        status, body = await server.command(station, action, payload)
        assert status == 200, body
        status, shown = await server.get(f"/api/v1/stations/{station}")
        assert (shown["registration"], shown["boot"]["status"]) == ("Pending", "Pending")
        # Released: it is told at its next boot (and served from now on).
        await server.put(f"/api/v1/stations/{station}", {"registration": "Accepted"})
        assert (await _boot(charger, version))["status"] == "Accepted"
        assert await _status(charger, version) == {}
    finally:
        await charger.close()


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_rejected_station_sends_and_is_sent_nothing_but_its_boot(
    server: Running, version: str
) -> None:
    station = f"{version}-OUT"
    await server.put(f"/api/v1/stations/{station}", {"registration": "Rejected"})
    charger = await _connect(server, station, version)
    try:
        assert (await _boot(charger, version))["status"] == "Rejected"
        assert await _refused(charger.call("Heartbeat", {})) == "SecurityError"
        assert await _refused(_status(charger, version)) == "SecurityError"
        action, payload = QUERY[version]
        status, problem = await server.command(station, action, payload)
        assert status == 409, problem
        assert charger.received_calls == []
    finally:
        await charger.close()


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_connected_station_held_back_is_told_at_its_next_boot(
    server: Running, version: str
) -> None:
    station = f"{version}-LIVE"
    charger = await _connect(server, station, version)
    try:
        assert (await _boot(charger, version))["status"] == "Accepted"
        assert await _status(charger, version) == {}
        # Pending is what its next boot gets: until then it does not know it is held back, and
        # what it sends (its transactions' messages) is served, not refused and lost.
        status, shown = await server.put(f"/api/v1/stations/{station}", {"registration": "Pending"})
        assert (status, shown["registration"]) == (200, "Pending")
        assert await _status(charger, version) == {}

        async def refused_now() -> bool:
            try:
                await _status(charger, version)
            except CallErrorReply as exc:
                return exc.code == "SecurityError"
            return False

        assert (await _boot(charger, version))["status"] == "Pending"
        assert await refused_now()  # without waiting: answered Pending, it is held back now
        assert "currentTime" in await charger.call("Heartbeat", {})
        # Rejected: nothing may be exchanged with it any more, so its socket is closed.
        await server.put(f"/api/v1/stations/{station}", {"registration": "Rejected"})
        async with asyncio.timeout(100 * UNIT):
            await charger.ws.wait_closed()
    finally:
        await charger.close()
    again = await _connect(server, station, version)
    try:
        assert (await _boot(again, version))["status"] == "Rejected"
    finally:
        await again.close()


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_held_back_while_away_the_station_is_served_until_it_boots(
    server: Running, version: str
) -> None:
    """Set to Pending while it was disconnected, a station last answered Accepted reconnects
    without booting (a reconnect is not a reboot): it does not know it is held back, so what it
    sends is served until its next BootNotification is answered Pending."""
    station = f"{version}-AWAY"
    charger = await _connect(server, station, version)
    try:
        assert (await _boot(charger, version))["status"] == "Accepted"
    finally:
        await charger.close()
    await server.put(f"/api/v1/stations/{station}", {"registration": "Pending"})
    again = await _connect(server, station, version)
    try:
        assert await _status(again, version) == {}
        assert (await _boot(again, version))["status"] == "Pending"
        assert await _refused(_status(again, version)) == "SecurityError"
    finally:
        await again.close()
    # A station answered Pending stays held back when it reconnects.
    third = await _connect(server, station, version)
    try:
        assert await _refused(_status(third, version)) == "SecurityError"
    finally:
        await third.close()
