"""The aiohttp websocket endpoint: handshake, subprotocol negotiation, and the socket's reader.

It owns no OCPP logic: the ``Acceptor`` decides on handshakes and starts the station's actor; every
frame goes to the connection's transport actor (``gateway.connection``), the only writer of the codec
and the socket. Paths: ``/ocpp/{id}`` and ``/{id}``.
"""

from __future__ import annotations

import asyncio
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
from gateway.guard import UpgradeGuard
from gateway.throttle import AuthThrottle
from gateway.tls import peer_common_name
from transport.codec import OcppCodec
from transport.security import BasicCredentials, parse_basic_auth
from transport.versions import OcppVersion

log = logging.getLogger(__name__)

# One rule for every version: OCPP 2.0.1 Part 2 A00.FR.503 (and Part 4 section 3.1) has the identity
# be at most 48 characters of identifierString (a-z A-Z 0-9 * - _ = : + | @ .). OCPP-J 1.6 section
# 3.1.1 allows whatever the URL carries, but the identity also names the station in basic auth, in
# certificates (CN), in REST paths, logs and store keys, and 1.6 chargers move to 2.0.1 keeping
# their identity, so 1.6 stations keep to the same rule.
_IDENTITY = re.compile(r"[A-Za-z0-9*\-_=:+|@.]{1,48}")
# Path segments that are not identities: "." and ".." (URL normalisation, RFC 3986 section 5.2.4)
# and the first segment of every route of the OCPP and API ports, so that /{id} and
# /api/v1/stations/{id} never name anything else (tests/unit/test_identity.py derives the names
# from the registered routes and fails when one is missing here; this layer cannot import the API).
RESERVED_IDENTITIES = frozenset(
    {
        ".",
        "..",
        "api",
        "ocpp",
        "healthz",
        "readyz",
        "metrics",
        "openapi.json",
        "dashboard",
        "uploads",
    }
)
# Stations registered by earlier releases, which accepted up to 64 characters of this set (with
# "~", without "=" and "|") and the reserved names: refusing them would lock out working chargers,
# so a station already in the store keeps connecting and being managed under its id; new ones
# must keep to the rule above.
_STORED_IDENTITY = re.compile(r"[A-Za-z0-9._~:*@+\-]{1,64}")
IDENTITY_RULE = (
    "a station id is 1-48 characters: letters, digits and * - _ = : + | @ . "
    f"(not {', '.join(sorted(RESERVED_IDENTITIES))})"
)
"""The rule in words, for refusals."""


def valid_identity(station_id: str, *, stored: bool = False) -> bool:
    """Whether a charge point identity can be served: the same rule for the socket and the API.

    ``stored``: the station is already in the store, so an identity that earlier releases accepted
    still qualifies. Callers that have not read the store yet pass ``stored=True`` to refuse what
    can never qualify, then apply the rule again once they know the station is new."""
    if _IDENTITY.fullmatch(station_id) and station_id.lower() not in RESERVED_IDENTITIES:
        return True
    return stored and _STORED_IDENTITY.fullmatch(station_id) is not None


# RFC 6455 section 7.4.1: 1012 tells a client to reconnect (service restart).
CLOSE_SERVICE_RESTART = 1012
CLOSE_NORMAL = 1000
CLOSE_REPLACED = CLOSE_NORMAL
CLOSE_INTERNAL_ERROR = 1011
CLOSE_POLICY_VIOLATION = 1008
# How long a socket we close waits for the charger's Close before the connection is cut. A live
# charger answers within a round trip, even over a slow cellular link; one that does not is taken
# for gone. A dead socket holds a node's drain (and the descriptor of a replaced one) this long.
CLOSE_HANDSHAKE_TIMEOUT = 2.0


