"""One actor per connected charge point: its state on this connection, its requests handled one at a
time, and the answers to the CSMS's calls to it.

The charger's CALLs arrive in the mailbox in order; each is answered (CALLRESULT or CALLERROR, handed to
the connection's transport actor) before the next is taken, which is what OCPP-J expects of a charger
with one call in flight. A CSMS-initiated call is handed to the transport actor, which sends it when no
other is in flight; its answer comes back here as a message, so a handler never waits for a charger's
answer and the actor can never wait for itself.

A handler whose payload is unusable, or that has a bug, gets its message an error answer and the actor
goes on. A store that fails leaves the actor's state in doubt: the message is answered InternalError
(nothing is acknowledged), and the actor crashes so that its supervisor restarts it from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from actors import Actor, ActorError, ActorRef, ActorStopped, MailboxFull
from csms.payloads.fields import PayloadError
from csms.pki.passwords import redacted
from csms.station.configuration import ConfigurationCache
from csms.station.registration import refusal, standing_of
from csms.station.services import StationServices, UnknownStationPolicy
from gateway.calls import (
    CallAnswered,
    CommandError,
    CommandNotSent,
    CommandRejected,
    CommandResult,
    CommandTimeout,
    OutgoingCall,
    StationBusy,
    StationNotAccepted,
    StationNotConnected,
)
from gateway.connection import Close, Queue, Refuse, Reply, SetLenient
from gateway.endpoint import CLOSE_NORMAL, CLOSE_REPLACED
from persistence.errors import PersistenceError, StaleEpoch
from persistence.events import station_event
from persistence.records import RegistrationStatus, StationRecord
from persistence.stations import (
    configuration_learned,
    get_station,
    new_station_record,
    station_seen,
)
from persistence.writer import Fence, FencedWriter
from transport.errors import ErrorCode, wire_code
from transport.messages import Call, CallError, CallResultError, Send
from transport.versions import OcppVersion

log = logging.getLogger(__name__)

Handler = Callable[["ChargePointActor", Call], Awaitable[dict[str, Any]]]
AnswerObserver = Callable[
    ["ChargePointActor", str, dict[str, Any], dict[str, Any]], Awaitable[None]
]
"""(charge point, action, request as sent, response) of a CSMS-initiated call the station answered
with a valid CALLRESULT (``csms.station.features``). Runs in the actor before the operator who sent
the call gets the answer, so what it stores is committed when the operator reads it back. The
request is the one sent, secrets included (the log request observer matches its request by the
secret of the upload URL); what the command log records is redacted
(``csms.pki.passwords.redacted``). An observer must not store or publish a secret of it."""

STORE_ERRORS = (SQLAlchemyError, PersistenceError, OSError)
"""What a failing store raises: the actor's state may be half-updated by it."""

TRIGGER_TIMEOUT = 30.0
"""Seconds the charger has to answer the TriggerMessage asking a reconnected station for status."""
FOLLOW_UP_TIMEOUT = 60.0
"""Seconds the charger has to answer a call a handler sends after its reply (CertificateSigned)."""


# -- what the actor receives besides the charger's frames -----------------------------------------


@dataclass(frozen=True, slots=True)
class RefreshStation:
    """Reload the station's registration (sent after an operator changes it)."""


REFRESH_STATION = RefreshStation()


@dataclass(frozen=True, slots=True)
class Command:
    """An operator's call for the charger. Asked: the answer (None) says it is queued at the
    connection; the call's ``outcome`` then carries the charger's answer."""

    call: OutgoingCall
    """The call; already valid against the station's schemas."""


@dataclass(frozen=True, slots=True)
class ReadConfiguration:
    """Asked: the last known configuration keys (``ConfigurationCache.view()``)."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The socket is gone: finish what is queued before this, then stop. Asked by the gateway."""


@dataclass(frozen=True, slots=True)
class _AskForStatus:
    """The status trigger delay passed since the connection opened."""


