"""A simulated station's websocket, spoken through the charger's end of the OCPP-J codec: its CALLs
out (one in flight), the CSMS's answers matched and checked against the official schemas, and the
CSMS's own CALLs handed to the station's mailbox and answered through the codec."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from sim.fleet.tally import FleetTally
from transport.codec import UNREADABLE_ID, OcppCodec
from transport.errors import ErrorCode, LocalProtocolError, SchemaViolation
from transport.messages import (
    Call,
    CallError,
    CallResult,
    Event,
    MessageType,
    ProtocolViolation,
    Unmatched,
)
from transport.versions import OcppVersion, Role

Payload = dict[str, Any]

# What a websocket write raises once the connection is gone.
_SEND_FAILURES = (ConnectionError, aiohttp.ClientError, RuntimeError)


class CallFailed(Exception):
    """The CSMS answered with a CALLERROR, did not answer in time, or the connection went."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


def _expire(answer: asyncio.Future[Any]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())


class Link:
    """One open websocket of one station. ``start()`` the reader, ``close()`` when done.

    The station calls one thing at a time (``call``, ``answer``, ``send_raw``); the reader feeds
    every frame to the codec and writes what the codec answers on its own (a CALLERROR to a broken
    frame of the CSMS, the earlier answer to a resent CALL). ``validate=False`` leaves the CSMS's
    payloads unchecked against the schemas, for a client that must spend little CPU.
    """

    def __init__(
        self,
        station_id: str,
        version: str,
        ws: aiohttp.ClientWebSocketResponse,
        tally: FleetTally,
        on_call: Callable[[str, str, Payload], None],
        *,
        timeout: float,
        on_closed: Callable[[Link], None] | None = None,
        validate: bool = True,
    ) -> None:
        self.station_id = station_id
        self.version = version
        self.ws = ws
        self._tally = tally
        self._on_call = on_call
        self._timeout = timeout
        ids = itertools.count(1)
        prefix = station_id[-6:]
        self._codec = OcppCodec(
            OcppVersion(version),
            role=Role.CHARGER,
            validate=validate,
            id_factory=lambda: f"{prefix}-{next(ids)}",
        )
        self._answer: asyncio.Future[CallResult | CallError] | None = None
        self._resent: set[str] = set()
        self._on_closed = on_closed
        self._reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name=f"link {self.station_id}")

    async def call(
        self, action: str, payload: Payload, *, resend: bool = False, expect_error: bool = False
    ) -> Payload:
        """Send a CALL and return the CALLRESULT's payload (checked against the response schema);
        raises ``CallFailed``. ``resend`` sends the same frame twice, as a charger that missed the
        answer does; ``expect_error`` is for payloads broken on purpose: a CALLERROR is then the
        right answer."""
        try:
            # Unchecked: the dialect's payloads are checked against the schemas by its tests, and
            # the broken ones are broken on purpose; checking each send again only costs CPU that
            # a simulator under load needs for its stations.
            unique_id = self._codec.send_call_unchecked(action, payload)
        except LocalProtocolError as exc:
            # A second call in flight, or a payload that is no JSON: a bug of the station's.
            self._tally.error(
                "invalid_call", station_id=self.station_id, action=action, detail=exc.message
            )
            raise CallFailed("invalid_call", exc.message) from None
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[CallResult | CallError] = loop.create_future()
        self._answer = answer
        expiry: asyncio.TimerHandle | None = None
        started = time.monotonic()
        try:
            frames = self._codec.to_send()
            for text in frames:
                await self.ws.send_str(text)
            if resend:
                # The codec queued the CALL last; the copy carries the same message id.
                self._resent.add(unique_id)
                await self.ws.send_str(frames[-1])
            # A timer that fails the answer, rather than wait_for and shield: the same deadline
            # without their extra futures and callbacks on every CALL, which a client that
            # shares the server's cores (sim.costs) notices.
            expiry = loop.call_later(self._timeout, _expire, answer)
            reply = await answer
        except TimeoutError:
            self._tally.error("timeout", station_id=self.station_id, action=action)
            raise CallFailed("timeout") from None
        except _SEND_FAILURES as exc:
            raise CallFailed("disconnect", str(exc)) from None
        finally:
            if expiry is not None:
                expiry.cancel()
            # A late answer is then Unmatched, and the next call may go.
            self._codec.cancel_call(unique_id)
            if self._answer is answer:
                self._answer = None
        latency_ms = (time.monotonic() - started) * 1000.0
        self._tally.answered(action, latency_ms)
        if isinstance(reply, CallError):
            if not expect_error:
                self._tally.error(
                    reply.error_code,
                    station_id=self.station_id,
                    action=action,
                    detail=reply.description,
                )
            raise CallFailed(reply.error_code, reply.description)
        if expect_error:
            self._tally.error(
                "accepted_invalid",
                station_id=self.station_id,
                action=action,
                detail="a payload that breaks the schema was answered with a CALLRESULT",
            )
        if reply.violation is not None:
            self._tally.error(
                "schema", station_id=self.station_id, action=action, detail=reply.violation
            )
        return reply.payload

    async def send_raw(self, text: str) -> None:
        """A frame as is, past the codec (malformed ones, on purpose)."""
        await self.ws.send_str(text)

    async def answer(self, unique_id: str, payload: Payload) -> None:
        """Answer the CSMS's CALL ``unique_id`` with a CALLRESULT. An answer that breaks the
        response schema (the station's bug) goes out as an InternalError instead, and is counted;
        a call this link never received (it came on an earlier connection) gets no answer."""
        try:
            self._codec.send_result(unique_id, payload)
        except SchemaViolation as exc:
            self._tally.error(
                "invalid_answer", station_id=self.station_id, action="answer", detail=exc.message
            )
            self._codec.send_error(unique_id, ErrorCode.INTERNAL_ERROR, exc.message)
        except LocalProtocolError:
            return
        await self._flush()

    async def answer_error(self, unique_id: str, code: str, description: str) -> None:
        """Answer the CSMS's CALL ``unique_id`` with a CALLERROR; ``code`` is an ``ErrorCode``
        value, spelled on the wire as this version wants."""
        try:
            self._codec.send_error(unique_id, ErrorCode(code), description)
        except LocalProtocolError:
            return
        await self._flush()

    async def close(self) -> None:
        with contextlib.suppress(*_SEND_FAILURES):
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_pending()

    def _fail_pending(self) -> None:
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_exception(ConnectionError("connection closed"))

    async def _flush(self) -> None:
        """Write what the codec queued; a connection already gone is the reader's to report."""
        frames = self._codec.to_send()
        if not frames:
            return  # most frames are answers, which need no reply
        with contextlib.suppress(*_SEND_FAILURES):
            for text in frames:
                await self.ws.send_str(text)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                self._codec.receive_text(message.data)
                for event in self._codec.events():
                    self._dispatch(event)
                await self._flush()
        finally:
            self._fail_pending()
            if self._on_closed is not None:
                self._on_closed(self)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Call):
            self._tally.csms_calls[event.action] += 1
            self._on_call(event.unique_id, event.action, event.payload)
        elif isinstance(event, CallResult | CallError):
            if self._answer is not None and not self._answer.done():
                self._answer.set_result(event)
        elif isinstance(event, Unmatched):
            self._unmatched(event)
        elif isinstance(event, ProtocolViolation):
            # The CSMS broke OCPP-J; the codec has answered a CALL that deserved it.
            self._tally.error(
                "bad_frame",
                station_id=self.station_id,
                action="?",
                detail=f"{event.error_code}: {event.description}",
            )
        # A Duplicate (the CSMS resent a CALL) the codec has answered again; OCPP-J 2.1's
        # CALLRESULTERROR and SEND do not come from a CSMS to a charger.

    def _unmatched(self, event: Unmatched) -> None:
        if event.unique_id in self._resent:
            # The answer to the copy of a resent call: expected, once.
            self._resent.discard(event.unique_id)
        elif event.message_type is MessageType.CALLERROR and event.unique_id == UNREADABLE_ID:
            # The CALLERROR to a frame whose id could not be read (a malformed frame of ours).
            self._tally.faults["malformed_answered"] += 1
        else:
            self._tally.errors_by_kind["unmatched_answer"] += 1
