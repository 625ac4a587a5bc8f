"""Who may open an OCPP websocket: basic-auth credentials of stations that have a password, and
nobody while the node drains."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from transport.codec import OcppCodec

from actors.connection import StationConnection
from persistence import repositories as repo
from transport.security import PasswordVerifier
from transport.websocket import Connection, Handshake, Refusal


class StationAdmission:
    """Implements ``transport.Acceptor`` against the main store."""

    def __init__(
        self,
        engine_reads: AsyncEngine,
        connection_factory: Callable[
            [Handshake, OcppCodec, web.WebSocketResponse], StationConnection
        ],
    ) -> None:
        self._engine = engine_reads
        self._factory = connection_factory
        self.verifier = PasswordVerifier()
        self.draining = False

    async def admit(self, handshake: Handshake) -> Refusal | None:
        if self.draining:
            return Refusal(503, "node is shutting down; reconnect to another")
        _known, password_hash = await repo.get_password_hash(self._engine, handshake.station_id)
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
        return self._factory(handshake, codec, socket)
