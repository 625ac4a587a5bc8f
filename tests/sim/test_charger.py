"""A simulated charger against a scripted central system on a real loopback socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from sim.charger import SUBPROTOCOL, ChargerConnection
from sim.errors import ConnectionLost
from sim.ocppj import CallError, CallResult, encode_call_error, encode_call_result
from sim.stats import Tally
from tests.sim.helpers import UNIT

RECEIVED = web.AppKey("received", list[Any])


async def scripted_csms(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,))
    await ws.prepare(request)
    received = request.app[RECEIVED]
    async for message in ws:
        frame = orjson.loads(message.data)
        if frame[0] != 2:
            received.append(frame)
            continue
        unique_id, action = frame[1], frame[2]
        if action == "BootNotification":
            await ws.send_str('[2,"srv-1","TriggerMessage",{"requestedMessage":"Heartbeat"}]')
            await ws.send_str('[2,"srv-2","FancyCommand",{}]')
            await ws.send_str('[3,"no-such-id",{}]')
            await ws.send_str("not json")
            await ws.send_bytes(b'[3,"1",{}]')
            await ws.send_str(encode_call_result(unique_id, {"status": "Accepted"}))
        elif action == "Heartbeat":
            await ws.send_str(encode_call_error(unique_id, "InternalError", "boom"))
        elif action == "StopTransaction":
            await ws.close()
        # Authorize is never answered.
    return ws


@pytest.fixture
async def csms_url() -> AsyncIterator[tuple[str, list[Any]]]:
    app = web.Application()
    app[RECEIVED] = []
    app.router.add_get("/ocpp/{station}", scripted_csms)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"ws://{host}:{port}/ocpp/SIM000000", app[RECEIVED]
    finally:
        await runner.cleanup()


async def test_replies_matched_by_id_and_everything_else_counted(
    csms_url: tuple[str, list[Any]],
) -> None:
    url, received = csms_url
    tally = Tally()
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url, protocols=(SUBPROTOCOL,))
        assert ws.protocol == SUBPROTOCOL
        charger = ChargerConnection("SIM000000", ws, tally)
        charger.start()
        try:
            frame, _ = await charger.call("BootNotification", {}, timeout=40 * UNIT)
            assert isinstance(frame, CallResult)
            assert frame.payload == {"status": "Accepted"}
            for _ in range(40):
                if len(received) == 2:
                    break
                await asyncio.sleep(UNIT)
            assert received[0] == [3, "srv-1", {"status": "Rejected"}]
            assert received[1][:3] == [4, "srv-2", "NotImplemented"]
            assert tally.server_calls == 2
            assert tally.unexpected_replies == 1
            assert tally.protocol_violations == 2

            frame, _ = await charger.call("Heartbeat", {}, timeout=40 * UNIT)
            assert isinstance(frame, CallError)
            assert frame.code == "InternalError"

            with pytest.raises(TimeoutError):
                await charger.call("Authorize", {"idTag": "T"}, timeout=2 * UNIT)

            with pytest.raises(ConnectionLost):
                await charger.call("StopTransaction", {}, timeout=40 * UNIT)
            assert charger.lost
            assert tally.disconnects == 1
            with pytest.raises(ConnectionLost):
                await charger.call("Heartbeat", {}, timeout=40 * UNIT)
        finally:
            await charger.close()
