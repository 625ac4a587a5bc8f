"""Operator accounts, access tokens, roles, login throttling and the audit log, against a running
node over loopback."""

from __future__ import annotations

import asyncio
import io
import logging
import stat
from pathlib import Path

import pytest

from http_api.throttle import LoginThrottle
from tests.server_fixtures import Running, StartServer, node_on_loopback
from tests.timing import UNIT, eventually
from voltmesh.cli import main as cli


async def _token_status(
    server: Running, username: str, password: str
) -> tuple[int, dict[str, str]]:
    async with (
        server.client(None) as anonymous,
        anonymous.post(
            server.api_url + "/api/v1/auth/token", json={"username": username, "password": password}
        ) as r,
    ):
        return r.status, dict(r.headers)


async def _get_as(server: Running, token: str | None, path: str) -> int:
    async with server.client(token) as session, session.get(server.api_url + path) as r:
        return r.status


async def test_first_admin_gets_a_random_password_in_a_private_file(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server = await start_server()
    path = server.node.settings.data_dir / "admin-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 24
    assert str(path) in caplog.text and password not in caplog.text
    async with (
        server.client(None) as anonymous,
        anonymous.post(
            server.api_url + "/api/v1/auth/token", json={"username": "admin", "password": password}
        ) as r,
    ):
        assert r.status == 200
        body = await r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert await _get_as(server, body["access_token"], "/api/v1/users") == 200
    status, page = await server.get("/api/v1/users")
    assert [(u["name"], u["role"]) for u in page["items"]] == [("admin", "admin")]
    assert "password" not in str(page) and "hash" not in str(page)
    # The token secret is private too.
    secret = server.node.settings.data_dir / "token-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


async def test_first_admin_takes_the_configured_password(start_server: StartServer) -> None:
    server = await start_server(admin_password="configured-admin-pw")
    assert not (server.node.settings.data_dir / "admin-password").exists()
    assert await server.login("admin", "configured-admin-pw")


async def test_a_second_start_keeps_the_accounts(tmp_path: Path) -> None:
    async with node_on_loopback(tmp_path) as first:
        password = (tmp_path / "admin-password").read_text().strip()
        token = await first.login("admin", password)
    (tmp_path / "admin-password").unlink()
    async with node_on_loopback(tmp_path) as second:
        assert not (tmp_path / "admin-password").exists()
        # Same secret, same account: a token of the first run is still good.
        assert await _get_as(second, token, "/api/v1/audit") == 200


async def test_tokens_expire(start_server: StartServer) -> None:
    server = await start_server(token_ttl=1)
    token = await server.add_user("brief", "viewer")
    assert await _get_as(server, token, "/api/v1/stations") == 200

    async def refused() -> bool:
        return await _get_as(server, token, "/api/v1/stations") == 401

    await eventually(refused, within=60 * UNIT)


async def test_password_change_deletion_and_demotion_act_at_once(server: Running) -> None:
    token = await server.add_user("ana", "operator", "ana-first-password")
    assert (await server.put("/api/v1/users/ana", {"role": "viewer"}))[0] == 200
    # Demoted: her token now reads, and may no longer edit id tags.
    async with server.client(token) as ana:
        async with ana.put(server.api_url + "/api/v1/id-tags/T", json={}) as r:
            assert r.status == 403
        async with ana.get(server.api_url + "/api/v1/id-tags") as r:
            assert r.status == 200
    assert (await server.put("/api/v1/users/ana", {"password": "ana-second-password"}))[0] == 200
    assert await _get_as(server, token, "/api/v1/stations") == 401
    assert (await _token_status(server, "ana", "ana-first-password"))[0] == 401
    token = await server.login("ana", "ana-second-password")
    assert await server.delete("/api/v1/users/ana") == 204
    assert await _get_as(server, token, "/api/v1/stations") == 401


async def test_user_edits_are_validated(server: Running) -> None:
    cases = [
        ({"password": "short-pw", "role": "viewer"}, 400),
        ({"password": "long-enough-pw", "role": "root"}, 400),
        ({"password": "long-enough-pw"}, 400),  # a new user needs a role
        ({"password": "long-enough-pw", "role": "viewer", "email": "x"}, 400),
    ]
    for body, expected in cases:
        assert (await server.put("/api/v1/users/bob", body))[0] == expected, body
    assert (await server.put("/api/v1/users/api-token", {"password": "x" * 12, "role": "viewer"}))[
        0
    ] == 400
    status, user = await server.put(
        "/api/v1/users/bob", {"password": "long-enough-pw", "role": "viewer"}
    )
    assert status == 201 and set(user) == {"name", "role", "created_at", "updated_at"}
    assert (await server.get("/api/v1/users/nobody"))[0] == 404
    assert await server.delete("/api/v1/users/nobody") == 404
    # The last admin stays.
    assert await server.delete("/api/v1/users/admin") == 409
    assert (await server.put("/api/v1/users/admin", {"role": "viewer"}))[0] == 409
    assert (await server.put("/api/v1/users/bob", {"role": "admin"}))[0] == 200
    assert await server.delete("/api/v1/users/admin") == 204


async def test_wrong_credentials_are_logged_without_the_password(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await server.add_user("carla", "viewer", "carla-right-password")
    for username, password in (("carla", "carla-wrong-password"), ("nobody", "nobody-password")):
        status, headers = await _token_status(server, username, password)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert password not in caplog.text
    failures = [r.getMessage() for r in caplog.records if "failed login" in r.getMessage()]
    assert failures == [
        "failed login for 'carla' from 127.0.0.1",
        "failed login for 'nobody' from 127.0.0.1",
    ]
    assert "carla-right-password" not in caplog.text
    assert server.node.settings.api_token not in caplog.text


async def test_failed_logins_are_throttled_per_user_and_per_peer(server: Running) -> None:
    server.node.api_state.login_throttle = LoginThrottle(
        free_failures=1, base_delay=10 * UNIT, max_delay=20 * UNIT, max_failures=4,
        lockout=60 * UNIT,
    )  # fmt: skip
    await server.add_user("dora", "viewer", "dora-right-password")
    assert (await _token_status(server, "dora", "wrong-password-1"))[0] == 401
    assert (await _token_status(server, "dora", "wrong-password-2"))[0] == 401
    # Now a growing wait: even the right password is refused while it runs.
    status, headers = await _token_status(server, "dora", "dora-right-password")
    assert status == 429 and int(headers["Retry-After"]) >= 1
    # The peer waits too, whichever name it tries.
    assert (await _token_status(server, "other", "whatever-password"))[0] == 429
    loop_time = asyncio.get_running_loop().time
    started = loop_time()

    async def allowed_again() -> bool:
        return (await _token_status(server, "dora", "wrong-password-3"))[0] == 401

    await eventually(allowed_again, within=40 * UNIT)
    assert loop_time() - started >= 8 * UNIT
    # The third failure waits twice as long; the fourth locks out.
    started = loop_time()
    await eventually(allowed_again, within=60 * UNIT)
    assert loop_time() - started >= 18 * UNIT
    status, headers = await _token_status(server, "dora", "dora-right-password")
    assert status == 429 and int(headers["Retry-After"]) >= int(50 * UNIT)


async def test_state_changes_are_audited(server: Running) -> None:
    viewer = await server.add_user("eve", "viewer")
    assert (await server.put("/api/v1/stations/CP-AUD", {"allowed": True}))[0] == 201
    assert (await server.get("/api/v1/stations/CP-AUD"))[0] == 200  # a read: not audited
    async with server.client(viewer) as eve:
        async with eve.delete(server.api_url + "/api/v1/stations/CP-AUD") as r:
            assert r.status == 403
        async with eve.get(server.api_url + "/api/v1/audit") as r:
            assert r.status == 403
    async with (
        server.client(None) as anonymous,
        anonymous.delete(server.api_url + "/api/v1/stations/CP-AUD") as r,
    ):
        assert r.status == 401  # anonymous: access log only
    await _token_status(server, "eve", "not-her-password")
    status, page = await server.get("/api/v1/audit?limit=3")
    assert status == 200
    rows = [
        (e["actor"], e["role"], e["method"], e["path"], e["station_id"], e["status"])
        for e in page["items"]
    ]
    assert rows == [
        ("eve", "none", "POST", "/api/v1/auth/token", None, 401),
        ("eve", "viewer", "DELETE", "/api/v1/stations/CP-AUD", "CP-AUD", 403),
        ("api-token", "admin", "PUT", "/api/v1/stations/CP-AUD", "CP-AUD", 201),
    ]
    assert page["next"] is not None and page["items"][0]["at"].endswith("Z")
    status, older = await server.get(f"/api/v1/audit?limit=3&cursor={page['next']}")
    assert [e["path"] for e in older["items"]] == [
        "/api/v1/auth/token",  # eve's login
        "/api/v1/users/eve",
    ]
    assert older["next"] is None
    status, mine = await server.get("/api/v1/audit?station_id=CP-AUD")
    assert len(mine["items"]) == 2
    assert (await server.get("/api/v1/audit?cursor=nonsense"))[0] == 400


async def test_every_request_gets_an_access_log_line(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voltmesh.api.access")
    await server.get("/api/v1/stations?limit=5&cursor=c2VjcmV0")
    await server.get("/healthz")
    lines = [r.getMessage() for r in caplog.records if r.name == "voltmesh.api.access"]
    assert lines[0].startswith("GET /api/v1/stations 200 actor=api-token peer=127.0.0.1 ")
    assert lines[1].startswith("GET /healthz 200 actor=- peer=127.0.0.1 ")
    assert "cursor" not in caplog.text and "c2VjcmV0" not in caplog.text


async def test_cli_adds_a_user_to_the_store_serve_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("frank-cli-password\n"))
    argv = ["user", "add", "frank", "--role", "operator", "--data-dir", str(tmp_path)]
    # The command runs its own event loop, as from a shell.
    assert await asyncio.to_thread(cli, argv) == 0
    assert "created user frank (role operator)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert await asyncio.to_thread(cli, argv) == 2
    async with node_on_loopback(tmp_path) as server:
        # An account exists: no first admin is made.
        assert not (tmp_path / "admin-password").exists()
        token = await server.login("frank", "frank-cli-password")
        assert await _get_as(server, token, "/api/v1/users") == 403
        assert await _get_as(server, token, "/api/v1/id-tags") == 200
