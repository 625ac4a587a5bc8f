"""What one owner per connection promises a charger and an operator, over real sockets."""

from __future__ import annotations

import asyncio

import orjson
import websockets

from tests.server_fixtures import Running
from tests.timing import UNIT, eventually


async def test_an_answer_sent_just_before_the_charger_hangs_up_reaches_the_operator(
    server: Running,
) -> None:
    """A charger answers Reset and drops its socket at once to reboot: the operator still gets the
    charger's answer, not a timeout."""
    async with websockets.connect(
        f"{server.ocpp_url}/CP-REBOOT",
        subprotocols=["ocpp1.6"],
        ping_interval=None,  # type: ignore[list-item]
    ) as ws:
        await ws.send('[2,"h1","Heartbeat",{}]')
        assert orjson.loads(await ws.recv())[0] == 3
        command = asyncio.create_task(server.command("CP-REBOOT", "Reset", {"type": "Hard"}))
        async with asyncio.timeout(100 * UNIT):
            call = orjson.loads(await ws.recv())
        assert call[2] == "Reset"
        await ws.send(orjson.dumps([3, call[1], {"status": "Accepted"}]).decode())
    status, body = await command
    assert status == 200
    assert body["response"] == {"status": "Accepted"}
    await eventually(lambda: "CP-REBOOT" not in server.node.directory, what="disconnected")


async def test_a_replaced_connection_hands_the_station_to_the_new_one(server: Running) -> None:
    """The zombie case: the new socket wins, the old one is closed by the server, and calls on the
    new one are served while the old one's actors finish."""
    old = await websockets.connect(
        f"{server.ocpp_url}/CP-TWICE",
        subprotocols=["ocpp1.6"],
        ping_interval=None,  # type: ignore[list-item]
    )
    await old.send('[2,"o1","Heartbeat",{}]')
    assert orjson.loads(await old.recv())[1] == "o1"
    async with websockets.connect(
        f"{server.ocpp_url}/CP-TWICE",
        subprotocols=["ocpp1.6"],
        ping_interval=None,  # type: ignore[list-item]
    ) as new:
        await new.send('[2,"n1","Heartbeat",{}]')
        assert orjson.loads(await new.recv())[1] == "n1"
        async with asyncio.timeout(100 * UNIT):
            await old.wait_closed()
        assert old.close_code == 1000
        status, body = await server.get("/api/v1/stations/CP-TWICE")
        assert status == 200 and body["connected"] is True
    await eventually(lambda: len(server.node.directory) == 0, what="both connections gone")
