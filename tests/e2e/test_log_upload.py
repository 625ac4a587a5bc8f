"""Log requests end to end: GetLog (2.0.1 N01, the 1.6 security whitepaper) or, for a 1.6 station
without the security extension, GetDiagnostics, with an upload URL on voltmesh's API; a real HTTP
upload to it (raw and multipart; authenticated by the URL's secret alone, never a station's
password; too big; names that try to leave the directory; after the request ended), tracked to the
final status and downloaded by an operator. The secret shows nowhere: not in the recorded command,
not in the access log."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from http_api import log_uploads
from persistence import log_uploads as store
from persistence.events import station_events_of
from persistence.keyed_rows import run_alone
from persistence.reads import EngineReads
from tests.ocpp_charger import Charger16
from tests.ocpp_charger2 import charger2, charger201
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually
from tests.v2_calls import boot_payload, call2

BOOT_V16 = {"charge_point_vendor": "Voltmesh Labs", "charge_point_model": "VM-1"}
PASSWORD = "upload-password-0123456789"
LOG = b"2026-12-04T10:00:00Z boot\n" * 200


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    return server_on_each_db


class Logs16(Charger16):
    """A 1.6 charger with GetDiagnostics, without the security extension (GetLog: NotImplemented)."""

    diagnostics_file: str | None = "diag.zip"

    def calls(self, action: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.received if name == action]

    @on(Action.get_diagnostics)
    async def get_diagnostics(self, **kwargs: Any) -> call_result.GetDiagnostics:
        self._note("GetDiagnostics", **kwargs)
        return call_result.GetDiagnostics(file_name=self.diagnostics_file)


class SecureLogs16(Logs16):
    """With the security extension's GetLog."""

    @on(Action.get_log)
    async def get_log(self, **kwargs: Any) -> call_result.GetLog:
        self._note("GetLog", **kwargs)
        return call_result.GetLog(status="Accepted", filename="security.log")


