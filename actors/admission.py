"""Who may open an OCPP websocket: basic-auth credentials of stations that have a password, and
nobody while the node drains."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from actors.connection import StationConnection
from persistence import repositories as repo
from persistence.reads import Reads
from persistence.records import StationRecord
from transport.codec import OcppCodec
from transport.security import PasswordVerifier
from transport.versions import OcppVersion
from transport.websocket import Connection, Handshake, Refusal


class StationAdmission:
    """Implements ``transport.Acceptor`` against the main store."""

    def __init__(
        self,
        reads: Reads,
        connection_factory: Callable[
            [Handshake, OcppCodec, web.WebSocketResponse, StationRecord | None],
            StationConnection,
        ],
    ) -> None:
        self._reads = reads
        self._factory = connection_factory
        self.verifier = PasswordVerifier()
        self.draining = False
        # The record read for the handshake, handed to the charge point actor so that a connection
        # costs one read of the station, not two.
        self._admitted: dict[str, StationRecord | None] = {}

    async def admit(self, handshake: Handshake) -> Refusal | OcppVersion:
        if self.draining:
            return Refusal(503, "node is shutting down; reconnect to another")
        station, password_hash = await repo.get_station_and_password(
            self._reads, handshake.station_id
        )
        refusal = await self._check_password(handshake, password_hash)
        if refusal is not None:
            return refusal
        version = _version_for(handshake, station)
        if isinstance(version, Refusal):
            return version
        self._admitted[handshake.station_id] = station
        return version

    async def _check_password(
        self, handshake: Handshake, password_hash: str | None
    ) -> Refusal | None:
        if password_hash is None:
            return None
        credentials = handshake.credentials
        if credentials is None:
            return Refusal(401, "basic auth required")
        # OCPP security profiles 1-2: the username is the station's own identity.
        if credentials.username != handshake.station_id:
            return Refusal(401, "wrong credentials")
        ok = self.verifier.remembered(handshake.station_id, credentials.password, password_hash)
        if ok is None:
            # scrypt releases the GIL: in a thread it does not stall every other charger.
            ok = await asyncio.to_thread(
                self.verifier.verify, handshake.station_id, credentials.password, password_hash
            )
        return None if ok else Refusal(401, "wrong credentials")

    def open(
        self, handshake: Handshake, codec: OcppCodec, socket: web.WebSocketResponse
    ) -> Connection:
        """The connection of a station that ``admit`` accepted."""
        station = self._admitted.pop(handshake.station_id, None)
        return self._factory(handshake, codec, socket, station)


def _version_for(handshake: Handshake, station: StationRecord | None) -> OcppVersion | Refusal:
    """The negotiated version, unless the operator restricted the station to others: then the
    first of ours that the station offered and may use (for a charger that offered none, the
    first it may use)."""
    if station is None or not station.protocols:
        return handshake.version
    allowed = [v for v in (OcppVersion.from_subprotocol(p) for p in station.protocols) if v]
    if not handshake.candidates:
        # A charger that offers no subprotocol speaks what its operator configured.
        return allowed[0] if allowed else handshake.version
    for version in handshake.candidates:
        if version in allowed:
            return version
    return Refusal(
        400,
        f"station may use {', '.join(station.protocols)}; "
        f"it offered {', '.join(v.value for v in handshake.candidates)}",
    )