class ReaderClosedWebSocket(web.WebSocketResponse):
    """A websocket whose close, asked for by another task while its reader waits for a frame, is
    run by the reader (``OcppEndpoint._read``), so that the closing handshake completes.

    RFC 6455 section 7.1.2: the connection is closed once a Close frame went each way. aiohttp does
    so only when ``close()`` runs on the task that reads the socket; from another task (the transport
    actor's) it wakes the reader and closes the connection right after writing the Close frame. Over
    TLS the charger then reads the Close frame and the TLS close_notify together, its TLS layer shuts
    down before it can answer, and a client such as aiohttp's reports 1006 (closed without a Close
    frame) instead of the code it read (1012 on a node's restart)."""

    reading: asyncio.Task[object] | None = None
    """The reader's task while it waits for frames."""
    requested_close: tuple[int, bytes] | None = None
    """(code, reason) of the close asked for by another task, for the reader to run."""

    async def close(
        self, *, code: int = CLOSE_NORMAL, message: bytes = b"", drain: bool = True
    ) -> bool:
        reading = self.reading
        if reading is None or reading is asyncio.current_task():
            return await super().close(code=code, message=message, drain=drain)
        if self.requested_close is None:
            self.requested_close = (code, message)
            # The only way to end the reader's wait for a frame; it then closes (``_read``).
            reading.cancel()
        return True


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
    tls: bool = False
    """Whether the connection came over TLS (wss): security profiles 2 and 3 require it."""
    client_cn: str | None = None
    """Subject CN of the client certificate the TLS layer verified against the client CA (security
    profile 3), None without one."""
    authenticated: bool = False
    """Set once admitted: the charger proved it is the station (password or certificate)."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """The acceptor's yes, with what the endpoint needs beside the version."""

    version: OcppVersion
    """The version to speak."""
    authenticated: bool
    """Whether the charger proved its identity (a password or a certificate); a station of
    security profile 0 without a password did not, and may be impersonated."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """The acceptor's no: an HTTP status and a reason, answered instead of the upgrade."""

    status: int
    """401 (credentials), 403 (not allowed: below the station's security profile), 429 (too many
    failed attempts), 503 (shutting down)."""
    reason: str
    """Human-readable, also logged."""


