"""Who may open an OCPP websocket (basic-auth credentials of stations that have a password, and
nobody while the node drains), and the start and end of an accepted station's charge point actor."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from actors import ActorError, ActorRef, Supervisor
from csms.station.charge_point import ChargePointActor, Disconnected, Handler
from csms.station.services import StationServices
from gateway.endpoint import Handshake, Refusal
from persistence.reads import Reads
from persistence.records import StationRecord
from persistence.stations import get_station_and_password
from transport.security import PasswordVerifier
from transport.versions import OcppVersion


class StationAdmission:
    """Implements ``gateway.endpoint.Acceptor`` against the main store: checks a station's
    credentials and starts its charge point actor."""

    def __init__(
        self,
        reads: Reads,
        services: StationServices,
        supervisor: Supervisor,
        handlers: Mapping[OcppVersion, Mapping[str, Handler]],
        *,
        status_trigger_delay: float | None = None,
    ) -> None:
        self._reads = reads
        self._services = services
        self._supervisor = supervisor
        self._handlers = handlers
        self._status_trigger_delay = status_trigger_delay
        self.verifier = PasswordVerifier()
        self.draining = False
        # The record read for the handshake, handed to the charge point actor so that a connection
        # costs one read of the station, not two.
        self._admitted: dict[str, StationRecord | None] = {}

    async def admit(self, handshake: Handshake) -> Refusal | OcppVersion:
        if self.draining:
            return Refusal(503, "node is shutting down; reconnect to another")
        station, password_hash = await get_station_and_password(self._reads, handshake.station_id)
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

    async def open(self, handshake: Handshake, connection: ActorRef) -> ActorRef:
        """The charge point actor of a station that ``admit`` accepted."""
        first_read = [self._admitted.pop(handshake.station_id, None)]

        def make() -> ChargePointActor:
            # The handshake's read serves the first start only; a restart reads afresh.
            station, first_read[0] = first_read[0], None
            return ChargePointActor(
                self._services,
                handshake.station_id,
                handshake.version,
                connection,
                self._handlers[handshake.version],
                station=station,
                status_trigger_delay=self._status_trigger_delay,
            )

        # Named after the connection ("ws:<station>#<socket>"): a replaced connection's actor may
        # still be finishing beside the new one.
        name = "cp:" + connection.name.partition(":")[2]
        return await self._supervisor.spawn(make, name=name)

    async def close(self, handshake: Handshake, station: ActorRef, *, replaced: bool) -> None:
        # Asked, so that what the actor holds (a charger's last call, the answer to one of ours)
        # is handled before it stops; gone already if its supervisor gave up on it.
        with contextlib.suppress(ActorError):
            await station.ask(Disconnected(), timeout=None)
        if not replaced:
            self._services.status.set_presence(handshake.station_id, connected=False, protocol=None)


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
