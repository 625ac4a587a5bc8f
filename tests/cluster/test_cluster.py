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
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ocpp.v16 import call

from tests.ocpp_charger import charger16
from tests.persistence_fixtures import fresh_postgres_database
from tests.raw_charger import RawCharger
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
        contextlib.AsyncExitStack() as stack,
    ):
        url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
        await eventually(lambda: _alive(api, 2))
        chargers = {}
        for i in range(10):
            chargers[f"CL-K-{i}"] = await stack.enter_async_context(charger16(url, f"CL-K-{i}"))
            await boot(chargers[f"CL-K-{i}"])
        before = {m["name"]: m for m in await api.members()}
        victim = next(m for m in before.values() if m["shard"] == 0)
        assert victim["stations"] > 0, before
        loop = asyncio.get_running_loop()
        os.kill(victim["pid"], signal.SIGKILL)
        killed_at = loop.time()

        async def restarted() -> bool:
            members = {m["name"]: m for m in await api.members()}
            fresh = members[victim["name"]]
            return bool(fresh["alive"] and fresh["pid"] != victim["pid"])

        await eventually(restarted, within=5.0 + 100 * UNIT, what="shard restarted")
        assert loop.time() - killed_at < 5.0 + 100 * UNIT
        # The killed shard's chargers lost their sockets (the others kept theirs); they come
        # back, to either shard, and are served as before.
        lost = [
            station for station, cp in chargers.items() if cp._connection.close_code is not None
        ]
        assert len(lost) == victim["stations"], (lost, before)
        for station in lost:
            chargers[station] = await stack.enter_async_context(charger16(url, station))
            await boot(chargers[station])
        members = {m["name"]: m for m in await api.members()}
        assert sum(m["stations"] for m in members.values()) == len(chargers)
        for station in chargers:
            status, body = await api.command(station, "ClearCache", {})
            assert status == 200, body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _authorize(cp: Any, tag: str) -> str:
    answer = await cp.call(call.Authorize(id_tag=tag))
    return str(answer.id_tag_info["status"])


@dataclass
class Pod:
    process: asyncio.subprocess.Process
    ocpp_port: int
    api: Api


@contextlib.asynccontextmanager
async def two_pods(tmp_path: Path) -> AsyncIterator[tuple[Pod, Pod]]:
    """Pod A leads, pod B joins it; one PostgreSQL store, one token secret."""
    leader_port = _free_port()
    async with fresh_postgres_database() as main_url, fresh_postgres_database() as status_url:
        shared = {
            "VOLTMESH_DATABASE_URL": main_url,
            "VOLTMESH_STATUS_DATABASE_URL": status_url,
            "VOLTMESH_TOKEN_SECRET": "a-secret-shared-by-every-pod-0123456789",
        }
        env_a = {**shared, "VOLTMESH_NODE_NAME": "pod-a", "VOLTMESH_CLUSTER_PORT": str(leader_port)}
        env_b = {
            **shared,
            "VOLTMESH_NODE_NAME": "pod-b",
            "VOLTMESH_CLUSTER_JOIN": f"127.0.0.1:{leader_port}",
        }
        async with (
            voltmesh_process(tmp_path / "a", env=env_a) as (process_a, ocpp_a, api_port_a),
            voltmesh_process(tmp_path / "b", env=env_b) as (process_b, ocpp_b, api_port_b),
            api_client(api_port_a) as api_a,
            api_client(api_port_b) as api_b,
        ):
            yield Pod(process_a, ocpp_a, api_a), Pod(process_b, ocpp_b, api_b)