class Acceptor(Protocol):
    """Decides on handshakes and runs the station's side of accepted connections."""

    async def admit(self, handshake: Handshake) -> Refusal | Admitted | OcppVersion:
        """The version to speak (``handshake.version``, or another of its ``candidates`` that the
        station is restricted to) to accept, as ``Admitted`` when the charger authenticated; a
        ``Refusal`` otherwise. Checks credentials and the station's security profile."""

    async def replaced(self, handshake: Handshake, previous: Handshake) -> None:
        """``handshake``'s connection replaced ``previous`` (same station id) without
        authenticating: record it (the residual risk of security profile 0)."""

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
        guard: UpgradeGuard | None = None,
        throttle: AuthThrottle | None = None,
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
        self.guard = guard or UpgradeGuard()
        """Deadline and per-peer cap of connections before their upgrade (``GuardedSite``)."""
        self.throttle = throttle or AuthThrottle()
        """Failed basic auth, per station id and peer address."""
        self._live: dict[str, Handshake] = {}
        """The handshake of each station's current connection (for the peer of a replaced one)."""
        self.accepting = True

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ocpp/{station_id}", self.handle), web.get("/{station_id}", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        station_id = request.match_info["station_id"]
        # The acceptor applies the rule for new stations once it has read the store.
        if not valid_identity(station_id, stored=True):
            log.info("identity %r from %s refused: not valid", station_id, request.remote)
            return web.Response(status=400, text=IDENTITY_RULE)
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
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        handshake = Handshake(
            station_id,
            # Field-observed: some chargers send no Sec-WebSocket-Protocol at all.
            candidates[0] if candidates else self._default,
            candidates,
            parse_basic_auth(request.headers.get("Authorization")),
            request.remote,
            tls=ssl_object is not None,
            client_cn=peer_common_name(ssl_object),
        )
        peer = request.remote or "?"
        if handshake.credentials is not None and self.throttle.blocked(station_id, peer):
            # Checked before the password: a guesser gets no answer and costs no scrypt.
            log.warning("%s from %s refused: too many failed logins", station_id, peer)
            return web.Response(
                status=429,
                text="too many failed attempts; try later",
                headers={"Retry-After": str(int(self.throttle.window))},
            )
        decision = await self._acceptor.admit(handshake)
        if isinstance(decision, Refusal):
            return await self._refuse(handshake, decision)
        if handshake.credentials is not None:
            self.throttle.succeeded(station_id)
        if isinstance(decision, Admitted):
            handshake = dataclasses.replace(
                handshake, version=decision.version, authenticated=decision.authenticated
            )
        else:
            handshake = dataclasses.replace(handshake, version=decision)
        version = handshake.version
        socket = ReaderClosedWebSocket(
            timeout=CLOSE_HANDSHAKE_TIMEOUT,
            protocols=(version.value,) if offered else (),
            heartbeat=self._ping_interval,
            max_msg_size=self._max_frame_bytes,
            compress=False,
        )
        await socket.prepare(request)
        self.guard.upgraded(request.transport)
        await self._serve(handshake, socket)
        return socket

    async def _refuse(self, handshake: Handshake, refusal: Refusal) -> web.Response:
        """Answer a refused upgrade: logged with the peer address (never the credentials); a
        failed password counts against the station id and the peer, and waits a growing delay."""
        peer = handshake.remote or "?"
        log.info("%s from %s refused: %s", handshake.station_id, peer, refusal.reason)
        headers = None
        if refusal.status == 401:
            headers = {"WWW-Authenticate": 'Basic realm="ocpp"'}
            if handshake.credentials is not None:
                delay = self.throttle.failed(handshake.station_id, peer)
                log.warning(
                    "%s from %s: failed basic auth; answered after %.2f s",
                    handshake.station_id,
                    peer,
                    delay,
                )
                await asyncio.sleep(delay)
        return web.Response(status=refusal.status, text=refusal.reason, headers=headers)

    async def _serve(self, handshake: Handshake, socket: ReaderClosedWebSocket) -> None:
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
        previous_handshake = self._live.get(station_id)
        self._live[station_id] = handshake
        # Everything after the attach is inside the try: a handler cancelled here must still
        # detach the entry and stop the actors.
        try:
            if previous is not None:
                old_peer = previous_handshake.remote if previous_handshake else None
                if handshake.authenticated:
                    log.info(
                        "%s reconnected from %s; closing its previous socket (from %s)",
                        station_id,
                        handshake.remote,
                        old_peer,
                    )
                else:
                    # OCPP 2.0.1 A00: without a credential nothing tells a charger from an impostor
                    # claiming its id; the operator gets both addresses and a station event.
                    log.warning(
                        "%s: unauthenticated connection from %s replaces the one from %s",
                        station_id,
                        handshake.remote,
                        old_peer,
                    )
                    if previous_handshake is not None:
                        try:
                            await self._acceptor.replaced(handshake, previous_handshake)
                        except Exception:
                            log.exception("%s: replacement not recorded", station_id)
                _tell_quietly(
                    previous.connection, Close(CLOSE_REPLACED, "replaced by a new connection")
                )
            log.info("%s connected (%s)", station_id, handshake.version.value)
            await self._read(socket, connection)
        finally:
            # In order: the transport actor settles its calls and stops, then the station's actor
            # finishes what it holds (an answer to our call may still be on its way to it).
            with contextlib.suppress(ActorError):
                await connection.ask(Hangup(), timeout=None)
            await connection.stop()
            replaced = not self._directory.detach(entry)
            if self._live.get(station_id) is handshake:
                del self._live[station_id]
            await self._acceptor.close(handshake, station, replaced=replaced)
            log.info("%s disconnected", station_id)

    async def _read(self, socket: ReaderClosedWebSocket, connection: LocalActorRef) -> None:
        """Hand every frame to the transport actor until the socket or the actor ends; then run
        the close the transport actor asked for, waiting for the charger's Close."""
        reader = asyncio.current_task()
        socket.reading = reader
        try:
            async for message in socket:
                if message.type is WSMsgType.TEXT:
                    text = message.data
                elif message.type is WSMsgType.BINARY:
                    # OCPP-J uses text frames only; a binary frame is read as its UTF-8 text so
                    # that it gets the same CALLERROR a bad text frame gets.
                    text = message.data.decode("utf-8", errors="replace")
                else:
                    continue
                try:
                    connection.tell(Frame(text))
                except MailboxFull:
                    # Frames arrive faster than the socket takes our answers: a peer that does
                    # not read. The transport actor is stuck writing to it, so the reader closes
                    # instead (its only writes are closes).
                    log.warning(
                        "%s: %d frames unanswered; closing",
                        connection.name,
                        self._max_queued_frames,
                    )
                    await socket.close(code=CLOSE_POLICY_VIOLATION, message=b"too many frames")
                    return
                except ActorStopped:
                    # The transport actor crashed (a bug): nobody writes to the socket any more.
                    await socket.close(code=CLOSE_INTERNAL_ERROR, message=b"internal error")
                    return
        except asyncio.CancelledError:
            # The wake-up of a requested close is ours to take; any other cancellation goes on.
            if socket.requested_close is None or (reader is not None and reader.uncancel() > 0):
                raise
        finally:
            socket.reading = None
        if socket.requested_close is not None:
            code, reason = socket.requested_close
            await socket.close(code=code, message=reason)


def _tell_quietly(ref: ActorRef, message: object) -> None:
    """Tell, when the receiver may already be gone (its end does what the message asked)."""
    with contextlib.suppress(MailboxFull, ActorStopped):
        ref.tell(message)
