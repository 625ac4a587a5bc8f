"""The fleet link against a real websocket server on loopback: deadlines, and answers checked
against the schemas only when asked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from sim.fleet.link import CallFailed, Link
from sim.fleet.tally import FleetTally
from tests.sim.helpers import UNIT

Answer = Callable[[int, list[Any]], dict[str, Any] | None]
"""(how many CALLs came before, the CALL frame) -> the CALLRESULT payload, or None for silence."""


@asynccontextmanager
async def central_system(answer: Answer) -> AsyncIterator[int]:
    """A websocket server on a free loopback port that answers CALLs as ``answer`` says."""
    calls = 0

    async def handler(request: web.Request) -> web.WebSocketResponse:
        nonlocal calls
        ws = web.WebSocketResponse(protocols=("ocpp1.6",))
        await ws.prepare(request)
        async for message in ws:
            frame = orjson.loads(message.data)
            payload = answer(calls, frame)
            calls += 1
            if payload is not None:
                await ws.send_str(orjson.dumps([3, frame[1], payload]).decode())
        return ws

    app = web.Application()
    app.router.add_get("/ocpp/{station}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@asynccontextmanager
async def link_to(port: int, tally: FleetTally, *, validate: bool = True) -> AsyncIterator[Link]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://127.0.0.1:{port}/ocpp/CS1", protocols=["ocpp1.6"]) as ws,
    ):
        link = Link(
            "CS1", "ocpp1.6", ws, tally, lambda *_: None, timeout=4 * UNIT, validate=validate
        )
        link.start()
        try:
            yield link
        finally:
            await link.close()


NOW = {"currentTime": "2026-01-01T00:00:00Z"}


async def test_an_unanswered_call_times_out_and_the_next_one_goes() -> None:
    tally = FleetTally()
    async with (
        central_system(lambda calls, frame: None if calls == 0 else NOW) as port,
        link_to(port, tally) as link,
    ):
        with pytest.raises(CallFailed, match="timeout"):
            await link.call("Heartbeat", {})
        assert await link.call("Heartbeat", {}) == NOW
    assert tally.errors_by_kind == {"timeout": 1}
    assert tally.messages_by_action == {"Heartbeat": 1}


@pytest.mark.parametrize(("validate", "errors"), [(True, {"schema": 1}), (False, {})])
async def test_answers_are_checked_against_the_schemas_unless_asked_not_to(
    validate: bool, errors: dict[str, int]
) -> None:
    tally = FleetTally()
    # A Heartbeat answer without its required currentTime.
    async with (
        central_system(lambda calls, frame: {}) as port,
        link_to(port, tally, validate=validate) as link,
    ):
        assert await link.call("Heartbeat", {}) == {}
    assert tally.errors_by_kind == errors
