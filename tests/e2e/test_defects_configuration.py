"""A 1.6 station's configuration keys outlive its connection and the node (1.6 sections 5.3, 5.8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocpp.v16 import call

from tests.ocpp_charger import charger16
from tests.server_fixtures import Running, node_on_loopback
from tests.timing import eventually


def _stores(db_url: str, status_db_url: str) -> dict[str, Any]:
    if db_url.startswith("sqlite"):
        return {}  # the node's own files in its data directory
    return {"database_url": db_url, "status_database_url": status_db_url}


async def _offline(server: Running, station_id: str) -> bool:
    return not await server.is_connected(station_id)


async def test_configuration_keys_persist_across_reconnects_and_restarts(
    db_url: str, status_db_url: str, tmp_path: Path
) -> None:
    stores = _stores(db_url, status_db_url)
    async with node_on_loopback(tmp_path / "data", **stores) as server:
        async with charger16(server.ocpp_url, "CP-CONF") as cp:
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            status, body = await server.command("CP-CONF", "GetConfiguration", {})
            assert status == 200, body
            status, body = await server.command(
                "CP-CONF", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}
            )
            assert body["response"]["status"] == "Accepted"
            status, body = await server.command("CP-CONF", "GetConfiguration", {"key": ["Nope"]})
            assert body["response"]["unknownKey"] == ["Nope"]
        await eventually(lambda: _offline(server, "CP-CONF"), what="CP-CONF offline")
        status, offline = await server.get("/api/v1/stations/CP-CONF/configuration")
        assert status == 200, offline
        keys = {k["key"]: k for k in offline["keys"]}
        assert {k: v["value"] for k, v in keys.items()} == {
            "HeartbeatInterval": "60",
            "MeterValueSampleInterval": "60",
        }
        assert keys["MeterValueSampleInterval"]["readonly"] is False
        assert (
            keys["HeartbeatInterval"]["learned_at"]
            >= keys["MeterValueSampleInterval"]["learned_at"]
        )
        assert offline["unknown"] == ["Nope"]
        # The latest answer (the unknown key) is the newest.
        assert offline["updated_at"] > max(k["learned_at"] for k in offline["keys"])
    async with node_on_loopback(tmp_path / "data", **stores) as restarted:
        status, after = await restarted.get("/api/v1/stations/CP-CONF/configuration")
        assert status == 200
        assert after == offline
        # A full GetConfiguration replaces what was known: a key the charger no longer has goes.
        async with charger16(restarted.ocpp_url, "CP-CONF") as cp:
            del cp.configuration["MeterValueSampleInterval"]
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            status, body = await restarted.command("CP-CONF", "GetConfiguration", {})
            assert status == 200, body
        status, replaced = await restarted.get("/api/v1/stations/CP-CONF/configuration")
        assert [(k["key"], k["value"]) for k in replaced["keys"]] == [("HeartbeatInterval", "300")]
        assert replaced["unknown"] == []
        assert (await restarted.get("/api/v1/stations/NOBODY/configuration"))[0] == 404
