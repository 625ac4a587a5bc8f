"""Every CSMS-initiated 1.6 command through the REST API, and how each can fail."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.v16 import call

from tests.ocpp_charger import charger16
from tests.raw_charger import CallErrorReply, RawCharger
from tests.server_fixtures import Running
from tests.timing import UNIT, eventually

COMMANDS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("RemoteStartTransaction", {"idTag": "TAG", "connectorId": 1}, {"status": "Accepted"}),
    ("RemoteStopTransaction", {"transactionId": 7}, {"status": "Accepted"}),
    ("Reset", {"type": "Soft"}, {"status": "Accepted"}),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
    ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, {"status": "Scheduled"}),
    (
        "GetConfiguration",
        {"key": ["HeartbeatInterval", "Nope"]},
        {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknownKey": ["Nope"],
        },
    ),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}, {"status": "Accepted"}),
    ("ClearCache", {}, {"status": "Accepted"}),
    (
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        {"status": "Accepted"},
    ),
    (
        "DataTransfer",
        {"vendorId": "acme", "messageId": "ping"},
        {"status": "Accepted", "data": "pong"},
    ),
]


async def queued(server: Running, station_id: str, count: int) -> bool:
    return await server.queued_commands(station_id) == count


async def test_every_core_command_reaches_a_real_charger(server: Running) -> None:
    async with charger16(server.ocpp_url, "CP-CMD") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        for action, payload, expected in COMMANDS:
            status, body = await server.command("CP-CMD", action, payload)
            assert status == 200, (action, body)
            assert body == {"action": action, "response": expected}
        assert [a for a, _ in cp.received] == [c[0] for c in COMMANDS]
        assert cp.configuration["HeartbeatInterval"] == "60"
        status, config = await server.get("/api/v1/stations/CP-CMD/configuration")
        assert status == 200
        assert [(k["key"], k["value"], k["readonly"]) for k in config["keys"]] == [
            ("HeartbeatInterval", "60", False)
        ]
        assert config["unknown"] == ["Nope"]

    # The keys outlive the connection: shown while the station is offline.
    async def offline() -> bool:
        return not await server.is_connected("CP-CMD")

    await eventually(offline)
    assert await server.get("/api/v1/stations/CP-CMD/configuration") == (200, config)


async def test_command_errors(server: Running) -> None:
    status, problem = await server.command("NOBODY", "Reset", {"type": "Soft"})
    assert status == 404
    assert problem["status"] == 404 and "not connected" in problem["detail"]
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-ERR")
    await charger.call("Heartbeat", {})  # connected once it has been answered
    try:
        status, problem = await server.command("CP-ERR", "Reset", {"type": "Sideways"})
        assert status == 400 and "type" in problem["detail"]
        status, problem = await server.command("CP-ERR", "Reset", {})
        assert status == 400
        status, problem = await server.command("CP-ERR", "BootNotification", {})
        assert status == 400 and problem["code"] == "NotSupported"
        status, problem = await server.command("CP-ERR", "RequestStartTransaction", {})
        assert status == 400

        async def refuse(payload: dict[str, Any]) -> dict[str, Any]:
            raise CallErrorReply("", "NotSupported", "no resets here")

        charger.handlers["Reset"] = refuse
        status, problem = await server.command("CP-ERR", "Reset", {"type": "Hard"})
        assert status == 502
        assert problem["code"] == "NotSupported"
        assert problem["description"] == "no resets here"

        async def never(payload: dict[str, Any]) -> dict[str, Any]:
            await asyncio.Event().wait()
            return {}

        charger.handlers["ClearCache"] = never
        status, problem = await server.command(
            "CP-ERR", "ClearCache", {}, params={"timeout": f"{6 * UNIT:g}"}
        )
        assert status == 504

        # The late answer is dropped and the next command goes through.
        async def accept(payload: dict[str, Any]) -> dict[str, Any]:
            return {"status": "Accepted"}

        charger.handlers["UnlockConnector"] = accept
        status, body = await server.command("CP-ERR", "UnlockConnector", {"connectorId": 1})
        assert status == 200
        assert body["response"] == {"status": "Accepted"}
    finally:
        await charger.close()


async def test_charger_calls_before_answering_our_call(server: Running) -> None:
    """A charger that sends StatusNotification, and waits for its answer, before it answers Reset."""
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-ORDER")
    await charger.call("Heartbeat", {})  # connected once it has been answered
    try:

        async def reset(payload: dict[str, Any]) -> dict[str, Any]:
            await charger.call(
                "StatusNotification",
                {"connectorId": 0, "errorCode": "NoError", "status": "Unavailable"},
            )
            return {"status": "Accepted"}

        charger.handlers["Reset"] = reset
        status, body = await server.command("CP-ORDER", "Reset", {"type": "Soft"})
        assert status == 200 and body["response"] == {"status": "Accepted"}
    finally:
        await charger.close()


async def test_commands_are_serialized_one_in_flight(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-SERIAL")
    await charger.call("Heartbeat", {})  # connected once it has been answered
    in_flight = 0
    peak = 0
    answered = 0
    try:

        async def slow(payload: dict[str, Any]) -> dict[str, Any]:
            nonlocal in_flight, peak, answered
            in_flight += 1
            peak = max(peak, in_flight)
            if answered == 0:
                # Hold the first until the other four wait behind it: they could all go at once.
                await eventually(lambda: queued(server, "CP-SERIAL", 4))
            answered += 1
            in_flight -= 1
            return {"status": "Accepted"}

        charger.handlers["ClearCache"] = slow
        results = await asyncio.gather(
            *(server.command("CP-SERIAL", "ClearCache", {}) for _ in range(5))
        )
        assert [s for s, _ in results] == [200] * 5
        assert answered == 5
        assert peak == 1
    finally:
        await charger.close()


async def test_remote_command_payload_must_be_object(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-BODY")
    await charger.call("Heartbeat", {})  # connected once it has been answered
    try:
        async with server.http.post(
            f"{server.api_url}/api/v1/stations/CP-BODY/commands/Reset", data=b"[1,2"
        ) as r:
            assert r.status == 400
            assert r.headers["Content-Type"] == "application/problem+json"
    finally:
        await charger.close()


@pytest.mark.parametrize("action", ["GetConfiguration", "ClearCache"])
async def test_command_without_body(server: Running, action: str) -> None:
    async with charger16(server.ocpp_url, "CP-NOBODY") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        async with server.http.post(
            f"{server.api_url}/api/v1/stations/CP-NOBODY/commands/{action}"
        ) as r:
            assert r.status == 200


async def test_queued_command_follows_the_station_to_its_new_connection(server: Running) -> None:
    old = await RawCharger.connect(f"{server.ocpp_url}/CP-MOVE")
    await old.call("Heartbeat", {})
    gate = asyncio.Event()

    async def stuck(payload: dict[str, Any]) -> dict[str, Any]:
        await gate.wait()
        return {"status": "Accepted"}

    async def unlock(payload: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Unlocked"}

    old.handlers["ClearCache"] = stuck
    new = None
    try:
        first = asyncio.create_task(server.command("CP-MOVE", "ClearCache", {}))
        await eventually(lambda: old.received_calls, what="the first command on the wire")
        second = asyncio.create_task(
            server.command("CP-MOVE", "UnlockConnector", {"connectorId": 1})
        )
        # Queued behind the first before the reconnect: else it would simply go to the new socket.
        await eventually(lambda: queued(server, "CP-MOVE", 1))
        new = await RawCharger.connect(f"{server.ocpp_url}/CP-MOVE")
        new.handlers["UnlockConnector"] = unlock
        status, body = await second
        assert status == 200
        assert body["response"] == {"status": "Unlocked"}
        # The first reached the old socket: it may have been acted on, so it is not sent again.
        status, problem = await first
        assert status == 404
        assert "before answering" in problem["detail"]
        assert [a for a, _ in new.received_calls] == ["UnlockConnector"]
    finally:
        gate.set()
        await old.close()
        if new is not None:
            await new.close()
