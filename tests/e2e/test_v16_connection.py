"""Connection hygiene: dead sockets, oversized frames, notifications that are only recorded, and
transactions that never end."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from persistence.events import station_events_of
from persistence.reads import EngineReads
from persistence.transactions import mark_stale_transactions
from tests.raw_charger import RawCharger
from tests.server_fixtures import StartServer
from tests.timing import UNIT


async def test_silent_socket_is_dropped_after_missed_pong(start_server: StartServer) -> None:
    server = await start_server(ping_interval=8 * UNIT)
    async with (
        aiohttp.ClientSession() as http,
        # autoping off: this client never answers the server's pings, like a dead peer.
        http.ws_connect(
            f"{server.ocpp_url}/CP-SILENT", protocols=["ocpp1.6"], autoping=False
        ) as ws,
    ):
        await ws.send_str('[2,"1","Heartbeat",{}]')
        pings = 0
        async with asyncio.timeout(80 * UNIT):
            # Pings arrive as messages (autoping off); the loop ends when the server drops us.
            async for message in ws:
                pings += message.type is aiohttp.WSMsgType.PING
        assert ws.closed
        assert pings >= 1
    status, station = await server.get("/api/v1/stations/CP-SILENT")
    assert station["connected"] is False


async def test_oversized_frame_closes_with_1009(start_server: StartServer) -> None:
    server = await start_server(max_frame_bytes=1024)
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-BIG")
    try:
        await charger.call("Heartbeat", {})
        await charger.send_frame([2, "big", "DataTransfer", {"vendorId": "v", "data": "x" * 4096}])
        await asyncio.wait_for(charger.ws.wait_closed(), 100 * UNIT)
        assert charger.ws.close_code == 1009
    finally:
        await charger.close()


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("DiagnosticsStatusNotification", {"status": "Uploaded"}),
        ("FirmwareStatusNotification", {"status": "Installed"}),
        (
            "SecurityEventNotification",
            {"type": "StartupOfTheDevice", "timestamp": "2026-11-01T10:00:00Z"},
        ),
    ],
)
async def test_notifications_are_recorded(
    start_server: StartServer, action: str, payload: dict[str, str]
) -> None:
    server = await start_server()
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-NOTE")
    try:
        assert await charger.call(action, payload) == {}
    finally:
        await charger.close()
    events = await station_events_of(EngineReads(server.node.engine), "CP-NOTE", action)
    assert events == [(action, payload)]


async def test_transactions_that_never_end_are_marked_stale_not_deleted(
    start_server: StartServer,
) -> None:
    server = await start_server()
    # An accepted token: a start refused for its token is closed at once, never left open.
    await server.put("/api/v1/id-tags/T", {"status": "Accepted"})
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-LOST")
    try:
        start = await charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-11-01T10:00:00Z"},
        )
    finally:
        await charger.close()
    engine = server.node.engine
    assert (
        await mark_stale_transactions(engine, older_than=datetime.now(UTC) - timedelta(hours=1))
        == 0
    )
    assert (
        await mark_stale_transactions(engine, older_than=datetime.now(UTC) + timedelta(seconds=1))
        == 1
    )
    status, tx = await server.get(f"/api/v1/transactions/{start['transactionId']}")
    assert status == 200
    assert tx["stale"] is True
    assert tx["active"] is True


async def test_reconnect_without_boot_is_asked_for_status(start_server: StartServer) -> None:
    server = await start_server(status_trigger_delay=4 * UNIT)
    await server.put("/api/v1/stations/CP-BACK", {"allowed": True})
    await server.put("/api/v1/stations/CP-BOOTS", {"allowed": True})
    triggered = asyncio.Event()

    async def trigger(payload: dict[str, object]) -> dict[str, object]:
        triggered.set()
        return {"status": "Accepted"}

    # The one that boots connects first: its delay is over before the other's, so once the other is
    # asked, the booted one's turn has come and gone.
    boots = await RawCharger.connect(f"{server.ocpp_url}/CP-BOOTS")
    boots.handlers["TriggerMessage"] = trigger
    back = None
    try:
        await boots.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        back = await RawCharger.connect(f"{server.ocpp_url}/CP-BACK")
        back.handlers["TriggerMessage"] = trigger
        await asyncio.wait_for(triggered.wait(), 80 * UNIT)
        # A question to it would have been sent before the other's, so before this answer.
        await boots.call("Heartbeat", {})
        assert back.received_calls == [
            ("TriggerMessage", {"requestedMessage": "StatusNotification"})
        ]
        assert boots.received_calls == []
    finally:
        if back is not None:
            await back.close()
        await boots.close()
