"""A small in-process central system for the simulated station's tests: it accepts stations on
``/ocpp/{id}``, checks everything they send against the official schemas (the CSMS end of the
project's codec), answers with fixed payloads, sends the test's CALLs, and takes log uploads on
``/upload/...`` (``/fail/...`` answers 500)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from tests.timing import UNIT, eventually
from transport.codec import OcppCodec
from transport.messages import Call, CallError, CallResult, ProtocolViolation
from transport.versions import OcppVersion, Role

Payload = dict[str, Any]
Answer = Payload | Callable[[Payload], Payload]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


_ids = itertools.count(1)

DEFAULT_16: dict[str, Answer] = {
    "BootNotification": lambda p: {"status": "Accepted", "currentTime": _now(), "interval": 300},
    "Heartbeat": lambda p: {"currentTime": _now()},
    "StatusNotification": {},
    "Authorize": {"idTagInfo": {"status": "Accepted"}},
    "StartTransaction": lambda p: {
        "transactionId": next(_ids),
        "idTagInfo": {"status": "Accepted"},
    },
    "MeterValues": {},
    "StopTransaction": {},
    "FirmwareStatusNotification": {},
    "SignedFirmwareStatusNotification": {},
    "DiagnosticsStatusNotification": {},
    "LogStatusNotification": {},
}
DEFAULT_2: dict[str, Answer] = {
    "BootNotification": lambda p: {"status": "Accepted", "currentTime": _now(), "interval": 300},
    "Heartbeat": lambda p: {"currentTime": _now()},
    "StatusNotification": {},
    "Authorize": {"idTokenInfo": {"status": "Accepted"}},
    "TransactionEvent": {},
    "FirmwareStatusNotification": {},
    "LogStatusNotification": {},
    "ReservationStatusUpdate": {},
    "ReportChargingProfiles": {},
    "NotifyDisplayMessages": {},
    "NotifyReport": {},
    "PublishFirmwareStatusNotification": {},
}


@dataclass(slots=True)
class Received:
    station_id: str
    action: str
    payload: Payload


@dataclass(slots=True)
class Upload:
    method: str
    path: str
    body: bytes
    authorization: str | None


@dataclass(slots=True)
class _Connection:
    ws: web.WebSocketResponse
    codec: OcppCodec
    pending: asyncio.Future[CallResult | CallError] | None = None


@dataclass(slots=True)
class FakeCsms:
    answers: dict[str, Answer] = field(default_factory=dict)
    """Answers of the test, over the defaults of the station's version."""
    received: list[Received] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    """What broke the schemas or OCPP-J: a test expects none."""
    uploads: list[Upload] = field(default_factory=list)
    connections: dict[str, _Connection] = field(default_factory=dict)
    port: int = 0
    release_uploads: asyncio.Event = field(default_factory=asyncio.Event)
    """``/hang/`` uploads are held until this is set (a slow upload server)."""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ocpp/{station}", self._socket)
        app.router.add_route("*", "/upload/{tail:.*}", self._upload)
        app.router.add_route("*", "/fail/{tail:.*}", self._fail)
        app.router.add_route("*", "/hang/{tail:.*}", self._hang)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.release_uploads.set()
        for connection in list(self.connections.values()):
            await connection.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- what the stations sent ---------------------------------------------------------------

    def of(self, action: str, station_id: str | None = None) -> list[Payload]:
        return [
            r.payload
            for r in self.received
            if r.action == action and station_id in (None, r.station_id)
        ]

    async def wait_for(
        self, action: str, test: Callable[[Payload], bool] = lambda p: True, *, within: float = 0
    ) -> Payload:
        """The first ``action`` the stations sent that passes ``test``."""

        def found() -> Payload | None:
            return next((p for p in self.of(action) if test(p)), None)

        result = await eventually(found, within=within or 200 * UNIT, what=f"a {action}")
        assert result is not None
        return result

    # --- calls to a station -------------------------------------------------------------------

    async def call(
        self, station_id: str, action: str, payload: Payload, *, timeout: float = 0
    ) -> CallResult | CallError:
        connection = await eventually(
            lambda: self.connections.get(station_id), what=f"{station_id} connected"
        )
        assert connection is not None
        codec = connection.codec
        unique_id = codec.send_call(action, payload)
        answer: asyncio.Future[CallResult | CallError] = asyncio.get_running_loop().create_future()
        connection.pending = answer
        for text in codec.to_send():
            await connection.ws.send_str(text)
        try:
            return await asyncio.wait_for(answer, timeout or 100 * UNIT)
        finally:
            connection.pending = None
            codec.cancel_call(unique_id)

    async def result(self, station_id: str, action: str, payload: Payload) -> Payload:
        """The CALLRESULT's payload of a call that must succeed."""
        reply = await self.call(station_id, action, payload)
        assert isinstance(reply, CallResult), reply
        assert reply.violation is None, reply.violation
        return reply.payload

    async def drop(self, station_id: str) -> None:
        """Close a station's websocket (the network went)."""
        connection = self.connections.get(station_id)
        if connection is not None:
            await connection.ws.close()

    # --- the server ---------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        station_id = request.match_info["station"]
        ws = web.WebSocketResponse(protocols=("ocpp1.6", "ocpp2.0.1", "ocpp2.1"))
        await ws.prepare(request)
        version = OcppVersion(ws.ws_protocol or "ocpp1.6")
        codec = OcppCodec(version, role=Role.CSMS)
        connection = _Connection(ws, codec)
        self.connections[station_id] = connection
        defaults = DEFAULT_16 if version is OcppVersion.V16 else DEFAULT_2
        try:
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                codec.receive_text(message.data)
                for event in codec.events():
                    if isinstance(event, Call):
                        self.received.append(Received(station_id, event.action, event.payload))
                        answer = self.answers.get(event.action, defaults.get(event.action))
                        if answer is None:
                            self.violations.append(f"no answer for {event.action}")
                            continue
                        body = answer(event.payload) if callable(answer) else answer
                        codec.send_result(event.unique_id, body)
                    elif isinstance(event, CallResult | CallError):
                        pending = connection.pending
                        if pending is not None and not pending.done():
                            pending.set_result(event)
                    elif isinstance(event, ProtocolViolation):
                        self.violations.append(f"{event.error_code}: {event.description}")
                for text in codec.to_send():
                    await ws.send_str(text)
        finally:
            if self.connections.get(station_id) is connection:
                del self.connections[station_id]
        return ws

    async def _upload(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.uploads.append(
            Upload(request.method, request.path, body, request.headers.get("Authorization"))
        )
        return web.Response(status=201)

    async def _hang(self, request: web.Request) -> web.Response:
        await self.release_uploads.wait()
        return await self._upload(request)

    async def _fail(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=500)
