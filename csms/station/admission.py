"""Who may open an OCPP websocket, and the start and end of an accepted station's charge point actor.

A station connects under its security profile (its own, else the node's floor), OCPP 2.0.1 Part 2
A00 and the 1.6 security whitepaper section 2:

- 0: no credential (a station that has a password must still send it);
- 1: basic auth, username = the station id, over ws or wss;
- 2: basic auth over TLS only (a charger that falls back to plain ws is refused: no downgrade);
- 3: TLS with a client certificate issued by the client CA whose subject CN is the station id (no
  password).

Nobody is admitted while the node drains.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from actors import ActorError, ActorRef, Supervisor
from csms.station.charge_point import AnswerObserver, ChargePointActor, Disconnected, Handler
from csms.station.ownership import StationOwnership
from csms.station.services import StationServices
from gateway.endpoint import IDENTITY_RULE, Admitted, Handshake, Refusal, valid_identity
from persistence.events import station_event
from persistence.reads import Reads
from persistence.records import StationRecord
from persistence.stations import get_station_credentials, promote_pending_password
from persistence.writer import Fence, submit_detached
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
        ownership: StationOwnership,
        observers: Mapping[str, tuple[AnswerObserver, ...]] | None = None,
        status_trigger_delay: float | None = None,
        min_security_profile: int = 0,
    ) -> None:
        self._reads = reads
        self.ownership = ownership
        self._services = services
        self._supervisor = supervisor
        self._handlers = handlers
        self._observers = observers or {}
        self._status_trigger_delay = status_trigger_delay
        self.min_security_profile = min_security_profile
        """The profile of stations that have none of their own (unknown ones too)."""
        self.verifier = PasswordVerifier()
        self.draining = False
        # The record read for the handshake, handed to the charge point actor so that a connection
        # costs one read of the station, not two.
        self._admitted: dict[str, StationRecord | None] = {}
        self._fences: dict[str, Fence] = {}
        """The lease of each open connection, by its charge point actor's name."""

    async def admit(self, handshake: Handshake) -> Refusal | Admitted:
        if self.draining:
            return Refusal(503, "node is shutting down; reconnect to another")
        found = await get_station_credentials(self._reads, handshake.station_id)
        station = found.record
        if station is None and not valid_identity(handshake.station_id):
            # An identity earlier releases accepted serves only the station already stored.
            return Refusal(400, IDENTITY_RULE)
        profile = self.profile_of(station)
        if profile >= 2 and not handshake.tls:
            # OCPP 2.0.1 A00.FR.204/304: profiles 2 and 3 only over TLS; a charger that falls
            # back to plain ws would send its password in the clear (downgrade).
            return Refusal(403, f"security profile {profile} requires TLS (wss)")
        if profile == 3:
            # OCPP 2.0.1 A00.FR.406: the CSMS checks that the certificate's CN is the station id;
            # the TLS layer already checked that the client CA issued it.
            if handshake.client_cn != handshake.station_id:
                return Refusal(
                    403, "security profile 3 requires a client certificate for this station id"
                )
            authenticated = True
        else:
            hashes = tuple(h for h in (found.password_hash, found.pending_password_hash) if h)
            if profile >= 1 and not hashes:
                # Profile 1-2 without a password: nothing to check, so nobody may connect.
                return Refusal(401, f"security profile {profile} requires a station password")
            refusal = await self._check_password(handshake, found.password_hash, hashes)
            if refusal is not None:
                return refusal
            authenticated = bool(hashes)
        version = _version_for(handshake, station)
        if isinstance(version, Refusal):
            return version
        self._admitted[handshake.station_id] = station
        return Admitted(version, authenticated)

    def profile_of(self, station: StationRecord | None) -> int:
        """The security profile a station connects under: its own, else the node's floor."""
        if station is not None and station.security_profile is not None:
            return station.security_profile
        return self.min_security_profile

    async def _check_password(
        self, handshake: Handshake, current: str | None, hashes: tuple[str, ...]
    ) -> Refusal | None:
        """None when the credentials match one of ``hashes`` (the current password, or the
        pending one of a rotation, which is then promoted); no hashes: nothing to check."""
        if not hashes:
            return None
        credentials = handshake.credentials
        if credentials is None:
            return Refusal(401, "basic auth required")
        # OCPP security profiles 1-2: the username is the station's own identity.
        password = credentials.password_of(handshake.station_id)
        if password is None:
            return Refusal(401, "wrong credentials")
        for encoded in hashes:
            ok = self.verifier.remembered(handshake.station_id, password, encoded)
            if ok is None:
                # scrypt releases the GIL: in a thread it does not stall every other charger.
                ok = await asyncio.to_thread(
                    self.verifier.verify, handshake.station_id, password, encoded
                )
            if ok:
                if encoded != current:
                    await self._promote(handshake.station_id, encoded)
                return None
        return Refusal(401, "wrong credentials")

    async def _promote(self, station_id: str, pending_hash: str) -> None:
        """OCPP 2.0.1 A01 / 1.6 whitepaper: the station proved it holds the new password, so
        the old one stops working. Written before the upgrade: a station whose promotion is lost
        still connects with the pending one and is promoted then."""
        await self._services.writer.submit(promote_pending_password(station_id, pending_hash))

    async def replaced(self, handshake: Handshake, previous: Handshake) -> None:
        """An unauthenticated connection took over a station id: a station event names both
        peers (the operator's evidence of an impostor, or of a charger that moved)."""
        payload = {
            "remote": handshake.remote,
            "previous_remote": previous.remote,
            "tls": handshake.tls,
            "protocol": handshake.version.value,
        }
        await self._services.writer.submit(
            station_event(handshake.station_id, "ConnectionReplaced", payload)
        )

    async def open(self, handshake: Handshake, connection: ActorRef) -> ActorRef:
        """The charge point actor of a station that ``admit`` accepted."""
        first_read = [self._admitted.pop(handshake.station_id, None)]
        # The lease before the actor: its first write (presence, boot) is made under it.
        fence = await self.ownership.take(handshake.station_id, handshake.version.value)

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
                fence=fence,
                observers=self._observers,
            )

        # Named after the connection ("ws:<station>#<socket>"): a replaced connection's actor may
        # still be finishing beside the new one.
        name = "cp:" + connection.name.partition(":")[2]
        self._fences[name] = fence
        try:
            actor = await self._supervisor.spawn(make, name=name)
        except BaseException:
            self.ownership.release(self._fences.pop(name))
            raise
        events = self._services.events
        connected = {
            "protocol": handshake.version.value,
            "remote": handshake.remote,
            "tls": handshake.tls,
            "member": events.member,
        }
        events.publish("station.connected", handshake.station_id, connected)
        self._remember(handshake.station_id, "Connected", {**connected, "epoch": fence.epoch})
        return actor

    async def close(self, handshake: Handshake, station: ActorRef, *, replaced: bool) -> None:
        # Asked, so that what the actor holds (a charger's last call, the answer to one of ours)
        # is handled before it stops; gone already if its supervisor gave up on it.
        with contextlib.suppress(ActorError):
            await station.ask(Disconnected(), timeout=None)
        fence = self._fences.pop(station.name, None)
        if fence is not None:
            self.ownership.release(fence)
        if not replaced:
            # A replaced socket's station is still connected, by its newer socket. The member
            # tells a client which connection ended (the station may have moved to another).
            self._services.status.set_presence(handshake.station_id, connected=False, protocol=None)
            events = self._services.events
            events.publish("station.disconnected", handshake.station_id, {"member": events.member})
            self._remember(
                handshake.station_id,
                "Disconnected",
                {"remote": handshake.remote, "member": events.member},
            )

    def _remember(self, station_id: str, kind: str, payload: dict[str, object]) -> None:
        """The station's connection history, kept as station events. Not awaited: a socket's
        open or close does not wait for the store (a failed write is logged)."""
        submit_detached(
            self._services.writer,
            station_event(station_id, kind, payload),
            what=f"{station_id}: connection history",
        )


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