# OCPP 1.6 section 4.2.1 / 2.0.1 B02: before it is accepted a station may boot and keep its socket
# alive; everything else waits.
_ALLOWED_BEFORE_ACCEPT = frozenset({"BootNotification", "Heartbeat"})
_MULTIPART = frozenset({"NotifyReport", "NotifyMonitoringReport", "NotifyDisplayMessages"})
# What a TriggerMessage (2.x) or ExtendedTriggerMessage (1.6 security whitepaper) asks for, where the
# requested message is not the action the station then sends (2.0.1 A03, F06; whitepaper 5.x).
_TRIGGERED_ACTION = {
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
    "SignChargePointCertificate": "SignCertificate",
}


class ChargePointActor(Actor):
    """Handles the requests of one connected station with the handler table of its OCPP version."""

    def __init__(
        self,
        services: StationServices,
        station_id: str,
        version: OcppVersion,
        connection: ActorRef,
        handlers: Mapping[str, Handler],
        *,
        station: StationRecord | None = None,
        status_trigger_delay: float | None = None,
        fence: Fence | None = None,
        observers: Mapping[str, tuple[AnswerObserver, ...]] | None = None,
    ) -> None:
        self.fence = fence
        """The lease of this connection: what its actors write is refused once the station has
        connected again (to this member or another)."""
        if fence is not None:
            services = dataclasses.replace(services, writer=FencedWriter(services.writer, fence))
        self.services = services
        self.station_id = station_id
        self.version = version
        self.connection = connection
        """The transport actor of the station's websocket: everything for the charger goes there."""
        self.handlers = handlers
        self.observers = observers or {}
        """Action -> what learns from the station's answer to that call."""
        self.station = station
        """Read at the handshake just now (None: unknown then, or read it again)."""
        self.booted = False
        """Whether the station sent a BootNotification on this connection."""
        self.standing: RegistrationStatus | None = None
        """Accepted, Pending or Rejected: what its latest BootNotification got, or its operator's
        registration (a reconnect is not a reboot; an edit applies at once). None: unknown and
        not booted yet. Until Accepted only BootNotification, Heartbeat (not while Rejected) and
        what the CSMS asked for are served."""
        self.requested: set[str] = set()
        """Actions we asked for with an accepted TriggerMessage: a station that is not accepted yet
        may send them (OCPP 1.6 section 4.2.1)."""
        self.configuration = ConfigurationCache()
        self._trigger_delay = status_trigger_delay
        self._trigger_timer: asyncio.TimerHandle | None = None
        self._follow_ups: list[OutgoingCall] = []

    # -- life ----------------------------------------------------------------------------------

    async def on_start(self) -> None:
        station, self.station = self.station, None
        await self.reload_station(station)
        self.services.status.set_presence(
            self.station_id, connected=True, protocol=self.version.value
        )
        if self._trigger_delay is not None:
            # A timer while waiting (a sleeping task per idle station costs more memory).
            self._trigger_timer = asyncio.get_running_loop().call_later(
                self._trigger_delay, self._tell_self, _AskForStatus()
            )

    async def on_stop(self) -> None:
        if self._trigger_timer is not None:
            self._trigger_timer.cancel()

    @property
    def accepted(self) -> bool:
        """Accepted by BootNotification, or registered as Accepted before this connection."""
        return self.standing is RegistrationStatus.ACCEPTED

    def booted_as(self, status: RegistrationStatus) -> None:
        """The station booted and was answered ``status``; what the CSMS asked for before is void."""
        self.standing = status
        self.booted = True
        self.requested.clear()

    def escalates(self, error: Exception) -> bool:
        return isinstance(error, STORE_ERRORS)

    async def reload_station(self, known: StationRecord | None = None) -> None:
        """Fresh state from the store (on start, on restart by the supervisor, after operator edits)."""
        station = known or await get_station(self.services.reads, self.station_id)
        if station is None:
            register = self.services.unknown_stations is UnknownStationPolicy.ACCEPT
            # A row even for stations that will be refused, so that operators see who knocked.
            await self.services.writer.submit(
                station_seen(self.station_id, protocol=self.version, register=register)
            )
            station = new_station_record(
                self.station_id, protocol=self.version, registered=register
            )
        previous, self.station = self.station, station
        if station.registered:
            # A station accepted before reconnects without booting again (a reconnect is not a
            # reboot); an operator's edit applies at once, but for Pending, see standing_of.
            self.standing = standing_of(station)
        elif not self.booted:
            self.standing = None
        self._to_connection(SetLenient(station.lenient))
        if (
            previous is not None
            and previous.registration is not RegistrationStatus.REJECTED
            and self.standing is RegistrationStatus.REJECTED
        ):
            # Rejected while connected: nothing may be exchanged with it any more (2.0.1 B03), so
            # its socket goes; it learns why from the BootNotification it sends next.
            with contextlib.suppress(ActorError):
                self.connection.tell(Close(CLOSE_NORMAL, "station rejected by its operator"))

    # -- messages ------------------------------------------------------------------------------

    async def on_receive(self, message: Any) -> Any:
        if isinstance(message, Call):
            await self.handle_call(message)
        elif isinstance(message, CallAnswered):
            await self._answered(message)
        elif isinstance(message, Command):
            await self._command(message.call)
        elif isinstance(message, ReadConfiguration):
            return self.configuration.view()
        elif isinstance(message, RefreshStation):
            await self.reload_station()
        elif isinstance(message, _AskForStatus):
            await self._ask_for_status()
        elif isinstance(message, CallResultError):
            await self._refused_answer(message)
        elif isinstance(message, Send):
            # OCPP-J 2.1 SEND frames (periodic event streams) are never answered; kept as sent,
            # from an accepted station only (there is no CALLERROR to refuse one with).
            if not self.accepted:
                log.info("%s: %s before being accepted; dropped", self.station_id, message.action)
                return None
            await self.services.writer.submit(
                station_event(self.station_id, message.action, message.payload)
            )
        elif isinstance(message, Disconnected):
            self.ref.stop_nowait()
        else:
            raise TypeError(f"charge point cannot handle {type(message).__name__}")
        return None

    async def handle_call(self, call: Call) -> None:
        self.services.status.touch(self.station_id, self.services.clock())
        handler = self.handlers.get(call.action)
        if handler is None:
            outcome = self._refuse(call, ErrorCode.NOT_SUPPORTED, f"{call.action} is not handled")
        elif not self._may_send(call.action):
            outcome = self._refuse(
                call,
                ErrorCode.SECURITY_ERROR,
                "station is not accepted: BootNotification first, or ask the operator to register it",
            )
        else:
            try:
                outcome = await self._run(handler, call)
            except StaleEpoch:
                # The station connected again after this socket (here or on another member):
                # nothing of this call was written, and this leftover socket goes.
                self.services.calls[call.action, self._refuse_internal(call)] += 1
                with contextlib.suppress(ActorError):
                    self.connection.tell(Close(CLOSE_REPLACED, "station connected elsewhere"))
                return
            except STORE_ERRORS:
                self.services.calls[call.action, self._refuse_internal(call)] += 1
                raise  # the state is in doubt: the supervisor restarts the actor from the store
        self.services.calls[call.action, outcome] += 1

    def _may_send(self, action: str) -> bool:
        """OCPP 1.6 section 4.2.1, 2.0.1 B02/B03: a station that is not accepted may boot; one
        that is not Rejected may also keep its socket alive and send what the CSMS asked for."""
        if self.accepted or action == "BootNotification":
            return True
        if self.standing is RegistrationStatus.REJECTED:
            return False
        if action in _ALLOWED_BEFORE_ACCEPT:
            return True
        if action in self.requested:
            # A report comes in parts; its handler ends the permission with the last one.
            if action not in _MULTIPART:
                self.requested.discard(action)
            return True
        return False

    async def _run(self, handler: Handler, call: Call) -> str:
        """Run the handler and answer; returns the outcome for the metrics (the code on the wire).
        Store errors propagate (answered by the caller)."""
        try:
            try:
                response = await handler(self, call)
            except BaseException:
                self._drop_follow_ups()
                raise
        except PayloadError as exc:
            return self._refuse(call, exc.code, str(exc))
        except STORE_ERRORS:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            if call.violation is not None:
                # Lenient mode let a broken payload through and it was not usable after all.
                return self._refuse(call, ErrorCode.FORMAT_VIOLATION, f"{call.violation} ({exc!r})")
            log.exception("%s: %s handler failed", self.station_id, call.action)
            return self._refuse_internal(call)
        except Exception:
            log.exception("%s: %s handler failed", self.station_id, call.action)
            return self._refuse_internal(call)
        self._to_connection(Reply(call.unique_id, response))
        await self._send_follow_ups()
        return "result"

    def send_after_reply(self, action: str, payload: dict[str, Any]) -> OutgoingCall:
        """For a handler: a call to the charger that goes out after the handler's reply (OCPP 2.0.1
        A02: CertificateSigned follows the SignCertificateResponse). Queued like any command, so
        the actor never waits for the charger's answer; the answer comes back as ``CallAnswered``
        and is recorded. Dropped if the handler ends in an error."""
        deadline = asyncio.get_running_loop().time() + FOLLOW_UP_TIMEOUT
        call = OutgoingCall(action, payload, deadline)
        call.outcome.add_done_callback(lambda outcome: self._follow_up_done(action, outcome))
        self._follow_ups.append(call)
        return call

    def _drop_follow_ups(self) -> None:
        follow_ups, self._follow_ups = self._follow_ups, []
        for call in follow_ups:
            call.fail(CommandNotSent("not sent: the request it follows was not answered"))

    async def _send_follow_ups(self) -> None:
        follow_ups, self._follow_ups = self._follow_ups, []
        for call in follow_ups:
            try:
                await self._queue(call)
            except CommandError as exc:
                call.fail(exc)

    def _follow_up_done(self, action: str, outcome: asyncio.Future[CommandResult]) -> None:
        if not outcome.cancelled() and outcome.exception() is not None:
            log.warning("%s: %s not carried out: %s", self.station_id, action, outcome.exception())

    def _refuse(self, call: Call, code: ErrorCode, description: str) -> str:
        """Answer with a CALLERROR; returns the outcome for the metrics (the code on the wire)."""
        self._to_connection(Refuse(call.unique_id, code, description))
        return wire_code(code, self.version)

    def _refuse_internal(self, call: Call) -> str:
        return self._refuse(call, ErrorCode.INTERNAL_ERROR, "internal error")

    def _to_connection(self, message: Reply | Refuse | SetLenient) -> None:
        """Hand a frame's content to the transport actor. One that is gone or stuck drops it: the
        charger resends what it did not see answered, and what was answered is committed."""
        try:
            self.connection.tell(message)
        except (MailboxFull, ActorStopped) as exc:
            log.info(
                "%s: connection cannot take %s: %s", self.station_id, type(message).__name__, exc
            )

    def _tell_self(self, message: Any) -> None:
        with contextlib.suppress(MailboxFull, ActorStopped):
            self.ref.tell(message)

    # -- the CSMS's calls ----------------------------------------------------------------------

    async def _command(self, call: OutgoingCall) -> None:
        refused = refusal(self.standing, call.action)
        if refused is not None:
            raise StationNotAccepted(refused)
        await self._queue(call)

    async def _queue(self, call: OutgoingCall) -> None:
        try:
            await self.connection.ask(Queue(call), timeout=None)
        except MailboxFull:
            raise StationBusy(f"connection of {self.station_id!r} is overloaded") from None
        except ActorStopped:
            raise CommandNotSent("connection closed before the command was sent") from None
        # Handed to the connection, which sends it once the call before it is answered.
        self.services.events.publish("command.sent", self.station_id, {"action": call.action})
        call.outcome.add_done_callback(
            lambda outcome: self.services.events.publish(
                "command.answered", self.station_id, command_outcome(call.action, outcome)
            )
        )

    async def _answered(self, message: CallAnswered) -> None:
        """Learn from the charger's answer, record it, then settle the call."""
        call, reply = message.call, message.reply
        if isinstance(reply, CallError):
            call.fail(CommandRejected(reply.error_code, reply.description, reply.details))
            return
        # A station's new password (A01), or the secret of a log request's upload URL (N01), is
        # never kept in what is recorded or shown; observers get the request as sent (the log
        # request observer matches its request by that secret) and keep no copy of it.
        request = redacted(call.action, call.payload)
        if reply.violation is None:
            learned = self.configuration.observe(call.action, request, reply.payload)
            if learned is not None and (learned.keys or learned.complete):
                try:
                    await self.services.writer.submit(
                        *configuration_learned(
                            self.station_id, learned.keys, complete=learned.complete
                        )
                    )
                except Exception:
                    # As with the command log: the station acted, and its answer goes back.
                    log.exception("%s: configuration keys not kept", self.station_id)
            self._allow_requested(call, reply.payload)
            for observer in self.observers.get(call.action, ()):
                try:
                    await observer(self, call.action, call.payload, reply.payload)
                except Exception:
                    # As with the command log: the station acted, and its answer goes back.
                    log.exception("%s: answer to %s not kept", self.station_id, call.action)
        try:
            await self.services.commands.answered(
                self.station_id, call.action, request, reply.payload
            )
        except Exception:
            # The station has acted on the command: its answer goes back to the caller even
            # when the record of it cannot be written.
            log.exception("%s: answer to %s not recorded", self.station_id, call.action)
        call.succeed(CommandResult(reply.action, reply.payload, reply.violation))

    def _allow_requested(self, call: OutgoingCall, response: dict[str, Any]) -> None:
        """A station that is not accepted yet may send what we asked for (OCPP 1.6 section 4.2.1;
        2.0.1 use case B02: a Pending station may send the NotifyReport of a GetBaseReport)."""
        if response.get("status") != "Accepted":
            return
        if call.action in ("TriggerMessage", "ExtendedTriggerMessage"):
            requested = call.payload["requestedMessage"]
            self.requested.add(_TRIGGERED_ACTION.get(requested, requested))
        elif call.action in ("GetBaseReport", "GetReport"):
            self.requested.add("NotifyReport")
        elif call.action == "GetMonitoringReport":
            self.requested.add("NotifyMonitoringReport")
        elif call.action == "GetDisplayMessages":
            self.requested.add("NotifyDisplayMessages")

    async def _ask_for_status(self) -> None:
        """A station that reconnects without rebooting (after our restart, or a network cut) sends
        no StatusNotification of its own, so the status we hold may be stale: ask for it. One that
        booted within the trigger delay reported its status anyway."""
        self._trigger_timer = None
        if self.booted or not self.accepted:
            return
        deadline = asyncio.get_running_loop().time() + TRIGGER_TIMEOUT
        call = OutgoingCall("TriggerMessage", {"requestedMessage": "StatusNotification"}, deadline)
        call.outcome.add_done_callback(self._status_trigger_done)
        try:
            await self._queue(call)
        except CommandError as exc:
            call.fail(exc)

    def _status_trigger_done(self, outcome: asyncio.Future[CommandResult]) -> None:
        if not outcome.cancelled() and outcome.exception() is not None:
            log.info(
                "%s: TriggerMessage StatusNotification not carried out: %s",
                self.station_id,
                outcome.exception(),
            )

    async def _refused_answer(self, message: CallResultError) -> None:
        """OCPP-J 2.1: the charger could not use one of our answers. Our bug or theirs; either way
        the operator must be able to see it."""
        log.warning(
            "%s: our answer to %s %s was refused: %s %s",
            self.station_id,
            message.action,
            message.unique_id,
            message.error_code,
            message.description,
        )
        await self.services.writer.submit(
            station_event(
                self.station_id,
                "CallResultError",
                {
                    "messageId": message.unique_id,
                    "action": message.action,
                    "errorCode": message.error_code,
                    "errorDescription": message.description,
                    "errorDetails": message.details,
                },
            )
        )


def command_outcome(action: str, outcome: asyncio.Future[CommandResult]) -> dict[str, Any]:
    """The data of a ``command.answered`` event: ``outcome`` is "result" (with the answer's
    ``status`` when it has one), "error" (a CALLERROR, with its ``code``), "timeout", "not_sent"
    or "cancelled"."""
    if outcome.cancelled():
        return {"action": action, "outcome": "cancelled"}
    error = outcome.exception()
    if error is None:
        status = outcome.result().payload.get("status")
        if isinstance(status, str):
            return {"action": action, "outcome": "result", "status": status}
        return {"action": action, "outcome": "result"}
    if isinstance(error, CommandRejected):
        return {"action": action, "outcome": "error", "code": error.code}
    if isinstance(error, CommandTimeout):
        return {"action": action, "outcome": "timeout"}
    if isinstance(error, StationNotConnected):
        return {"action": action, "outcome": "not_sent"}
    return {"action": action, "outcome": type(error).__name__}
