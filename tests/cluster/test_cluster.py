"""The cluster, as real processes on loopback: one node with two shard processes behind shared ports,
and two nodes (pods) joined into one convention on PostgreSQL.

Shards and nodes are whole ``voltmesh serve`` processes; chargers are real OCPP clients; a shard or a
node is killed with SIGKILL as the kernel would kill it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ocpp.v16 import call

from tests.ocpp_charger import charger16
from tests.persistence_fixtures import fresh_postgres_database
from tests.server_fixtures import TEST_API_TOKEN, voltmesh_process
from tests.timing import UNIT, eventually

pytestmark = pytest.mark.timeout(240)


class Api:
    """The REST API of a node, with the service credential."""

    def __init__(self, port: int, http: aiohttp.ClientSession) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.http = http

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.url + path) as r:
            return r.status, await r.json(content_type=None)

    async def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, json=body) as r:
            return r.status, await r.json(content_type=None)

    async def command(self, station_id: str, action: str, payload: Any) -> tuple[int, Any]:
        return await self.send("POST", f"/api/v1/stations/{station_id}/commands/{action}", payload)

    async def members(self) -> list[dict[str, Any]]:
        status, body = await self.get("/api/v1/nodes")
        assert status == 200, body
        return list(body["items"])


@contextlib.asynccontextmanager
async def api_client(port: int) -> AsyncIterator[Api]:
    # A fresh connection per request: SO_REUSEPORT then spreads them over the shards.
    connector = aiohttp.TCPConnector(force_close=True)
    headers = {"Authorization": f"Bearer {TEST_API_TOKEN}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        yield Api(port, http)


async def boot(cp: Any) -> None:
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))


async def test_two_shards_share_the_ports_and_every_command_reaches_its_charger(
    tmp_path: Path,
) -> None:
    async with (
        voltmesh_process(tmp_path / "data", shards=2) as (process, ocpp_port, api_port),
        api_client(api_port) as api,
    ):
        members = await eventually(
            lambda: _alive(api, 2), within=200 * UNIT, what="two shards alive"
        )
        assert sorted(m["shard"] for m in members) == [0, 1]
        url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
        async with contextlib.AsyncExitStack() as stack:
            chargers = [
                await stack.enter_async_context(charger16(url, f"CL-{i}")) for i in range(12)
            ]
            for cp in chargers:
                await boot(cp)
            held = {m["name"]: m["stations"] for m in await api.members()}
            # The kernel spread them: both shards hold some (12 connections: chance of all on one
            # is 2 in 4096).
            assert sum(held.values()) == 12 and all(held.values()), held
            # Each command lands on either shard's API; it reaches the charger wherever it is.
            for i in range(12):
                for _ in range(2):
                    status, body = await api.command(
                        f"CL-{i}", "DataTransfer", {"vendorId": "acme", "messageId": "ping"}
                    )
                    assert status == 200, body
                    assert body["response"]["status"] == "Accepted"
            assert all(len(cp.received) == 2 for cp in chargers)
            status, config = await api.get("/api/v1/stations/CL-3/configuration")
            assert status == 200, config
            status, body = await api.command("NOBODY", "Reset", {"type": "Soft"})
            assert status == 404, body


async def _alive(api: Api, count: int) -> list[dict[str, Any]] | None:
    members = [m for m in await api.members() if m["alive"]]
    return members if len(members) == count else None


async def test_a_killed_shard_is_restarted_and_its_chargers_reconnect(tmp_path: Path) -> None:
    async with (
        voltmesh_process(tmp_path / "data", shards=2) as (process, ocpp_port, api_port),
        api_client(api_port) as api,
    ):
        url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
        before = {m["name"]: m for m in await eventually(lambda: _alive(api, 2))}
        victim = next(m for m in before.values() if m["shard"] == 0)
        loop = asyncio.get_running_loop()
        os.kill(victim["pid"], signal.SIGKILL)
        killed_at = loop.time()

        async def restarted() -> bool:
            members = {m["name"]: m for m in await api.members()}
            fresh = members[victim["name"]]
            return bool(fresh["alive"] and fresh["pid"] != victim["pid"])

        await eventually(restarted, within=5.0 + 100 * UNIT, what="shard restarted")
        assert loop.time() - killed_at < 5.0 + 100 * UNIT
        # The node serves as before: chargers connect and are commanded, on either shard.
        async with contextlib.AsyncExitStack() as stack:
            for i in range(6):
                cp = await stack.enter_async_context(charger16(url, f"CL-AFTER-{i}"))
                await boot(cp)
                status, body = await api.command(f"CL-AFTER-{i}", "ClearCache", {})
                assert status == 200, body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _authorize(cp: Any, tag: str) -> str:
    answer = await cp.call(call.Authorize(id_tag=tag))
    return str(answer.id_tag_info["status"])


@pytest.mark.postgres
async def test_two_pods_one_cluster(tmp_path: Path) -> None:
    """Pod B joins pod A's convention. A command given to either reaches a charger on the other;
    an id-tag change reaches the other's cache within 1 s; a charger that moves to B is evicted
    from A; a pod killed outright is noticed within 10 s and its chargers show disconnected."""
    leader_port = _free_port()
    async with fresh_postgres_database() as main_url, fresh_postgres_database() as status_url:
        shared = {
            "VOLTMESH_DATABASE_URL": main_url,
            "VOLTMESH_STATUS_DATABASE_URL": status_url,
            "VOLTMESH_TOKEN_SECRET": "a-secret-shared-by-every-pod-0123456789",
        }
        pod_a = {**shared, "VOLTMESH_NODE_NAME": "pod-a", "VOLTMESH_CLUSTER_PORT": str(leader_port)}
        pod_b = {
            **shared,
            "VOLTMESH_NODE_NAME": "pod-b",
            "VOLTMESH_CLUSTER_JOIN": f"127.0.0.1:{leader_port}",
        }
        async with (
            voltmesh_process(tmp_path / "a", env=pod_a) as (_, ocpp_a, api_port_a),
            voltmesh_process(tmp_path / "b", env=pod_b) as (process_b, ocpp_b, api_port_b),
            api_client(api_port_a) as api_a,
            api_client(api_port_b) as api_b,
        ):
            members = await eventually(lambda: _alive(api_a, 2), what="both pods alive")
            assert {m["pod"] for m in members} == {"pod-a", "pod-b"}
            status, _ = await api_b.send("PUT", "/api/v1/id-tags/TAG-CL", {"status": "Accepted"})
            assert status in (200, 201)
            async with charger16(f"ws://127.0.0.1:{ocpp_a}/ocpp", "CL-POD") as on_a:
                await boot(on_a)
                assert await _authorize(on_a, "TAG-CL") == "Accepted"
                # Given to pod B, carried out by the charger on pod A.
                status, body = await api_b.command("CL-POD", "Reset", {"type": "Soft"})
                assert status == 200, body
                assert [a for a, _ in on_a.received] == ["Reset"]
                # Blocked on pod B: pod A's cache forgets the token at once.
                loop = asyncio.get_running_loop()
                changed_at = loop.time()
                status, _ = await api_b.send("PUT", "/api/v1/id-tags/TAG-CL", {"status": "Blocked"})
                assert status == 200

                async def blocked() -> bool:
                    return await _authorize(on_a, "TAG-CL") == "Blocked"

                await eventually(blocked, within=1.0, what="pod A sees the blocked tag")
                assert loop.time() - changed_at < 1.0 + 20 * UNIT
                # The charger connects to pod B too (its old socket looks alive to it): pod A
                # is told, and closes its socket.
                async with charger16(f"ws://127.0.0.1:{ocpp_b}/ocpp", "CL-POD") as on_b:
                    await boot(on_b)
                    evicted = on_a._connection
                    async with asyncio.timeout(100 * UNIT):
                        await evicted.wait_closed()
                    assert evicted.close_code == 1000
                    held = {m["pod"]: m["stations"] for m in await api_a.members()}
                    assert held == {"pod-a": 0, "pod-b": 1}
                    status, body = await api_a.command("CL-POD", "ClearCache", {})
                    assert status == 200, body
                    assert [a for a, _ in on_b.received] == ["ClearCache"]
                    # Pod B dies at once (its launcher killed: its processes follow).
                    process_b.kill()
                    killed_at = loop.time()

                    async def b_dead() -> bool:
                        alive = {m["pod"] for m in await api_a.members() if m["alive"]}
                        _, station = await api_a.get("/api/v1/stations/CL-POD")
                        return alive == {"pod-a"} and station["connected"] is False

                    await eventually(b_dead, within=10.0 + 100 * UNIT, what="pod B noticed dead")
                    assert loop.time() - killed_at < 10.0 + 100 * UNIT
                    status, body = await api_a.command("CL-POD", "ClearCache", {})
                    assert status == 404, body