class Served16:
    def __init__(
        self, server: Running, station: str, kind: type[Logs16] = Logs16, **connect: Any
    ) -> None:
        self.server, self.station, self.kind, self.connect = server, station, kind, connect

    async def __aenter__(self) -> Logs16:
        self._ws = await websockets.connect(
            f"{self.server.ocpp_url}/{self.station}",
            subprotocols=[websockets.Subprotocol("ocpp1.6")],
            open_timeout=100 * UNIT,
            **self.connect,
        )
        self.cp = self.kind(self.station, self._ws, response_timeout=200 * UNIT)
        self._loop = asyncio.create_task(self.cp.start())
        await self.cp.call(call.BootNotification(**BOOT_V16))
        return self.cp

    async def __aexit__(self, *exc: object) -> None:
        self._loop.cancel()
        await asyncio.gather(self._loop, return_exceptions=True)
        await self._ws.close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def upload(
    url: str,
    data: Any,
    *,
    method: str = "PUT",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """An upload as a charger makes it: no bearer credential, its own session."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=data, headers=headers or {}) as r,
    ):
        return r.status, await r.json(content_type=None)


def multipart(name: str, content: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", content, filename=name, content_type="application/octet-stream")
    return form


async def _log(server: Running, log_id: int) -> dict[str, Any]:
    status, body = await server.get(f"/api/v1/log-requests/{log_id}")
    assert status == 200, body
    request: dict[str, Any] = body
    return request


def _uploads(server: Running) -> Path:
    return server.node.settings.data_dir / "uploads"


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_a_2x_log_is_uploaded_tracked_and_downloaded(server: Running, version: str) -> None:
    async with charger2(server.ocpp_url, "LOG2-A", version) as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, request = await server.post(
            "/api/v1/stations/LOG2-A/log-requests",
            {"log_type": "SecurityLog", "oldest": "2026-12-01T00:00:00Z", "retries": 2},
        )
        assert status == 201, request
        assert (request["status"], request["action"], request["file"]) == (
            "Accepted",
            "GetLog",
            None,
        )
        assert request["announced_name"] == "voltmesh-charger.log"
        [sent] = cp.calls("GetLog")
        assert sent["log_type"] == "SecurityLog" and sent["request_id"] == request["request_id"]
        assert sent["log"]["oldest_timestamp"].startswith("2026-12-01T00:00:00")
        url = sent["log"]["remote_location"]
        assert url.startswith(server.api_url + "/uploads/LOG2-A/")
        await call2(
            cp, "LogStatusNotification", {"status": "Uploading", "requestId": request["request_id"]}
        )
        assert (await _log(server, request["id"]))["status"] == "Uploading"
        status, received = await upload(url, multipart("charger.log", LOG), method="POST")
        assert status == 201, received
        assert received["sha256"] == hashlib.sha256(LOG).hexdigest()
        await call2(
            cp, "LogStatusNotification", {"status": "Uploaded", "requestId": request["request_id"]}
        )
        # Sent again late: Uploaded stays.
        await call2(
            cp, "LogStatusNotification", {"status": "Uploading", "requestId": request["request_id"]}
        )
        # The confirmed file is not replaced by whoever learns the URL.
        status, problem = await upload(url, b"something else")
        assert status == 409 and "Uploaded" in problem["detail"], problem
    body = await _log(server, request["id"])
    assert (body["status"], body["final"]) == ("Uploaded", True)
    assert body["file"]["name"] == "charger.log"
    assert body["file"]["size"] == len(LOG)
    assert body["file"]["sha256"] == hashlib.sha256(LOG).hexdigest()
    stored = list((_uploads(server) / "LOG2-A").iterdir())
    assert [p.name for p in stored] == [f"{request['id']}-charger.log"]
    async with server.http.get(server.api_url + body["file"]["href"]) as r:
        assert r.status == 200
        assert await r.read() == LOG
    # Logs may hold personal data: a viewer sees the request, not the file.
    viewer = await server.add_user("log-viewer", "viewer")
    async with server.client(viewer) as session:
        async with session.get(server.api_url + body["file"]["href"]) as r:
            assert r.status == 403
        async with session.get(f"{server.api_url}/api/v1/log-requests/{request['id']}") as r:
            assert r.status == 200
    statuses = [e.data["status"] for e in server.node.events.recent() if e.type == "log.upload"]
    assert statuses[-1] == "Uploaded" and "Uploading" in statuses
    status, page = await server.get("/api/v1/stations/LOG2-A/log-requests")
    assert [r["id"] for r in page["items"]] == [request["id"]]


async def test_a_201_log_request_rejected_or_unanswered(server: Running) -> None:
    async with charger201(server.ocpp_url, "LOG2-R") as cp:
        await call2(cp, "BootNotification", boot_payload())
        cp.overrides["GetLog"] = {"status": "Rejected"}
        status, request = await server.post("/api/v1/stations/LOG2-R/log-requests", {})
        assert status == 201
        assert (request["status"], request["final"], request["log_type"]) == (
            "Rejected",
            True,
            "DiagnosticsLog",
        )
        for bad in ({"log_type": "Everything"}, {"oldest": "yesterday"}, {"colour": 1}):
            status, _ = await server.post("/api/v1/stations/LOG2-R/log-requests", bad)
            assert status == 400, bad
        status, _ = await server.post(
            "/api/v1/stations/LOG2-R/log-requests",
            {"oldest": "2026-12-02T00:00:00Z", "latest": "2026-12-01T00:00:00Z"},
        )
        assert status == 400
    status, _ = await server.post("/api/v1/stations/LOG2-R/log-requests", {})
    assert status == 404


async def test_a_16_station_without_the_extension_gets_get_diagnostics(server: Running) -> None:
    async with Served16(server, "LOG16-D") as cp:
        status, request = await server.post("/api/v1/stations/LOG16-D/log-requests", {})
        assert status == 201, request
        assert (request["action"], request["status"]) == ("GetDiagnostics", "Accepted")
        assert request["announced_name"] == "diag.zip"
        assert len(cp.calls("GetDiagnostics")) == 1
        url = cp.calls("GetDiagnostics")[0]["location"]
        await cp.call(call.DiagnosticsStatusNotification(status="Uploading"))
        # FTP-style: the charger appends the file name to the location; a raw body.
        status, received = await upload(f"{url}/diag.zip", LOG)
        assert status == 201, received
        assert received["file_name"] == "diag.zip"
        await cp.call(call.DiagnosticsStatusNotification(status="UploadFailed"))
        body = await _log(server, request["id"])
        assert (body["status"], body["final"]) == ("UploadFailed", True)
        assert body["file"]["size"] == len(LOG)
        # Without diagnostics to give: final at once. A security log needs the extension.
        cp.diagnostics_file = None
        status, empty = await server.post("/api/v1/stations/LOG16-D/log-requests", {})
        assert (empty["status"], empty["final"]) == ("NoLogs", True)
        status, problem = await server.post(
            "/api/v1/stations/LOG16-D/log-requests", {"log_type": "SecurityLog"}
        )
        assert status == 502 and problem["code"] == "NotImplemented"
    status, page = await server.get("/api/v1/stations/LOG16-D/log-requests")
    assert page["items"][0]["status"] == "NotSent"
    assert page["items"][0]["id"] == problem["log_request_id"]


async def test_a_16_station_with_the_extension_gets_get_log(server: Running) -> None:
    async with Served16(server, "LOG16-S", SecureLogs16) as cp:
        status, request = await server.post("/api/v1/stations/LOG16-S/log-requests", {})
        assert status == 201, request
        assert (request["action"], request["status"]) == ("GetLog", "Accepted")
        assert cp.calls("GetDiagnostics") == []
        await cp.call(
            call.LogStatusNotification(status="UploadFailure", request_id=request["request_id"])
        )
        body = await _log(server, request["id"])
        assert (body["status"], body["final"], body["file"]) == ("UploadFailure", True, None)


@pytest.fixture
async def protected(server: Running) -> AsyncIterator[tuple[Logs16, str, dict[str, Any]]]:
    """A 1.6 station with a password, and a log request of it: (charger, upload URL, request)."""
    status, body = await server.put("/api/v1/stations/LOG-P", {"password": PASSWORD})
    assert status in (200, 201), body
    async with Served16(
        server, "LOG-P", additional_headers={"Authorization": basic("LOG-P", PASSWORD)}
    ) as cp:
        status, request = await server.post("/api/v1/stations/LOG-P/log-requests", {})
        assert status == 201, request
        yield cp, cp.calls("GetDiagnostics")[0]["location"], request


async def test_a_station_with_a_password_uploads_without_it(
    server: Running, protected: tuple[Logs16, str, dict[str, Any]]
) -> None:
    """The URL's secret alone authenticates an upload: the station's password, which would cross
    the plain http upload URL in cleartext, is never asked for, and one sent anyway is ignored."""
    _, url, request = protected
    async with aiohttp.ClientSession() as session, session.put(url, data=LOG) as r:
        assert r.status == 201, await r.text()
        assert "WWW-Authenticate" not in r.headers
    assert (await _log(server, request["id"]))["file"]["size"] == len(LOG)
    # Credentials sent anyway, right or wrong, change nothing.
    for auth in (basic("LOG-P", "wrong" * 4), basic("OTHER", PASSWORD), basic("LOG-P", PASSWORD)):
        status, received = await upload(url, b"again\n", headers={"Authorization": auth})
        assert status == 201, (auth, received)


async def test_tokens_are_checked_per_request_and_station(
    server: Running, protected: tuple[Logs16, str, dict[str, Any]]
) -> None:
    _, url, request = protected
    # The right password does not make a wrong URL right.
    auth = {"Authorization": basic("LOG-P", PASSWORD)}
    prefix, token = url.rsplit("/", 1)
    log_id, secret = token.split("-", 1)
    refusals = []
    for wrong in (
        f"{prefix}/{log_id}-{secret[:-1]}{'x' if secret[-1] != 'x' else 'y'}",
        f"{prefix}/{int(log_id) + 1}-{secret}",
        f"{prefix}/{secret}",
    ):
        status, problem = await upload(wrong, LOG, headers=auth)
        assert status == 403, (wrong, problem)
        refusals.append(problem)
    # An unknown station gets the same answer: it tells nobody which stations exist.
    status, problem = await upload(f"{server.api_url}/uploads/NOBODY/{token}", LOG)
    assert (status, problem) == (403, refusals[0])
    async with charger201(server.ocpp_url, "LOG-OTHER") as cp:
        await call2(cp, "BootNotification", boot_payload())
        # Another station's URL with this station's path: forbidden.
        status, other = await server.post("/api/v1/stations/LOG-OTHER/log-requests", {})
        other_url = cp.calls("GetLog")[0]["log"]["remote_location"]
        status, _ = await upload(other_url.replace("/LOG-OTHER/", "/LOG-P/"), LOG, headers=auth)
        assert status == 403
        # A station without a password: the token alone, and a wrong one is forbidden.
        status, _ = await upload(other_url[:-1] + ("x" if other_url[-1] != "x" else "y"), LOG)
        assert status == 403
        status, _ = await upload(other_url, LOG)
        assert status == 201
    assert (await _log(server, request["id"]))["file"] is None


async def test_too_big_uploads_are_refused(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_uploads, "MAX_UPLOAD_BYTES", 1000)
    async with charger201(server.ocpp_url, "LOG-BIG") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, request = await server.post("/api/v1/stations/LOG-BIG/log-requests", {})
        url = cp.calls("GetLog")[0]["log"]["remote_location"]
        # Told by Content-Length, and streamed without one (chunked).
        status, problem = await upload(url, b"x" * 1001)
        assert status == 413, problem

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"y" * 300

        status, _ = await upload(url, chunks())
        assert status == 413
        status, _ = await upload(url, multipart("big.log", b"z" * 1500), method="POST")
        assert status == 413
        assert (await _log(server, request["id"]))["file"] is None
        assert list((_uploads(server) / "LOG-BIG").iterdir()) == []
        status, _ = await upload(url, b"x" * 1000)
        assert status == 201


async def test_file_names_cannot_leave_the_station_directory(server: Running) -> None:
    async with charger201(server.ocpp_url, "LOG-T") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, request = await server.post("/api/v1/stations/LOG-T/log-requests", {})
        url = cp.calls("GetLog")[0]["log"]["remote_location"]
        status, received = await upload(url, multipart("../../../escape.log", LOG), method="POST")
        assert status == 201
        assert received["file_name"] == "escape.log"
        status, received = await upload(f"{url}/..%2F..%2Fescape2.log", LOG)
        assert status == 201, received
        assert "/" not in received["file_name"] and not received["file_name"].startswith(".")
        status, received = await upload(f"{url}/", multipart("slash.log", LOG), method="POST")
        assert status == 201 and received["file_name"] == "slash.log"
        status, received = await upload(f"{url}/.hidden", LOG)
        assert status == 201 and received["file_name"] == "hidden"
    root = server.node.settings.data_dir
    inside = {p.name for p in (root / "uploads" / "LOG-T").iterdir()}
    # Each upload replaced the one before: one file, in the station's directory.
    assert inside == {f"{request['id']}-hidden"}
    assert not any(p.name.startswith("escape") for p in root.rglob("*") if p.parent.name != "LOG-T")


async def test_a_log_upload_survives_a_reconnect(server: Running) -> None:
    async with charger201(server.ocpp_url, "LOG-RC") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, request = await server.post("/api/v1/stations/LOG-RC/log-requests", {})
        assert status == 201
        url = cp.calls("GetLog")[0]["log"]["remote_location"]
        await call2(
            cp, "LogStatusNotification", {"status": "Uploading", "requestId": request["request_id"]}
        )

    async def gone() -> bool:
        return not await server.is_connected("LOG-RC")

    await eventually(gone, what="LOG-RC disconnected")
    # The upload goes on while the station's websocket is down; it reports on its new one.
    status, _ = await upload(url, LOG)
    assert status == 201
    async with charger201(server.ocpp_url, "LOG-RC") as cp:
        await call2(cp, "BootNotification", boot_payload())
        await call2(
            cp, "LogStatusNotification", {"status": "Uploaded", "requestId": request["request_id"]}
        )
    body = await _log(server, request["id"])
    assert (body["status"], body["final"], body["file"]["size"]) == ("Uploaded", True, len(LOG))


async def test_the_upload_url_uses_the_public_origin_and_takes_more_than_the_api_body_limit(
    start_server: StartServer,
) -> None:
    """Behind a proxy, stations reach voltmesh by VOLTMESH_PUBLIC_URL, not by the operator's
    origin; an upload is streamed, so the API's 1 MiB body limit does not apply to it."""
    server = await start_server(public_url="https://csms.example.com/base/")
    big = b"0123456789abcdef" * (3 * 65536)  # 3 MiB
    async with charger201(server.ocpp_url, "LOG-PUB") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, request = await server.post("/api/v1/stations/LOG-PUB/log-requests", {})
        assert status == 201, request
        url = cp.calls("GetLog")[0]["log"]["remote_location"]
        prefix = "https://csms.example.com/base/uploads/LOG-PUB/"
        assert url.startswith(prefix), url
        # The proxy strips /base: the request reaches the API as /uploads/...
        local = f"{server.api_url}/uploads/LOG-PUB/{url.removeprefix(prefix)}"
        status, received = await upload(local, io.BytesIO(big))
        assert status == 201, received
        assert received["size"] == len(big)
        form = aiohttp.FormData()
        form.add_field("file", io.BytesIO(big), filename="big.log")
        status, received = await upload(local, form, method="POST")
        assert status == 201, received
        assert received["sha256"] == hashlib.sha256(big).hexdigest()


async def test_one_upload_of_a_request_at_a_time(server: Running) -> None:
    """A second upload while the first streams is refused: a station cannot hold many partial
    files for one URL."""
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"first part\n"
        await release.wait()
        yield b"last part\n"

    async with charger201(server.ocpp_url, "LOG-ONE") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, request = await server.post("/api/v1/stations/LOG-ONE/log-requests", {})
        url = cp.calls("GetLog")[0]["log"]["remote_location"]
        first = asyncio.create_task(upload(url, slow()))
        directory = _uploads(server) / "LOG-ONE"

        def streaming() -> bool:
            return directory.is_dir() and any(p.suffix == ".part" for p in directory.iterdir())

        await eventually(streaming, what="the first upload streaming")
        status, problem = await upload(url, LOG)
        assert status == 409, problem
        release.set()
        status, received = await first
        assert status == 201 and received["size"] == len(b"first part\nlast part\n")
        # Once it is done, the next one may replace it.
        status, _ = await upload(url, LOG)
        assert status == 201
    assert (await _log(server, request["id"]))["file"]["size"] == len(LOG)


async def test_a_get_log_sent_as_a_raw_command_is_kept_apart(server: Running) -> None:
    """A GetLog the operator sent through the raw command endpoint, pointing elsewhere, is a
    request of its own even when it picks the requestId of one of voltmesh's."""
    async with charger201(server.ocpp_url, "LOG-RAW") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, ours = await server.post("/api/v1/stations/LOG-RAW/log-requests", {})
        assert status == 201 and ours["status"] == "Accepted", ours
        raw = {
            "logType": "SecurityLog",
            "requestId": ours["request_id"],
            "log": {"remoteLocation": "ftp://logs.example.com/in/"},
        }
        status, body = await server.command("LOG-RAW", "GetLog", raw)
        assert status == 200, body
        status, page = await server.get("/api/v1/stations/LOG-RAW/log-requests")
        newest, oldest = page["items"]
        assert oldest["id"] == ours["id"] and oldest["log_type"] == "DiagnosticsLog"
        assert (newest["log_type"], newest["status"]) == ("SecurityLog", "Accepted")
        assert newest["request_id"] == ours["request_id"]


async def test_a_16_get_diagnostics_to_an_ftp_server_is_tracked_without_a_file(
    server: Running,
) -> None:
    """A 1.6 charger that uploads only by FTP: the operator points a raw GetDiagnostics at his own
    server; voltmesh tracks the request from the station's notifications, without a file."""
    async with Served16(server, "LOG16-FTP") as cp:
        raw = {"location": "ftp://ftp.example.com/diagnostics/"}
        status, body = await server.command("LOG16-FTP", "GetDiagnostics", raw)
        assert status == 200, body
        status, page = await server.get("/api/v1/stations/LOG16-FTP/log-requests")
        [request] = page["items"]
        assert (request["action"], request["status"]) == ("GetDiagnostics", "Accepted")
        assert request["announced_name"] == "diag.zip"
        await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"))
    body = await _log(server, request["id"])
    assert (body["status"], body["final"], body["file"]) == ("Uploaded", True, None)


async def test_the_secret_is_not_recorded_nor_logged(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """The answered GetLog is recorded (and shown to viewers) with its upload URL masked, and
    the access log masks the upload path; the request is still matched by its secret."""
    caplog.set_level(logging.INFO, logger="voltmesh.api.access")
    async with charger201(server.ocpp_url, "LOG-SECRET") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, request = await server.post("/api/v1/stations/LOG-SECRET/log-requests", {})
        assert (status, request["status"]) == (201, "Accepted"), request
        url = cp.calls("GetLog")[0]["log"]["remote_location"]
        status, _ = await upload(f"{url}/cp.log", LOG)
        assert status == 201
    prefix, token = url.rsplit("/", 1)
    secret = token.partition("-")[2]
    events = await station_events_of(EngineReads(server.node.engine), "LOG-SECRET")
    [(_, recorded)] = [(kind, data) for kind, data in events if kind == "Command:GetLog"]
    location = recorded["request"]["log"]["remoteLocation"]
    assert location == f"{prefix}/{request['id']}-***"
    viewer = await server.add_user("secret-viewer", "viewer")
    async with (
        server.client(viewer) as session,
        session.get(f"{server.api_url}/api/v1/stations/LOG-SECRET/events") as r,
    ):
        assert r.status == 200
        assert secret not in await r.text()
    lines = [r.getMessage() for r in caplog.records if r.name == "voltmesh.api.access"]
    uploads = [line for line in lines if "/uploads/" in line]
    assert uploads and all(secret not in line for line in lines), uploads
    assert f"/uploads/LOG-SECRET/{request['id']}-***/cp.log 201" in uploads[0]


class FailingLogs16(SecureLogs16):
    """Takes the GetLog (and its URL) but answers it with a CALLERROR."""

    @on(Action.get_log)
    async def get_log(self, **kwargs: Any) -> call_result.GetLog:
        self._note("GetLog", **kwargs)
        raise RuntimeError("flash full")


async def test_an_ended_request_takes_no_upload(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a request in progress takes an upload; after UploadFailure, for a short grace in
    which a charger may retry; after NotSent, TimedOut or the grace, 409."""
    async with Served16(server, "LOG16-END", FailingLogs16) as cp:
        status, problem = await server.post(
            "/api/v1/stations/LOG16-END/log-requests", {"log_type": "SecurityLog"}
        )
        assert status == 502, problem
        url = cp.calls("GetLog")[0]["log"]["remote_location"]
        assert (await _log(server, problem["log_request_id"]))["status"] == "NotSent"
        status, refused = await upload(url, LOG)
        assert status == 409 and "NotSent" in refused["detail"], refused
    async with Served16(server, "LOG16-FAIL", SecureLogs16) as cp:
        status, request = await server.post("/api/v1/stations/LOG16-FAIL/log-requests", {})
        assert status == 201, request
        url = cp.calls("GetLog")[0]["log"]["remote_location"]
        await cp.call(
            call.LogStatusNotification(status="UploadFailure", request_id=request["request_id"])
        )
        # The charger retries at once: taken.
        status, received = await upload(url, LOG)
        assert status == 201, received
        monkeypatch.setattr(log_uploads, "RETRY_GRACE", timedelta(0))
        status, refused = await upload(url, LOG)
        assert status == 409 and "UploadFailure" in refused["detail"], refused
        # Reported Uploading again: in progress, taken.
        await cp.call(
            call.LogStatusNotification(status="Uploading", request_id=request["request_id"])
        )
        status, received = await upload(url, LOG)
        assert status == 201, received
        await run_alone(
            server.node.engine,
            store.log_request_changed(
                log_id=request["id"], change=lambda _: {"status": "TimedOut"}
            ),
        )
        status, refused = await upload(url, LOG)
        assert status == 409 and "TimedOut" in refused["detail"], refused


async def test_a_request_id_past_32_bits_is_refused(server: Running) -> None:
    """LogStatusNotification.requestId is unbounded in the schemas; one past a 32-bit column
    gets PropertyConstraintViolation instead of failing the store (and the station's actor)."""
    async with charger201(server.ocpp_url, "LOG-HUGE") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, request = await server.post("/api/v1/stations/LOG-HUGE/log-requests", {})
        assert status == 201, request
        with pytest.raises(PropertyConstraintViolationError):
            await call2(cp, "LogStatusNotification", {"status": "Uploading", "requestId": 2**31})
        # The station goes on, on the same connection.
        await call2(
            cp, "LogStatusNotification", {"status": "Uploading", "requestId": request["request_id"]}
        )
        assert (await _log(server, request["id"]))["status"] == "Uploading"
    async with Served16(server, "LOG16-HUGE", SecureLogs16) as cp16:
        with pytest.raises(PropertyConstraintViolationError):
            await cp16.call(
                call.LogStatusNotification(status="Uploading", request_id=2**31), suppress=False
            )
