"""One actor per connected charge point: its boot state, and its requests handled one at a time.

The charger's CALLs arrive in the mailbox in order; each is answered (CALLRESULT or CALLERROR) before the
next is taken, which is what OCPP-J expects of a charger with one call in flight. A handler that raises gets
its message an InternalError and the actor goes on: one broken message never takes the station down.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from actors.actor import Actor
from actors.context import CsmsContext, UnknownStationPolicy
from actors.link import StationLink
from actors.timestamps import parse_timestamp
from persistence import repositories as repo
from persistence.records import MeterSample, StationRecord
from transport.errors import ErrorCode, SchemaViolation, wire_code
from transport.messages import Call, CallResultError, Send

log = logging.getLogger(__name__)


class PayloadError(ValueError):
    """A payload the schema let through (or lenient mode let pass) that the handler cannot use."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.FORMAT_VIOLATION) -> None:
        super().__init__(message)
        self.code = code


def payload_time(payload: dict[str, Any], key: str) -> datetime:
    """A timestamp field of a payload, as a handler needs it; a PayloadError if unreadable."""
    try:
        return parse_timestamp(payload[key])
    except (TypeError, ValueError):
        raise PayloadError(
            f"{key} is not an RFC 3339 date-time", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
        ) from None


def payload_samples(
    parse: Callable[[list[dict[str, Any]]], list[MeterSample]], meter_value: list[dict[str, Any]]
) -> list[MeterSample]:
    """The meter values of a payload, read by the version's ``parse``; a PayloadError if unusable."""
    try:
        return parse(meter_value)
    except ValueError as exc:
        raise PayloadError(f"meterValue: {exc}", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION) from None


Handler = Callable[["ChargePointActor", Call], Awaitable[dict[str, Any]]]


class RefreshStation:
    """Reload the station's registration (sent after an operator changes it)."""


REFRESH_STATION = RefreshStation()

# Before it is accepted a station may boot and keep its socket alive; everything else waits.
# OCPP 1.6 section 4.2.1 / 2.0.1 B02: no other message while Pending or Rejected.
_ALLOWED_BEFORE_ACCEPT = frozenset({"BootNotification", "Heartbeat"})
_MULTIPART = frozenset({"NotifyReport"})


class ChargePointActor(Actor):
    """Handles the requests of one connected station with the handler table of its OCPP version."""

    def __init__(
        self,
        context: CsmsContext,
        link: StationLink,
        handlers: Mapping[str, Handler],
        station: StationRecord | None = None,
    ) -> None:
        self.context = context
        self.link = link
        self.handlers = handlers
        self.station = station
        """Read at the handshake just now (None: unknown then, or read it again)."""

    @property
    def station_id(self) -> str:
        return self.link.station_id

    async def on_start(self) -> None:
        await self.reload_station(self.station)

    async def reload_station(self, known: StationRecord | None = None) -> None:
        """Fresh state from the store (on start, on restart by the supervisor, after operator edits)."""
        station = known or await repo.get_station(self.context.reads, self.station_id)
        if station is None:
            register = self.context.unknown_stations is UnknownStationPolicy.ACCEPT
            # A row even for stations that will be refused, so that operators see who knocked.
            await self.context.writer.submit(
                repo.station_seen(self.station_id, protocol=self.link.version, register=register)
            )
            station = repo.new_station_record(
                self.station_id, protocol=self.link.version, registered=register
            )
        self.station = station
        # A station accepted before reconnects without booting again (a reconnect is not a reboot).
        self.link.accepted = station.registered and station.allowed
        self.link.codec.set_lenient(station.lenient)

    async def on_receive(self, message: Any) -> None:
        if isinstance(message, Call):
            await self.handle_call(message)
        elif message is REFRESH_STATION:
            await self.reload_station()
        elif isinstance(message, CallResultError):
            # OCPP-J 2.1: the charger could not use one of our answers. Our bug or theirs; either
            # way the operator must be able to see it.
            log.warning(
                "%s: our answer to %s %s was refused: %s %s",
                self.station_id,
                message.action,
                message.unique_id,
                message.error_code,
                message.description,
            )
            await self.context.writer.submit(
                repo.station_event(
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
        elif isinstance(message, Send):
            # OCPP-J 2.1 SEND frames (periodic event streams) are never answered; kept as sent,
            # from an accepted station only (there is no CALLERROR to refuse one with).
            if not self.link.accepted:
                log.info("%s: %s before being accepted; dropped", self.station_id, message.action)
                return
            await self.context.writer.submit(
                repo.station_event(self.station_id, message.action, message.payload)
            )
        else:
            raise TypeError(f"charge point cannot handle {type(message).__name__}")

    async def handle_call(self, call: Call) -> None:
        self.context.status.touch(self.station_id, self.context.clock())
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
            outcome = await self._run(handler, call)
        self.context.calls[call.action, outcome] += 1
        await self.link.flush()

    def _may_send(self, action: str) -> bool:
        if self.link.accepted or action in _ALLOWED_BEFORE_ACCEPT:
            return True
        if action in self.link.requested:
            # A report comes in parts; its handler ends the permission with the last one.
            if action not in _MULTIPART:
                self.link.requested.discard(action)
            return True
        return False

    def _refuse(self, call: Call, code: ErrorCode, description: str) -> str:
        """Answer with a CALLERROR; returns the outcome for the metrics (the code on the wire)."""
        self.link.codec.send_error(call.unique_id, code, description)
        return wire_code(code, self.link.version)

    async def _run(self, handler: Handler, call: Call) -> str:
        try:
            response = await handler(self, call)
        except PayloadError as exc:
            return self._refuse(call, exc.code, str(exc))
        except (KeyError, TypeError, ValueError) as exc:
            if call.violation is not None:
                # Lenient mode let a broken payload through and it was not usable after all.
                return self._refuse(call, ErrorCode.FORMAT_VIOLATION, f"{call.violation} ({exc!r})")
            log.exception("%s: %s handler failed", self.station_id, call.action)
            return self._refuse(call, ErrorCode.INTERNAL_ERROR, "internal error")
        except Exception:
            log.exception("%s: %s handler failed", self.station_id, call.action)
            return self._refuse(call, ErrorCode.INTERNAL_ERROR, "internal error")
        try:
            self.link.codec.send_result(call.unique_id, response)
        except SchemaViolation as exc:
            log.error(
                "%s: our %s response breaks the schema: %s", self.station_id, call.action, exc
            )
            return self._refuse(call, ErrorCode.INTERNAL_ERROR, "internal error")
        return "result"