@pytest.mark.postgres
async def test_two_pods_one_cluster(tmp_path: Path) -> None:
    """Pod B joins pod A's convention. A command given to either reaches a charger on the other;
    an id-tag change reaches the other's cache within 1 s; a charger that moves to B is evicted
    from A; a pod killed outright is noticed within 10 s and its chargers show disconnected."""
    async with two_pods(tmp_path) as (pod_a, pod_b):
        process_b, ocpp_a, ocpp_b = pod_b.process, pod_a.ocpp_port, pod_b.ocpp_port
        api_a, api_b = pod_a.api, pod_b.api
        members = await eventually(lambda: _alive(api_a, 2), what="both pods alive")
        assert {m["pod"] for m in members} == {"pod-a", "pod-b"}
        status, _ = await api_b.send("PUT", "/api/v1/id-tags/TAG-CL", {"status": "Accepted"})
        assert status in (200, 201)
        async with charger16(f"ws://127.0.0.1:{ocpp_a}/ocpp", "CL-POD") as on_a:
            await boot(on_a)
            assert await _authorize(on_a, "TAG-CL") == "Accepted"
            # Given to pod B, carried out by the charger on pod A; a bad one is refused there
            # as it would be here.
            status, body = await api_b.command("CL-POD", "Reset", {"type": "Soft"})
            assert status == 200, body
            assert [a for a, _ in on_a.received] == ["Reset"]
            status, body = await api_b.command("CL-POD", "Reset", {"type": "Warm"})
            assert status == 400, body
            assert "must be one of" in body["detail"]
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


