"""The transport actor of one websocket: the only writer of its codec and its socket.

After the model of python-websockets (one protocol object, written by one task, which sends what the
protocol queues): the socket's reader hands every frame to this actor's mailbox; the station's actor
hands it the answers to the charger's calls; CSMS-initiated calls queue here, one in flight at a time
(OCPP-J 1.6 section 4.1.1), their answers going back to the station's actor. Nothing else touches the
codec or writes to the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from actors import Actor, ActorRef, ActorStopped, MailboxFull
from gateway.calls import (
    AnswerLost,
    CallAnswered,
    CommandNotSent,
    CommandRejected,
    CommandResult,
    CommandTimeout,
    OutgoingCall,
    StationBusy,
)
from transport.codec import OcppCodec
from transport.errors import ErrorCode, LocalProtocolError, SchemaViolation
from transport.messages import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Event,
    ProtocolViolation,
    Send,
    Unmatched,
)

log = logging.getLogger(__name__)


# -- what the actor receives ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """A text frame the reader took off the socket."""

    text: str
    """As received (a binary frame arrives decoded as UTF-8, so that it gets the same answer)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer the charger's call ``unique_id`` with a CALLRESULT."""

    unique_id: str
    """The call's message id."""
    payload: dict[str, Any]
    """The response payload; one that breaks the schema is answered InternalError instead."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """Answer the charger's call ``unique_id`` with a CALLERROR."""

    unique_id: str
    """The call's message id."""
    code: ErrorCode
    """Spelled for the connection's version on the wire."""
    description: str
    """Human-readable reason."""


@dataclass(frozen=True, slots=True)
class Queue:
    """Send a CSMS-initiated call once no other is in flight. Asked, not told: the answer (None)
    says it is queued; `StationBusy` that the queue is full."""

    call: OutgoingCall
    """Its outcome is settled by the connection (not sent, timed out, disconnected) or by the
    station's actor (answered)."""


@dataclass(frozen=True, slots=True)
class Bind:
    """The station's actor: where the charger's calls and the answers to ours go."""

    station: ActorRef
    """Told `Call`, `Send`, `CallResultError` events and `CallAnswered`."""


@dataclass(frozen=True, slots=True)
class SetLenient:
    """Let payloads that break their schema through, flagged (a per-station setting)."""

    lenient: bool


