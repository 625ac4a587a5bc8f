"""Security profiles per station (OCPP 2.0.1 Part 2 A00, 1.6 security whitepaper): 1 basic auth, 2
basic auth over TLS only, 3 a client certificate whose CN is the station id; the node's floor for
stations without one; no downgrade; the pending password of a rotation; no takeover."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import websockets

from persistence.events import station_events_of
from persistence.reads import EngineReads
from persistence.stations import get_station_credentials, swap_pending_password
from tests.raw_charger import RawCharger
from tests.server_fixtures import Running, StartServer
from tests.timing import eventually
from tests.tls_certs import Pki, client_context, make_ca, make_pki, start_tls_server
from transport.security import hash_password, verify_password

PASSWORD = "profile-password-0123"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def basic(station_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def refused(url: str, **kwargs: Any) -> int:
    """The HTTP status a connection attempt is refused with."""
    with pytest.raises(websockets.InvalidStatus) as info:
        await RawCharger.connect(url, **kwargs)
    return info.value.response.status_code


async def connects(url: str, **kwargs: Any) -> None:
    charger = await RawCharger.connect(url, **kwargs)
    await charger.close()


async def register(server: Running, station_id: str, **fields: Any) -> dict[str, Any]:
    status, body = await server.put(f"/api/v1/stations/{station_id}", {"allowed": True, **fields})
    assert status in (200, 201), body
    return body  # type: ignore[no-any-return]


async def test_profile_is_set_validated_and_shown(server: Running) -> None:
    body = await register(server, "CP-P", security_profile=2, password=PASSWORD)
    assert body["security_profile"] == 2
    _, view = await server.get("/api/v1/stations/CP-P")
    assert view["security_profile"] == 2
    # Absent keeps it; null hands the station back to the node's floor.
    assert (await register(server, "CP-P"))["security_profile"] == 2
    assert (await register(server, "CP-P", security_profile=None))["security_profile"] is None
    for bad in (4, -1, "1", True, 1.5):
        status, problem = await server.put("/api/v1/stations/CP-P", {"security_profile": bad})
        assert status == 400, bad
        assert "security_profile" in problem["detail"]


async def test_passwords_shorter_than_16_characters_are_refused(server: Running) -> None:
    status, problem = await server.put("/api/v1/stations/CP-S", {"password": "x" * 15})
    assert status == 400
    assert "16 to 40" in problem["detail"]
    assert (await register(server, "CP-S", password="x" * 16))["has_password"] is True


async def test_profile_1_needs_a_password(server: Running) -> None:
    url = f"{server.ocpp_url}/CP-1"
    await register(server, "CP-1", security_profile=1)
    # No password stored: nothing can authenticate it, so nobody connects.
    assert await refused(url, additional_headers=basic("CP-1", PASSWORD)) == 401
    await register(server, "CP-1", password=PASSWORD)
    assert await refused(url) == 401
    await connects(url, additional_headers=basic("CP-1", PASSWORD))


async def test_profile_2_only_over_tls(start_server: StartServer, pki: Pki) -> None:
    server, wss = await start_tls_server(start_server, pki)
    await register(server, "CP-2", security_profile=2, password=PASSWORD)
    # Downgrade: the right password over plain ws is refused (it would travel in the clear).
    assert (
        await refused(f"{server.ocpp_url}/CP-2", additional_headers=basic("CP-2", PASSWORD)) == 403
    )
    tls = client_context(pki.ca)
    assert await refused(f"{wss}/CP-2", ssl=tls) == 401
    assert await refused(f"{wss}/CP-2", ssl=tls, additional_headers=basic("CP-2", "w" * 20)) == 401
    await connects(f"{wss}/CP-2", ssl=tls, additional_headers=basic("CP-2", PASSWORD))


async def test_profile_3_needs_a_certificate_for_the_station(
    start_server: StartServer, pki: Pki, tmp_path: Path
) -> None:
    server, wss = await start_tls_server(start_server, pki)
    await register(server, "CP-3", security_profile=3)
    own = client_context(pki.ca, pki.charger("CP-3"))
    await connects(f"{wss}/CP-3", ssl=own)  # no password needed
    # Another station's certificate, none at all, or plain ws: refused.
    assert await refused(f"{wss}/CP-3", ssl=client_context(pki.ca, pki.charger("CP-OTHER"))) == 403
    assert await refused(f"{wss}/CP-3", ssl=client_context(pki.ca)) == 403
    assert await refused(f"{server.ocpp_url}/CP-3") == 403
    # A certificate for the right CN from a CA the node does not trust fails the TLS handshake.
    rogue = make_ca(tmp_path / "rogue", common_name="Rogue CA")
    with pytest.raises((OSError, websockets.InvalidHandshake)):
        await RawCharger.connect(
            f"{wss}/CP-3", ssl=client_context(pki.ca, pki.charger("CP-3", ca=rogue))
        )


async def test_floor_applies_to_stations_without_a_profile(start_server: StartServer) -> None:
    server = await start_server(min_security_profile=1)
    assert await refused(f"{server.ocpp_url}/CP-UNKNOWN") == 401
    await register(server, "CP-OPEN", security_profile=0)
    await connects(f"{server.ocpp_url}/CP-OPEN")
    await register(server, "CP-FLOOR", password=PASSWORD)
    await connects(f"{server.ocpp_url}/CP-FLOOR", additional_headers=basic("CP-FLOOR", PASSWORD))


async def test_a_pending_password_works_and_is_promoted_when_used(server: Running) -> None:
    url = f"{server.ocpp_url}/CP-ROT"
    await register(server, "CP-ROT", security_profile=1, password=PASSWORD)
    new = "rotated-password-98765"
    await swap_pending_password(server.node.engine, "CP-ROT", hash_password(new))
    # Both work until the station has used the new one.
    await connects(url, additional_headers=basic("CP-ROT", PASSWORD))
    await connects(url, additional_headers=basic("CP-ROT", new))
    reads = EngineReads(server.node.engine)
    stored = await get_station_credentials(reads, "CP-ROT")
    assert stored.pending_password_hash is None
    assert stored.password_hash is not None and verify_password(new, stored.password_hash)
    assert await refused(url, additional_headers=basic("CP-ROT", PASSWORD)) == 401
    await connects(url, additional_headers=basic("CP-ROT", new))


async def test_an_unauthenticated_replacement_is_logged_and_stored(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{server.ocpp_url}/CP-OPEN"
    first = await RawCharger.connect(url)
    # A connected station's id is claimed: the first connection holds the station by then (a
    # connection still starting when a newer one takes the station's lease is refused instead).
    await eventually(lambda: "CP-OPEN" in server.node.directory)
    second = await RawCharger.connect(url)
    try:
        await first.ws.wait_closed()
        events = await eventually(
            lambda: station_events_of(
                EngineReads(server.node.engine), "CP-OPEN", "ConnectionReplaced"
            )
        )
        _, payload = events[0]
        assert payload["remote"] == "127.0.0.1"
        assert payload["previous_remote"] == "127.0.0.1"
        assert any(
            "unauthenticated connection from 127.0.0.1 replaces the one from 127.0.0.1" in r.message
            for r in caplog.records
        )
    finally:
        await second.close()


async def test_a_station_with_a_password_is_not_taken_over(server: Running) -> None:
    url = f"{server.ocpp_url}/CP-SAFE"
    await register(server, "CP-SAFE", password=PASSWORD)
    charger = await RawCharger.connect(url, additional_headers=basic("CP-SAFE", PASSWORD))
    try:
        assert await refused(url) == 401
        assert (
            await refused(url, additional_headers=basic("CP-SAFE", "impostor-password-00")) == 401
        )
        # The real charger is still served.
        assert "currentTime" in await charger.call("Heartbeat", {})
        assert server.node.directory.get("CP-SAFE") is not None
        assert not await station_events_of(
            EngineReads(server.node.engine), "CP-SAFE", "ConnectionReplaced"
        )
    finally:
        await charger.close()
