"""The aiohttp websocket endpoint: handshake, subprotocol negotiation, and the socket's reader.

It owns no OCPP logic: the ``Acceptor`` decides on handshakes and starts the station's actor; every
frame goes to the connection's transport actor (``gateway.connection``), the only writer of the codec
and the socket. Paths: ``/ocpp/{id}`` and ``/{id}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import WSMsgType, web

from actors import ActorError, ActorRef, ActorStopped, LocalActorRef, MailboxFull, Supervisor
from gateway.connection import Bind, Close, ConnectionActor, Frame, Hangup
from gateway.directory import StationDirectory, StationEntry
from transport.codec import OcppCodec
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
CLOSE_NORMAL = 1000
CLOSE_REPLACED = CLOSE_NORMAL
CLOSE_INTERNAL_ERROR = 1011
CLOSE_POLICY_VIOLATION = 1008


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


class Acceptor(Protocol):
    """Decides on handshakes and runs the station's side of accepted connections."""

    async def admit(self, handshake: Handshake) -> Refusal | OcppVersion:
        """The version to speak (``handshake.version``, or another of its ``candidates`` that the
        station is restricted to) to accept; a ``Refusal`` otherwise. Checks credentials."""

    async def open(self, handshake: Handshake, connection: ActorRef) -> ActorRef:
        """Start the station's actor for an accepted socket whose transport actor is
        ``connection``; it receives the charger's calls. Raising refuses the connection (1011)."""

    async def close(self, handshake: Handshake, station: ActorRef, *, replaced: bool) -> None:
        """The socket is gone and its transport actor has stopped: stop the station's actor after
        the messages it holds (``replaced``: a newer connection of the station is live)."""


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
    """The OCPP-J websocket endpoint as aiohttp routes: per accepted socket, a reader (this
    handler's task) that hands frames to the connection's transport actor."""

    def __init__(
        self,
        acceptor: Acceptor,
        directory: StationDirectory,
        supervisor: Supervisor,
        *,
        subprotocols: Sequence[OcppVersion],
        default_version: OcppVersion,
        ping_interval: float = 30.0,
        max_frame_bytes: int = 1 << 20,
        max_queued_frames: int = 1000,
        on_protocol_violation: Callable[[str], None] | None = None,
    ) -> None:
        self._acceptor = acceptor
        self._directory = directory
        self._supervisor = supervisor
        """Owns the transport actors (no restarts: a codec's state cannot be rebuilt)."""
        self._subprotocols = tuple(subprotocols)
        self._default = default_version
        self._ping_interval = ping_interval
        self._max_frame_bytes = max_frame_bytes
        self._max_queued_frames = max_queued_frames
        self._on_violation = on_protocol_violation
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
        await self._serve(handshake, socket)
        return socket

    async def _serve(self, handshake: Handshake, socket: web.WebSocketResponse) -> None:
        station_id = handshake.station_id
        # Names carry the socket's id: a replaced connection's actors may still be finishing.
        suffix = f"{station_id}#{id(socket):x}"
        connection = await self._supervisor.spawn(
            lambda: ConnectionActor(
                station_id,
                OcppCodec(handshake.version),
                socket,
                on_protocol_violation=self._on_violation,
            ),
            name=f"ws:{suffix}",
            mailbox_size=self._max_queued_frames,
        )
        try:
            station = await self._acceptor.open(handshake, connection)
        except Exception:
            log.exception("%s: station actor did not start", station_id)
            _tell_quietly(connection, Close(CLOSE_INTERNAL_ERROR, "internal error"))
            await self._read(socket, connection)
            await connection.stop()
            return
        connection.tell(Bind(station))
        entry = StationEntry(station_id, handshake.version, connection, station)
        previous = self._directory.attach(entry)
        if previous is not None:
            log.info("%s reconnected; closing its previous socket", station_id)
            _tell_quietly(
                previous.connection, Close(CLOSE_REPLACED, "replaced by a new connection")
            )
        log.info("%s connected (%s)", station_id, handshake.version.value)
        try:
            await self._read(socket, connection)
        finally:
            # In order: the transport actor settles its calls and stops, then the station's actor
            # finishes what it holds (an answer to our call may still be on its way to it).
            with contextlib.suppress(ActorError):
                await connection.ask(Hangup(), timeout=None)
            await connection.stop()
            replaced = not self._directory.detach(entry)
            await self._acceptor.close(handshake, station, replaced=replaced)
            log.info("%s disconnected", station_id)

    async def _read(self, socket: web.WebSocketResponse, connection: LocalActorRef) -> None:
        """Hand every frame to the transport actor until the socket or the actor ends."""
        async for message in socket:
            if message.type is WSMsgType.TEXT:
                text = message.data
            elif message.type is WSMsgType.BINARY:
                # OCPP-J uses text frames only; a binary frame is read as its UTF-8 text so that it
                # gets the same CALLERROR a bad text frame gets.
                text = message.data.decode("utf-8", errors="replace")
            else:
                continue
            try:
                connection.tell(Frame(text))
            except MailboxFull:
                # Frames arrive faster than the socket takes our answers: a peer that does not
                # read. The transport actor is stuck writing to it, so the reader closes instead
                # (the only write it ever makes).
                log.warning(
                    "%s: %d frames unanswered; closing", connection.name, self._max_queued_frames
                )
                await socket.close(code=CLOSE_POLICY_VIOLATION, message=b"too many frames")
                return
            except ActorStopped:
                # The transport actor crashed (a bug): nobody writes to the socket any more.
                await socket.close(code=CLOSE_INTERNAL_ERROR, message=b"internal error")
                return


def _tell_quietly(ref: ActorRef, message: object) -> None:
    """Tell, when the receiver may already be gone (its end does what the message asked)."""
    with contextlib.suppress(MailboxFull, ActorStopped):
        ref.tell(message)