@dataclass(frozen=True, slots=True)
class Close:
    """Close the socket (1000: replaced by a newer connection, 1012: service restart, 1011: the
    station's actors gave up). Pending calls fail at once; the actor does not wait for the peer's
    Close (the socket's reader does: ``gateway.endpoint.ReaderClosedWebSocket``)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """The socket is gone (asked by the reader when its loop ends): settle every call, then stop."""


@dataclass(frozen=True, slots=True)
class QueuedCalls:
    """Asked: how many calls wait behind the one in flight."""


@dataclass(frozen=True, slots=True)
class _Expired:
    """The deadline of the call in flight ``unique_id`` passed."""

    unique_id: str


# -- the actor ------------------------------------------------------------------------------------


class ConnectionActor(Actor):
    """Owns one websocket and its `OcppCodec`."""

    def __init__(
        self,
        station_id: str,
        codec: OcppCodec,
        socket: web.WebSocketResponse,
        *,
        max_queued_calls: int = 100,
        on_protocol_violation: Callable[[str], None] | None = None,
    ) -> None:
        self.station_id = station_id
        self.codec = codec
        self.socket = socket
        self.max_queued_calls = max_queued_calls
        self.on_protocol_violation = on_protocol_violation
        self.station: ActorRef | None = None
        """The station's actor, once bound: the charger's calls and our calls' answers go there."""
        self.queued: list[OutgoingCall] = []
        """CSMS-initiated calls waiting for the one in flight to end, oldest first. A list, not a
        deque: it is nearly always empty, and an empty deque costs 760 bytes per station."""
        self.in_flight: tuple[str, OutgoingCall] | None = None
        """(message id, call) of the one CSMS-initiated call awaiting the charger's answer."""
        self.expiry: asyncio.TimerHandle | None = None
        """Fires at the in-flight call's deadline."""
        self.closed = False
        """No more frames are written: the socket is closing or gone."""
        self.closing: asyncio.Task[bool] | None = None
        """The close this actor started, awaited when it stops."""

    async def on_receive(self, message: Any) -> Any:
        # The charger's frames and our answers first: they are nearly every message.
        if isinstance(message, Frame):
            self.codec.receive_text(message.text)
            for event in self.codec.events():
                self._dispatch(event)
        elif isinstance(message, Reply):
            self._reply(message)
        elif isinstance(message, Refuse):
            self._send_error(message.unique_id, message.code, message.description)
        elif isinstance(message, Queue):
            if len(self.queued) >= self.max_queued_calls:
                raise StationBusy(f"too many commands queued for {self.station_id!r}")
            self.queued.append(message.call)
        elif isinstance(message, _Expired):
            self._expire(message.unique_id)
        elif isinstance(message, Bind):
            self.station = message.station
        elif isinstance(message, SetLenient):
            self.codec.set_lenient(message.lenient)
        elif isinstance(message, Close):
            self._close(message.code, message.reason)
        elif isinstance(message, QueuedCalls):
            return len(self.queued)
        elif isinstance(message, Hangup):
            self._hang_up()
            return None
        else:
            raise TypeError(f"connection cannot handle {type(message).__name__}")
        if self.queued and self.in_flight is None:
            self._send_next_call()
        await self._flush()
        return None

    async def on_stop(self) -> None:
        self._hang_up()
        if self.closing is not None:
            await asyncio.wait((self.closing,))

    # -- incoming ----------------------------------------------------------------------------------

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Call | Send | CallResultError):
            self._to_station(event)
        elif isinstance(event, CallResult | CallError):
            self._answered(event)
        elif isinstance(event, Unmatched):
            log.info(
                "%s: %s %s matches no call; dropped",
                self.station_id,
                event.message_type.name,
                event.unique_id,
            )
        elif isinstance(event, ProtocolViolation):
            log.info("%s: %s: %s", self.station_id, event.error_code, event.description)
            if self.on_protocol_violation is not None:
                self.on_protocol_violation(event.error_code)

    def _to_station(self, event: Call | Send | CallResultError) -> None:
        try:
            if self.station is None:
                raise ActorStopped("no station actor")
            self.station.tell(event)
        except (MailboxFull, ActorStopped):
            # A charger flooding us, or one whose actor gave up: refuse this one call.
            if isinstance(event, Call):
                self._send_error(event.unique_id, ErrorCode.GENERIC_ERROR, "busy, retry later")

    def _answered(self, reply: CallResult | CallError) -> None:
        if self.in_flight is None or self.in_flight[0] != reply.unique_id:
            log.info("%s: late answer %s dropped", self.station_id, reply.unique_id)
            return
        call = self.in_flight[1]
        self._end_flight()
        try:
            if self.station is None:
                raise ActorStopped("no station actor")
            self.station.tell(CallAnswered(call, reply))
        except (MailboxFull, ActorStopped):
            # The station's actor cannot record it; the caller still learns what the charger said.
            if isinstance(reply, CallResult):
                call.succeed(CommandResult(reply.action, reply.payload, reply.violation))
            else:
                call.fail(CommandRejected(reply.error_code, reply.description, reply.details))

    # -- outgoing ----------------------------------------------------------------------------------

    def _reply(self, message: Reply) -> None:
        try:
            self.codec.send_result(message.unique_id, message.payload)
        except SchemaViolation as exc:
            log.error("%s: our response breaks the schema: %s", self.station_id, exc)
            self._send_error(message.unique_id, ErrorCode.INTERNAL_ERROR, "internal error")
        except LocalProtocolError as exc:
            log.error("%s: %s", self.station_id, exc)

    def _send_error(self, unique_id: str, code: ErrorCode, description: str) -> None:
        try:
            self.codec.send_error(unique_id, code, description)
        except LocalProtocolError as exc:
            log.error("%s: %s", self.station_id, exc)

    def _send_next_call(self) -> None:
        """Send the oldest queued call that is still wanted, if none is in flight."""
        if self.in_flight is not None or self.closed:
            return
        loop = asyncio.get_running_loop()
        while self.queued:
            call = self.queued.pop(0)
            if call.settled:
                continue  # its asker gave up
            if loop.time() >= call.deadline:
                call.fail(CommandTimeout(f"{call.action} waited too long behind earlier commands"))
                continue
            unique_id = self.codec.send_call(call.action, call.payload)
            self.in_flight = (unique_id, call)
            self.expiry = loop.call_at(call.deadline, self._deadline_passed, unique_id)
            return

    def _deadline_passed(self, unique_id: str) -> None:
        # A full mailbox or a stopping actor: the call is settled on the way out.
        with contextlib.suppress(MailboxFull, ActorStopped):
            self.ref.tell(_Expired(unique_id))

    def _expire(self, unique_id: str) -> None:
        if self.in_flight is None or self.in_flight[0] != unique_id:
            return
        call = self.in_flight[1]
        # A late answer then matches nothing and is dropped (Unmatched); the next call may go.
        self.codec.cancel_call(unique_id)
        self._end_flight()
        call.fail(CommandTimeout(f"no answer to {call.action} in time"))

    def _end_flight(self) -> None:
        self.in_flight = None
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None

    async def _flush(self) -> None:
        """Write what the codec queued. A socket that went away drops the frames: what they
        answered is committed already, and the charger resends what it did not see answered."""
        for frame in self.codec.to_send():
            if self.closed:
                return
            try:
                await self.socket.send_str(frame)
            except ConnectionError:
                self.closed = True
                return

    # -- the end -----------------------------------------------------------------------------------

    def _close(self, code: int, reason: str) -> None:
        if self.closing is not None:
            return
        self._settle_calls()
        self.closed = True
        # Not awaited: a zombie socket never answers the close; the reader's loop ends either way.
        self.closing = asyncio.create_task(
            self.socket.close(code=code, message=reason.encode()), name=f"close {self.station_id}"
        )

    def _hang_up(self) -> None:
        self.closed = True
        self._settle_calls()
        self.ref.stop_nowait()

    def _settle_calls(self) -> None:
        if self.in_flight is not None:
            call = self.in_flight[1]
            self._end_flight()
            call.fail(AnswerLost(f"station {self.station_id!r} disconnected before answering"))
        while self.queued:
            # Never sent: the router may send it on the station's new connection.
            self.queued.pop(0).fail(CommandNotSent("connection closed before the command was sent"))
