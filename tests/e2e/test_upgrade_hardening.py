"""The upgrade path under abuse, measured on loopback: a connection that never completes its upgrade
(plain or TLS) is closed after the handshake timeout; one peer address holds a bounded number of
not-yet-upgraded connections; failed basic auth is throttled per station id and per peer address."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from pathlib import Path

import pytest
import websockets

from gateway.throttle import AuthThrottle
from tests.raw_charger import RawCharger
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually
from tests.tls_certs import make_pki, start_tls_server

PASSWORD = "throttle-password-0123"
HALF_REQUEST = b"GET /ocpp/CP-SLOW HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


async def closed_after(port: int, send: bytes) -> tuple[float, bytes]:
    """Open TCP, send ``send`` and wait: seconds until the server closed it, and what it sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(send)
    try:
        received = b""
        with contextlib.suppress(ConnectionError):
            async with asyncio.timeout(200 * UNIT):
                while chunk := await reader.read(4096):
                    received += chunk
        return time.monotonic() - started, received
    finally:
        writer.close()


async def test_half_a_request_is_closed_after_the_handshake_timeout(
    start_server: StartServer,
) -> None:
    timeout = 10 * UNIT
    server = await start_server(handshake_timeout=timeout)
    elapsed, received = await closed_after(_port(server.ocpp_url), HALF_REQUEST)
    assert received == b""
    assert timeout * 0.9 <= elapsed < timeout + 20 * UNIT
    # A charger that completes its upgrade is not cut by the deadline.
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-OK")
    try:
        await asyncio.sleep(2 * timeout)
        assert "currentTime" in await charger.call("Heartbeat", {})
    finally:
        await charger.close()


async def test_a_stalled_tls_handshake_is_closed_after_the_handshake_timeout(
    start_server: StartServer, tmp_path: Path
) -> None:
    timeout = 10 * UNIT
    _, wss = await start_tls_server(
        start_server, make_pki(tmp_path / "pki"), handshake_timeout=timeout
    )
    elapsed, received = await closed_after(_port(wss), b"")  # TCP open, no ClientHello
    assert received == b""
    assert timeout * 0.9 <= elapsed < timeout + 20 * UNIT


async def test_pending_connections_per_peer_are_capped(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(max_pending_per_peer=3, handshake_timeout=400 * UNIT)
    port = _port(server.ocpp_url)
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    for _, writer in held:
        writer.write(HALF_REQUEST)
    guard = server.node.endpoint.guard
    await eventually(lambda: guard.pending("127.0.0.1") == 3)
    for _ in range(2):
        _, received = await closed_after(port, HALF_REQUEST)
        assert received.startswith(b"HTTP/1.1 503")
    # Logged once for the burst, with the peer address.
    assert sum("127.0.0.1 holds 3 connections" in r.message for r in caplog.records) == 1
    with pytest.raises(websockets.InvalidStatus) as info:
        await RawCharger.connect(f"{server.ocpp_url}/CP-BLOCKED")
    assert info.value.response.status_code == 503
    # Upgraded connections leave the count: once the half-open ones are gone, chargers connect,
    # more of them than the cap.
    for _, writer in held:
        writer.close()
    await eventually(lambda: guard.pending("127.0.0.1") == 0)
    chargers = [await RawCharger.connect(f"{server.ocpp_url}/CP-{i}") for i in range(5)]
    for charger in chargers:
        await charger.close()


def basic(station_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def attempt(server: Running, station_id: str, password: str) -> tuple[int, float]:
    """Status of one connection attempt with basic auth (101 when it opened), and its duration."""
    started = time.monotonic()
    try:
        charger = await RawCharger.connect(
            f"{server.ocpp_url}/{station_id}", additional_headers=basic(station_id, password)
        )
    except websockets.InvalidStatus as exc:
        return exc.response.status_code, time.monotonic() - started
    await charger.close()
    return 101, time.monotonic() - started


async def test_failed_basic_auth_is_throttled_per_station(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    server.node.endpoint.throttle = AuthThrottle(
        base_delay=2 * UNIT, max_delay=8 * UNIT, max_failures=4, window=1000 * UNIT
    )
    await server.put("/api/v1/stations/CP-T", {"password": PASSWORD})
    durations = []
    for _ in range(4):
        status, took = await attempt(server, "CP-T", "guessed-password-000")
        assert status == 401
        durations.append(took)
    # A growing delay: 2, 4, 8, 8 units before each 401.
    assert durations[0] >= 2 * UNIT * 0.9
    assert durations[2] >= 8 * UNIT * 0.9
    assert durations[2] > durations[0]
    # Then refused outright, even with the right password, without checking it.
    status, took = await attempt(server, "CP-T", PASSWORD)
    assert status == 429
    assert took < 2 * UNIT * 0.9 + 10 * UNIT
    failures = [r.message for r in caplog.records if "failed basic auth" in r.message]
    assert len(failures) == 4
    assert all("CP-T from 127.0.0.1" in m for m in failures)
    assert not any(PASSWORD in r.message or "guessed-password" in r.message for r in caplog.records)


async def test_failed_basic_auth_is_throttled_per_peer(server: Running) -> None:
    server.node.endpoint.throttle = AuthThrottle(
        base_delay=UNIT / 5, max_delay=UNIT, max_failures=3, window=1000 * UNIT
    )
    for i in range(3):
        await server.put(f"/api/v1/stations/CP-{i}", {"password": PASSWORD})
        assert (await attempt(server, f"CP-{i}", "guessed-password-000"))[0] == 401
    # Spraying other ids from the same address: refused once the address used up its failures.
    await server.put("/api/v1/stations/CP-9", {"password": PASSWORD})
    assert (await attempt(server, "CP-9", "guessed-password-000"))[0] == 429
    assert server.node.endpoint.throttle.blocked("127.0.0.1")