def _listening() -> dict[int, tuple[str, int]]:
    """Listening TCP sockets of this machine: inode -> (address, port)."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] != "0A":  # LISTEN
            continue
        address, port = fields[1].split(":")
        octets = bytes.fromhex(address)[::-1]
        found[int(fields[9])] = (socket.inet_ntoa(octets), int(port, 16))
    return found


def _sockets_of(pid: int) -> set[int]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in (Path("/proc") / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


async def test_the_control_plane_listens_only_on_the_cluster_host(tmp_path: Path) -> None:
    """Thespian unpickles what it receives: its admin and every actor bind the node's own
    cluster address, never every interface."""
    cluster_port = _free_port()
    env = {"VOLTMESH_CLUSTER_HOST": "127.0.0.3", "VOLTMESH_CLUSTER_PORT": str(cluster_port)}
    async with voltmesh_process(tmp_path / "data", shards=2, env=env) as (
        process,
        ocpp_port,
        api_port,
    ):
        bound, node_pids = _bindings(process.pid, ("127.0.0.3", cluster_port))
        assert len(node_pids) >= 5  # launcher, admin, logger, supervisor, two shards
        public = {("127.0.0.1", ocpp_port), ("127.0.0.1", api_port)}
        assert public <= bound
        control = bound - public
        assert len(control) >= 4  # the admin and an actor port per process
        assert {host for host, _ in control} == {"127.0.0.3"}, bound


def _bindings(launcher: int, cluster: tuple[str, int]) -> tuple[set[tuple[str, int]], set[int]]:
    """Where the node's processes listen, and which they are: the launcher and the actor system's
    processes (the admin, found by the cluster port, detaches into a session of its own)."""
    listening = _listening()
    admin_inodes = [inode for inode, address in listening.items() if address == cluster]
    assert admin_inodes, "the actor system listens on the cluster host and port"
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    admin = next(pid for pid in pids if admin_inodes[0] in _sockets_of(pid))
    node_pids = {launcher} | {pid for pid in pids if _session(pid) == os.getsid(admin)}
    bound = {listening[i] for pid in node_pids for i in _sockets_of(pid) if i in listening}
    return bound, node_pids


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


async def test_an_open_control_plane_address_is_refused(tmp_path: Path) -> None:
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voltmesh",
        "serve",
        "--data-dir",
        str(tmp_path),
        "--cluster-host",
        "0.0.0.0",
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await done.communicate()
    assert done.returncode == 2
    assert b"VOLTMESH_CLUSTER_HOST" in err and b"never every interface" in err


@pytest.mark.postgres
async def test_a_command_not_yet_sent_follows_its_station_to_another_pod(tmp_path: Path) -> None:
    """Reset, given to pod B, is in flight on pod A (the charger sits on it); ClearCache, given
    to pod B, and DataTransfer, given to pod A, wait behind it at A. The charger reconnects to pod
    B: the Reset sent on the old socket ends with the socket (404) and is not sent again; the
    commands never sent go out from pod B."""
    async with two_pods(tmp_path) as (pod_a, pod_b):
        await eventually(lambda: _alive(pod_a.api, 2), what="both pods alive")
        never = asyncio.Event()

        async def hold(_: dict[str, Any]) -> dict[str, Any]:
            await never.wait()
            return {"status": "Accepted"}

        async def accept(_: dict[str, Any]) -> dict[str, Any]:
            return {"status": "Accepted"}

        first = await RawCharger.connect(f"ws://127.0.0.1:{pod_a.ocpp_port}/ocpp/CL-MOVE")
        first.handlers = {"Reset": hold, "ClearCache": accept}
        await first.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        # Given to pod B, sent by pod A: once sent, never sent again, wherever it was given.
        reset = asyncio.create_task(pod_b.api.command("CL-MOVE", "Reset", {"type": "Soft"}))
        await eventually(lambda: [a for a, _ in first.received_calls] == ["Reset"])
        clear = asyncio.create_task(pod_b.api.command("CL-MOVE", "ClearCache", {}))
        transfer = asyncio.create_task(
            pod_a.api.command("CL-MOVE", "DataTransfer", {"vendorId": "acme"})
        )
        await asyncio.sleep(40 * UNIT)  # both queued at pod A behind the Reset
        second = await RawCharger.connect(f"ws://127.0.0.1:{pod_b.ocpp_port}/ocpp/CL-MOVE")
        second.handlers = {"ClearCache": accept, "DataTransfer": accept, "Reset": accept}
        try:
            await second.call(
                "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
            )
            for command in (clear, transfer):  # given to pod B, and to pod A itself
                status, body = await command
                assert status == 200, body
                assert body["response"] == {"status": "Accepted"}
            status, body = await reset
            assert status == 404, body
            assert [a for a, _ in first.received_calls] == ["Reset"]
            assert sorted(a for a, _ in second.received_calls) == ["ClearCache", "DataTransfer"]
        finally:
            await first.close()
            await second.close()


@pytest.mark.postgres
async def test_a_client_of_one_pod_sees_a_charger_connect_to_the_other(tmp_path: Path) -> None:
    """Operator events cross pods in batches: a client of pod B's live stream sees a charger
    connect to pod A within 1 s."""
    async with two_pods(tmp_path) as (pod_a, pod_b):
        await eventually(lambda: _alive(pod_b.api, 2), what="both pods alive")
        headers = {"Authorization": f"Bearer {TEST_API_TOKEN}"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.ws_connect(
                pod_b.api.url + "/api/v1/events", params={"station_id": "CL-LIVE"}
            ) as b,
        ):

            async def next_of(type: str) -> dict[str, Any]:
                while True:
                    event: dict[str, Any] = (await b.receive(timeout=100 * UNIT)).json()
                    if event["type"] == type:
                        return event

            async def edit_seen_on_b() -> bool:
                status, _ = await pod_a.api.send("PUT", "/api/v1/stations/CL-LIVE", {})
                assert status in (200, 201)
                with contextlib.suppress(TimeoutError):
                    return bool(await asyncio.wait_for(next_of("station.registration"), 20 * UNIT))
                return False

            # Pod A sends its events to pod B once it knows B as a member.
            await eventually(edit_seen_on_b, within=200 * UNIT, what="pod A's events on pod B")
            loop = asyncio.get_running_loop()
            async with charger16(f"ws://127.0.0.1:{pod_a.ocpp_port}/ocpp", "CL-LIVE") as cp:
                connected_at = loop.time()
                event = await next_of("station.connected")
                assert loop.time() - connected_at < 1.0
                assert event["data"]["member"].startswith("pod-a/")
                await boot(cp)
                assert (await next_of("station.booted"))["data"]["boot_status"] == "Accepted"
