"""The aiohttp websocket adapter: handshake, subprotocol negotiation, and frames in and out of the codec.

It owns no OCPP logic: every text frame goes through ``OcppCodec.receive_text`` and every event goes to
the ``Connection`` that the ``Acceptor`` opened for the station. Paths: ``/ocpp/{id}`` and ``/{id}``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import WSMsgType, web

from transport.codec import OcppCodec
from transport.messages import Event
from transport.security import BasicCredentials, parse_basic_auth
from transport.versions import OcppVersion

log = logging.getLogger(__name__)

# Identities are used in URLs, logs and keys: printable, no separators. OCPP 2.0.1 A00.FR.503 allows up
# to 48 characters; 64 leaves room for 1.6 chargers that use longer ones.
_IDENTITY = re.compile(r"^[A-Za-z0-9._~:*@+\-]{1,64}$")


def valid_identity(station_id: str) -> bool:
    """Whether a charge point identity can be served (the same rule for the socket and the API)."""
    return _IDENTITY.match(station_id) is not None


# RFC 6455 section 7.4.1: 1012 tells a client to reconnect (service restart).
CLOSE_SERVICE_RESTART = 1012
CLOSE_REPLACED = 1000
CLOSE_INTERNAL_ERROR = 1011


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the acceptor may decide on, before the websocket upgrade."""

    station_id: str
    """Identity from the URL path."""
    version: OcppVersion
    """Negotiated OCPP version (or the configured default when none was offered)."""
    candidates: tuple[OcppVersion, ...]
    """Every version both sides support, ours in order of preference (``version`` first); empty
    when the charger offered none."""
    credentials: BasicCredentials | None
    """Basic auth credentials, if the charger sent any."""
    remote: str | None
    """Peer address, for logs."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """The acceptor's no: an HTTP status and a reason, answered instead of the upgrade."""

    status: int
    """401 (credentials), 403 (not allowed), 503 (shutting down)."""
    reason: str
    """Human-readable, also logged."""


class Connection(Protocol):
    """The domain side of one accepted websocket."""

    async def opened(self) -> None:
        """Called once after the upgrade, before any frame is read."""

    def received(self, event: Event) -> None:
        """One event of the codec; must not block (hand it to a mailbox)."""

    async def closed(self) -> None:
        """Called once when the socket is gone, whatever the reason."""


class Acceptor(Protocol):
    """Decides on handshakes and opens the domain side of accepted connections."""

    async def admit(self, handshake: Handshake) -> Refusal | OcppVersion:
        """The version to speak (``handshake.version``, or another of its ``candidates`` that the
        station is restricted to) to accept; a ``Refusal`` otherwise. Checks credentials."""

    def open(
        self, handshake: Handshake, codec: OcppCodec, socket: web.WebSocketResponse
    ) -> Connection:
        """The connection object for an accepted socket."""


def negotiate(offered: Sequence[str], supported: Sequence[OcppVersion]) -> OcppVersion | None:
    """The first of ``supported`` (our order of preference) that the charger offered."""
    candidates = acceptable(offered, supported)
    return candidates[0] if candidates else None


def acceptable(offered: Sequence[str], supported: Sequence[OcppVersion]) -> tuple[OcppVersion, ...]:
    """Every one of ``supported`` that the charger offered, in our order of preference (RFC 6455
    section 4.2.2: the server picks one of the client's subprotocols; its own preference decides)."""
    offered_set = {o.strip() for o in offered}
    return tuple(version for version in supported if version.value in offered_set)


class OcppEndpoint:
    """The OCPP-J websocket endpoint as aiohttp routes."""

    def __init__(
        self,
        acceptor: Acceptor,
        *,
        subprotocols: Sequence[OcppVersion],
        default_version: OcppVersion,
        ping_interval: float = 30.0,
        max_frame_bytes: int = 1 << 20,
    ) -> None:
        self._acceptor = acceptor
        self._subprotocols = tuple(subprotocols)
        self._default = default_version
        self._ping_interval = ping_interval
        self._max_frame_bytes = max_frame_bytes
        self.accepting = True

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ocpp/{station_id}", self.handle), web.get("/{station_id}", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        station_id = request.match_info["station_id"]
        if not valid_identity(station_id):
            return web.Response(
                status=400, text="charge point identity must be 1-64 URL-safe characters"
            )
        if not self.accepting:
            return web.Response(status=503, text="shutting down")
        header = request.headers.get("Sec-WebSocket-Protocol", "")
        offered = [p.strip() for p in header.split(",") if p.strip()]
        candidates = acceptable(offered, self._subprotocols)
        if offered and not candidates:
            supported = ", ".join(v.value for v in self._subprotocols)
            log.info("%s offered %s; refused (supported: %s)", station_id, header, supported)
            return web.Response(
                status=400, text=f"no supported OCPP subprotocol offered; supported: {supported}"
            )
        handshake = Handshake(
            station_id,
            # Field-observed: some chargers send no Sec-WebSocket-Protocol at all.
            candidates[0] if candidates else self._default,
            candidates,
            parse_basic_auth(request.headers.get("Authorization")),
            request.remote,
        )
        decision = await self._acceptor.admit(handshake)
        if isinstance(decision, Refusal):
            log.info("%s refused: %s", station_id, decision.reason)
            headers = {"WWW-Authenticate": 'Basic realm="ocpp"'} if decision.status == 401 else None
            return web.Response(status=decision.status, text=decision.reason, headers=headers)
        version = decision
        handshake = dataclasses.replace(handshake, version=version)
        socket = web.WebSocketResponse(
            protocols=(version.value,) if offered else (),
            heartbeat=self._ping_interval,
            max_msg_size=self._max_frame_bytes,
            compress=False,
        )
        await socket.prepare(request)
        codec = OcppCodec(version)
        connection = self._acceptor.open(handshake, codec, socket)
        try:
            await connection.opened()
            await self._pump(socket, codec, connection)
        finally:
            await connection.closed()
        return socket

    async def _pump(
        self, socket: web.WebSocketResponse, codec: OcppCodec, connection: Connection
    ) -> None:
        async for message in socket:
            if message.type is WSMsgType.TEXT:
                codec.receive_text(message.data)
            elif message.type is WSMsgType.BINARY:
                # OCPP-J uses text frames only; a binary frame is read as its UTF-8 text so that it
                # gets the same CALLERROR a bad text frame gets.
                codec.receive_text(message.data.decode("utf-8", errors="replace"))
            else:
                continue
            # Events first: handing one over may queue an answer (a refused call) to send now.
            for event in codec.events():
                connection.received(event)
            try:
                for frame in codec.to_send():
                    await socket.send_str(frame)
            except ConnectionError:
                return  # closed under us; the connection's cleanup runs in handle()
