"""A `voltmesh serve` process killed with SIGKILL mid-transaction loses nothing it acknowledged."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.raw_charger import RawCharger
from tests.server_fixtures import TEST_API_TOKEN, voltmesh_process
from tests.timing import UNIT

pytestmark = pytest.mark.slow


async def test_sigkill_mid_transaction_keeps_everything_acknowledged(tmp_path: Path) -> None:
    acked_values: list[int] = []
    enough_acked = asyncio.Event()
    service = {"Authorization": f"Bearer {TEST_API_TOKEN}"}
    async with voltmesh_process(tmp_path) as (process, ocpp_port, api_port):
        async with aiohttp.ClientSession(headers=service) as http:
            for tag in ("T", "T2"):
                # Accepted tokens: a refused start is closed at once.
                url = f"http://127.0.0.1:{api_port}/api/v1/id-tags/{tag}"
                async with http.put(url, json={"status": "Accepted"}) as r:
                    assert r.status == 201
        charger = await RawCharger.connect(f"ws://127.0.0.1:{ocpp_port}/ocpp/CP-CRASH")
        await charger.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        start = await charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-11-01T10:00:00Z"},
        )
        tx = start["transactionId"]
        finished = await charger.call(
            "StartTransaction",
            {"connectorId": 2, "idTag": "T2", "meterStart": 0, "timestamp": "2026-11-01T10:00:00Z"},
        )
        await charger.call(
            "StopTransaction",
            {
                "transactionId": finished["transactionId"],
                "meterStop": 321,
                "timestamp": "2026-11-01T10:05:00Z",
            },
        )

        async def meter_stream() -> None:
            for i in range(1, 100_000):
                value = i * 10
                await charger.call(
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "transactionId": tx,
                        "meterValue": [
                            {
                                "timestamp": f"2026-11-01T10:{i // 3600 % 60:02d}:{i // 60 % 60:02d}.{i % 60:02d}Z",
                                "sampledValue": [{"value": str(value)}],
                            }
                        ],
                    },
                )
                acked_values.append(value)
                if len(acked_values) >= 50:
                    enough_acked.set()

        stream = asyncio.create_task(meter_stream())
        await asyncio.wait_for(enough_acked.wait(), 600 * UNIT)
        # Killed while a MeterValues is in flight: only what was answered counts.
        process.send_signal(signal.SIGKILL)
        await process.wait()
        with pytest.raises(Exception):  # noqa: B017,PT011 - the connection dies in any of several ways
            await stream
        await charger.close()

    async with (
        voltmesh_process(tmp_path) as (_, _, api_port),
        aiohttp.ClientSession(headers=service) as http,
    ):
        async with http.get(f"http://127.0.0.1:{api_port}/api/v1/transactions/{tx}") as r:
            assert r.status == 200
            view = await r.json()
        stored = {int(m["value"]) for m in view["meter_values"]}
        assert set(acked_values) <= stored
        assert view["active"] is True
        assert view["energy_wh"] >= acked_values[-1]
        async with http.get(
            f"http://127.0.0.1:{api_port}/api/v1/transactions/{finished['transactionId']}"
        ) as r:
            done = await r.json()
        assert done["energy_wh"] == 321.0
        async with http.get(f"http://127.0.0.1:{api_port}/api/v1/stations/CP-CRASH") as r:
            station = await r.json()
        # The dead node's connections are not reported as live after the restart.
        assert station["connected"] is False


async def test_sigterm_exits_zero(tmp_path: Path) -> None:
    async with voltmesh_process(tmp_path) as (process, ocpp_port, _):
        charger = await RawCharger.connect(f"ws://127.0.0.1:{ocpp_port}/ocpp/CP-TERM")
        await charger.call("Heartbeat", {})
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 400 * UNIT) == 0
        await asyncio.wait_for(charger.ws.wait_closed(), 100 * UNIT)
        assert charger.ws.close_code == 1012
        await charger.close()
