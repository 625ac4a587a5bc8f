"""A voltmesh node started in-process on loopback port 0, with an HTTP client for its API."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import re
import resource
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.connection import QueuedCalls
from tests.timing import UNIT
from voltmesh.config import Settings
from voltmesh.node import Node


@dataclass
class Running:
    node: Node
    ocpp_url: str
    """ws://127.0.0.1:PORT/ocpp"""
    api_url: str
    """http://127.0.0.1:PORT"""
    http: aiohttp.ClientSession
    """Sends the node's service credential (admin) with every request."""

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.get(self.api_url + path, **kwargs) as r:
            return r.status, await r.json(content_type=None)

    async def put(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.put(self.api_url + path, json=body, **kwargs) as r:
            return r.status, await r.json(content_type=None)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.post(self.api_url + path, json=body, **kwargs) as r:
            return r.status, await r.json(content_type=None)

    async def delete(self, path: str, **kwargs: Any) -> int:
        async with self.http.delete(self.api_url + path, **kwargs) as r:
            return r.status

    async def command(
        self, station_id: str, action: str, payload: Any = None, **kwargs: Any
    ) -> tuple[int, Any]:
        return await self.post(
            f"/api/v1/stations/{station_id}/commands/{action}", payload or {}, **kwargs
        )

    async def login(self, username: str, password: str) -> str:
        """An access token of a user (``POST /api/v1/auth/token``)."""
        async with (
            aiohttp.ClientSession() as anonymous,
            anonymous.post(
                self.api_url + "/api/v1/auth/token",
                json={"username": username, "password": password},
            ) as r,
        ):
            assert r.status == 200, await r.text()
            token: str = (await r.json())["access_token"]
            return token

    async def add_user(self, name: str, role: str, password: str | None = None) -> str:
        """Create a user through the API (as the service credential); returns its access token."""
        password = password or f"{name}-password-0123"
        status, body = await self.put(f"/api/v1/users/{name}", {"password": password, "role": role})
        assert status == 201, body
        return await self.login(name, password)

    def client(self, token: str | None) -> aiohttp.ClientSession:
        """A session that sends ``token`` as its bearer credential (None: no credential)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return aiohttp.ClientSession(headers=headers)

    async def is_connected(self, station_id: str) -> bool:
        """Whether the API shows the station connected."""
        status, station = await self.get(f"/api/v1/stations/{station_id}")
        return status == 200 and station["connected"] is True

    async def queued_commands(self, station_id: str) -> int:
        """Commands waiting for the station behind the one in flight (0 when not connected)."""
        entry = self.node.directory.get(station_id)
        if entry is None:
            return 0
        count = await entry.connection.ask(QueuedCalls())
        assert isinstance(count, int)
        return count


TEST_API_TOKEN = "test-service-credential-0123456789"
"""The service credential of test nodes; ``Running``'s HTTP client sends it by default."""


def test_settings(data_dir: Path, **overrides: Any) -> Settings:
    base = Settings(
        api_token=TEST_API_TOKEN,
        host="127.0.0.1",
        ocpp_port=0,
        api_port=0,
        data_dir=data_dir,
        node_name="test-node",
        ping_interval=100 * UNIT,
        command_timeout=100 * UNIT,
        # Out of the way of tests that do not boot; the trigger's own test sets it short.
        status_trigger_delay=1200 * UNIT,
    )
    return dataclasses.replace(base, **overrides)


StartServer = Callable[..., Awaitable[Running]]


@contextlib.asynccontextmanager
async def node_on_loopback(data_dir: Path, **overrides: Any) -> AsyncIterator[Running]:
    """A started node with its API client, stopped at the end of the block."""
    node = Node(test_settings(data_dir, **overrides))
    ports = await node.start()
    running = Running(
        node,
        f"ws://127.0.0.1:{ports.ocpp}/ocpp",
        f"http://127.0.0.1:{ports.api}",
        aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {node.settings.api_token}"}
            if node.settings.api_token is not None
            else None
        ),
    )
    try:
        yield running
    finally:
        await running.http.close()
        await node.stop()


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Factory: ``await start_server(unknown_stations=..., database_url=...)``; all stopped after."""
    async with contextlib.AsyncExitStack() as stack:
        count = itertools.count()

        async def start(**overrides: Any) -> Running:
            data_dir = tmp_path / f"data{next(count)}"
            return await stack.enter_async_context(node_on_loopback(data_dir, **overrides))

        yield start


@pytest.fixture
async def server(start_server: StartServer) -> Running:
    return await start_server()


@pytest.fixture
async def server_on_each_db(db_url: str, status_db_url: str, start_server: StartServer) -> Running:
    """A node on embedded SQLite, then on PostgreSQL (both stores): the production path.
    The databases are requested first so that they outlive the node."""
    if db_url.startswith("sqlite"):
        return await start_server()
    return await start_server(database_url=db_url, status_database_url=status_db_url)


_LISTENING = re.compile(rb"OCPP on [^:]+:(\d+), API on [^:]+:(\d+)")


@contextlib.asynccontextmanager
async def voltmesh_process(
    data_dir: Path,
    *,
    open_files: int | None = None,
    shards: int = 1,
    env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int, int]]:
    """``voltmesh serve`` as its own process on free loopback ports: (process, OCPP port, API
    port). ``open_files`` sets its descriptor limit, soft and hard, so that it cannot raise it.
    Stopped with SIGTERM (a drain) at the end, unless the test stopped it."""

    def limit_open_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    env = {
        **os.environ,
        "VOLTMESH_OCPP_PORT": "0",
        "VOLTMESH_API_PORT": "0",
        "VOLTMESH_HOST": "127.0.0.1",
        "VOLTMESH_CLUSTER_PORT": "0",
        "VOLTMESH_SHARDS": str(shards),
        "VOLTMESH_API_TOKEN": TEST_API_TOKEN,
        **(env or {}),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voltmesh",
        "serve",
        "--data-dir",
        str(data_dir),
        env=env,
        preexec_fn=limit_open_files,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert process.stderr is not None
    log = b""
    try:
        while True:
            line = await asyncio.wait_for(process.stderr.readline(), 600 * UNIT)
            log += line
            assert line, f"voltmesh exited early: {log.decode()}"
            match = _LISTENING.search(line)
            if match:
                break
        drain = asyncio.create_task(process.stderr.read())
        yield process, int(match.group(1)), int(match.group(2))
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 600 * UNIT)
            except TimeoutError:
                # Its shards follow within a second (they watch the launcher).
                process.kill()
        await process.wait()
    drain.cancel()
