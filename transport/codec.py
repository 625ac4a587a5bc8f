"""The sans-I/O OCPP-J codec: text frames in, events and reply frames out.

It does no I/O and keeps no clock: the websocket adapter feeds it every text frame with
``receive_text()``, then writes every frame of ``to_send()`` and dispatches every event of
``events()``. Timeouts belong to the caller (``cancel_call``).
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from transport.errors import (
    CallInFlight,
    ErrorCode,
    LocalProtocolError,
    SchemaViolation,
    UnknownAction,
    wire_code,
)
from transport.frames import encode_call, encode_error, encode_result, encode_send
from transport.messages import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Duplicate,
    Event,
    MessageType,
    ProtocolViolation,
    Send,
    Unmatched,
)
from transport.schemas import known_in_any_version, schemas_for
from transport.versions import OcppVersion, Role

log = logging.getLogger(__name__)

# OCPP-J 2.0.1 section 4.2.3: the message id of a CALLERROR to a frame whose id cannot be read.
UNREADABLE_ID = "-1"

_CALL = MessageType.CALL.value
_CALLRESULT = MessageType.CALLRESULT.value
_CALLERROR = MessageType.CALLERROR.value
_CALLRESULTERROR = MessageType.CALLRESULTERROR.value
_SEND = MessageType.SEND.value


def _uuid4() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class _Answer:
    """A reply we sent, kept to answer a resent CALL with the very same frame."""

    text: str
    """The CALL frame exactly as received."""
    reply: str
    """The frame we answered it with."""
    action: str
    """The action of the CALL (names the call in a later CALLRESULTERROR)."""


class OcppCodec:
    """One OCPP-J connection, either end, as a state machine over text frames.

    ``receive_text`` never raises: whatever the peer sends becomes events, plus a CALLERROR in
    ``to_send()`` when the frame deserves one. The ``send_*`` methods raise ``LocalProtocolError``
    subclasses for our own mistakes.
    """

    def __init__(
        self,
        version: OcppVersion,
        *,
        validate: bool = True,
        lenient: bool = False,
        id_factory: Callable[[], str] = _uuid4,
        duplicate_cache_size: int = 32,
        role: Role = Role.CSMS,
    ) -> None:
        self._version = version
        self._role = role
        self._schemas = schemas_for(version)
        self._validate = validate
        self._lenient = lenient
        self._new_id = id_factory
        self._cache_size = max(0, duplicate_cache_size)
        # OCPP-J 2.1 added message types 5 and 6; to older versions they are unknown types.
        self._types = frozenset(MessageType) if version is OcppVersion.V21 else frozenset({2, 3, 4})
        self._incoming_calls = self._schemas.initiated_by(role.peer)
        self._outgoing_calls = self._schemas.initiated_by(role)
        # SEND frames go from charging station to CSMS only (OCPP-J 2.1, message type SEND).
        unconfirmed = self._schemas.unconfirmed
        self._incoming_sends = unconfirmed if role is Role.CSMS else frozenset[str]()
        self._outgoing_sends = unconfirmed if role is Role.CHARGER else frozenset[str]()
        # Frames that are no valid RPC at all: 2.x has a code for that, 1.6 calls it a formation
        # violation (OCPP-J 1.6 section 4.2.3, OCPP-J 2.0.1 section 4.3).
        self._rpc_error = (
            ErrorCode.RPC_FRAMEWORK_ERROR if version.is_2x else ErrorCode.FORMAT_VIOLATION
        )
        self._pending: tuple[str, str] | None = None
        self._handling: dict[str, tuple[str, str]] = {}
        self._answered: OrderedDict[str, _Answer] = OrderedDict()
        self._events: list[Event] = []
        self._out: list[str] = []

    # -- state ---------------------------------------------------------------------------------

    @property
    def version(self) -> OcppVersion:
        """The negotiated OCPP version."""
        return self._version

    @property
    def role(self) -> Role:
        """The end of the connection this codec speaks for."""
        return self._role

    @property
    def pending_call(self) -> str | None:
        """Message id of our call in flight, or None."""
        return None if self._pending is None else self._pending[0]

    @property
    def lenient(self) -> bool:
        """Whether incoming payloads that break their schema are let through (flagged)."""
        return self._lenient

    def set_lenient(self, flag: bool) -> None:
        """Let payloads that break their schema through, flagged with ``violation``, instead of
        answering them with a CALLERROR (for chargers known to send slightly wrong payloads)."""
        self._lenient = flag

    # -- output --------------------------------------------------------------------------------

    def events(self) -> list[Event]:
        """The events since the last call, oldest first (drains)."""
        events, self._events = self._events, []
        return events

    def to_send(self) -> list[str]:
        """The frames to write to the socket since the last call, in order (drains)."""
        out, self._out = self._out, []
        return out

    # -- receiving -----------------------------------------------------------------------------

    def receive_text(self, text: str) -> None:
        """Parse one websocket text frame. You must then call ``events()`` and ``to_send()``.

        Never raises, whatever ``text`` holds.
        """
        try:
            self._receive(text)
        except Exception:
            # Only a bug of ours gets here; the peer still deserves an answer to its CALL.
            log.exception("OCPP-J codec failed on a frame")
            self._answer_internal_error(text)

    def _receive(self, text: str) -> None:
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError:
            self._reject(UNREADABLE_ID, self._rpc_error, "frame is not valid JSON")
            return
        if type(frame) is not list:
            self._reject(UNREADABLE_ID, self._rpc_error, "frame is not a JSON array")
            return
        if not frame:
            self._reject(UNREADABLE_ID, self._rpc_error, "frame is an empty array")
            return
        message_type = frame[0]
        unique_id = frame[1] if len(frame) > 1 and type(frame[1]) is str else None
        if type(message_type) is not int or message_type not in self._types:
            self._reject(
                UNREADABLE_ID if unique_id is None else unique_id,
                ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
                f"message type {message_type!r} is not supported in {self._version.value}",
            )
        elif message_type == _CALL:
            self._receive_call(frame, unique_id, text)
        elif unique_id is None:
            # Replies are never replied to (OCPP-J 1.6 section 4.1.1), nor SEND frames, even broken ones.
            self._note(UNREADABLE_ID, self._rpc_error, "message id is missing or not a string")
        elif message_type == _CALLRESULT:
            self._receive_result(frame, unique_id)
        elif message_type == _CALLERROR:
            self._receive_error(frame, unique_id)
        elif message_type == _CALLRESULTERROR:
            self._receive_result_error(frame, unique_id)
        else:
            self._receive_send(frame, unique_id)

    def _receive_call(self, frame: list[Any], unique_id: str | None, text: str) -> None:
        if unique_id is None:
            self._reject(UNREADABLE_ID, self._rpc_error, "message id is missing or not a string")
            return
        if len(frame) < 4:
            self._reject(unique_id, self._rpc_error, "CALL must be [2, messageId, action, payload]")
            return
        if len(frame) > 4:
            self._reject(
                unique_id,
                ErrorCode.FORMAT_VIOLATION,
                f"CALL has {len(frame)} elements, must be [2, messageId, action, payload]",
            )
            return
        action = frame[2]
        if type(action) is not str:
            self._reject(unique_id, ErrorCode.FORMAT_VIOLATION, "action must be a string")
            return
        if unique_id in self._handling:
            # The first copy is still with its handler; its answer will do for both.
            self._events.append(Duplicate(unique_id))
            return
        answered = self._answered.get(unique_id)
        if answered is not None and answered.text == text:
            # A charger resends a CALL it got no answer to (the answer may have been lost with the
            # connection); the same reply again is idempotent, running the handler again is not.
            self._out.append(answered.reply)
            self._events.append(Duplicate(unique_id))
            return
        if action not in self._incoming_calls:
            self._reject_action(unique_id, action)
            return
        payload = frame[3]
        if type(payload) is not dict:
            self._reject(unique_id, ErrorCode.FORMAT_VIOLATION, "payload must be a JSON object")
            return
        violation = None
        if self._validate:
            try:
                self._schemas.validate_request(action, payload)
            except SchemaViolation as exc:
                if not self._lenient:
                    self._reject(unique_id, exc.code, exc.message)
                    return
                violation = exc.message
        self._handling[unique_id] = (action, text)
        self._events.append(Call(unique_id, action, payload, violation))

    def _receive_result(self, frame: list[Any], unique_id: str) -> None:
        action = self._take_pending(unique_id, MessageType.CALLRESULT)
        if action is None:
            return
        payload = frame[2] if len(frame) > 2 and type(frame[2]) is dict else None
        violation = None
        if len(frame) != 3 or payload is None:
            violation = "CALLRESULT must be [3, messageId, payload object]"
        elif self._validate:
            try:
                self._schemas.validate_response(action, payload)
            except LocalProtocolError as exc:
                # SchemaViolation, or UnknownAction for an unchecked call of an unknown action.
                violation = exc.message
        self._events.append(CallResult(unique_id, action, payload or {}, violation))

    def _receive_error(self, frame: list[Any], unique_id: str) -> None:
        action = self._take_pending(unique_id, MessageType.CALLERROR)
        if action is None:
            return
        code, description, details = self._error_fields(frame)
        self._events.append(CallError(unique_id, action, code, description, details))

    def _receive_result_error(self, frame: list[Any], unique_id: str) -> None:
        answered = self._answered.get(unique_id)
        if answered is None:
            self._events.append(Unmatched(unique_id, MessageType.CALLRESULTERROR))
            return
        code, description, details = self._error_fields(frame)
        self._events.append(CallResultError(unique_id, answered.action, code, description, details))

    def _receive_send(self, frame: list[Any], unique_id: str) -> None:
        # OCPP-J 2.1, message type SEND: it is never answered, not even with a CALLERROR.
        if len(frame) != 4 or type(frame[2]) is not str or type(frame[3]) is not dict:
            self._note(
                unique_id,
                ErrorCode.FORMAT_VIOLATION,
                "SEND must be [6, messageId, action, payload]",
            )
            return
        action: str = frame[2]
        payload: dict[str, Any] = frame[3]
        if action not in self._incoming_sends:
            code = (
                ErrorCode.NOT_SUPPORTED
                if known_in_any_version(action)
                else ErrorCode.NOT_IMPLEMENTED
            )
            self._note(unique_id, code, f"{action} may not be sent unconfirmed to a {self._role}")
            return
        violation = None
        if self._validate:
            try:
                self._schemas.validate_request(action, payload)
            except SchemaViolation as exc:
                if not self._lenient:
                    self._note(unique_id, exc.code, exc.message)
                    return
                violation = exc.message
        self._events.append(Send(unique_id, action, payload, violation))

    def _take_pending(self, unique_id: str, message_type: MessageType) -> str | None:
        """The action of our pending call if this answers it (which ends it); else an Unmatched."""
        pending = self._pending
        if pending is None or pending[0] != unique_id:
            self._events.append(Unmatched(unique_id, message_type))
            return None
        self._pending = None
        return pending[1]

    def _error_fields(self, frame: list[Any]) -> tuple[str, str, dict[str, Any]]:
        # Read leniently: some chargers leave out errorDetails, and the caller waiting for this
        # answer is better served by a partial error than by none.
        code = frame[2] if len(frame) > 2 and type(frame[2]) is str else ""
        description = frame[3] if len(frame) > 3 and type(frame[3]) is str else ""
        details = frame[4] if len(frame) > 4 and type(frame[4]) is dict else {}
        return code or wire_code(ErrorCode.GENERIC_ERROR, self._version), description, details

    def _reject_action(self, unique_id: str, action: str) -> None:
        if self._schemas.has_action(action):
            self._reject(
                unique_id,
                ErrorCode.NOT_SUPPORTED,
                f"{action} is not sent by a {self._role.peer} in {self._version.value}",
            )
        elif known_in_any_version(action):
            self._reject(
                unique_id,
                ErrorCode.NOT_SUPPORTED,
                f"{action} is not part of {self._version.value}",
            )
        else:
            self._reject(unique_id, ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r}")

    def _reject(self, unique_id: str, code: ErrorCode, description: str) -> None:
        """Answer a bad frame with a CALLERROR and report it."""
        wire = wire_code(code, self._version)
        self._out.append(encode_error(unique_id, wire, description))
        self._events.append(ProtocolViolation(unique_id, wire, description))

    def _note(self, unique_id: str, code: ErrorCode, description: str) -> None:
        """Report a bad frame that must not be answered."""
        self._events.append(
            ProtocolViolation(unique_id, wire_code(code, self._version), description)
        )

    def _answer_internal_error(self, text: str) -> None:
        try:
            frame = orjson.loads(text)
            if (
                type(frame) is list
                and len(frame) > 1
                and frame[0] == _CALL
                and type(frame[1]) is str
                and frame[1] not in self._handling
            ):
                wire = wire_code(ErrorCode.INTERNAL_ERROR, self._version)
                self._out.append(encode_error(frame[1], wire, "internal error"))
        except Exception:
            log.exception("OCPP-J codec could not answer a frame")

    # -- sending -------------------------------------------------------------------------------

    def send_call(self, action: str, payload: dict[str, Any]) -> str:
        """Queue a CALL and return its message id; the answer arrives as a ``CallResult`` or
        ``CallError`` event. Raises ``UnknownAction`` when this role may not send ``action`` in
        this version, ``SchemaViolation`` for a bad payload and ``CallInFlight`` while another call
        awaits its answer (OCPP-J 1.6 section 4.1.1)."""
        if action not in self._outgoing_calls:
            self._refuse_action(action)
        if self._validate:
            self._schemas.validate_request(action, payload)
        return self.send_call_unchecked(action, payload)

    def send_call_unchecked(
        self, action: str, payload: dict[str, Any], *, unique_id: str | None = None
    ) -> str:
        """Queue a CALL as given, skipping the action and schema checks of ``send_call``: for a
        charger that breaks the protocol on purpose (fault injection, tests), or whose payloads
        are checked once and for all by its own tests (a simulator under load). ``unique_id``
        sends under a message id of the caller's (a resent frame); by default a new one. Returns
        the id.

        The answer is matched and checked like any other: a ``CallResult`` whose ``violation``
        says why it breaks the response schema (or that the action is unknown), or a
        ``CallError``. Still raises ``CallInFlight``: one call at a time holds for broken calls too.
        """
        if self._pending is not None:
            raise CallInFlight(self._pending[0])
        if unique_id is None:
            unique_id = self._new_id()
        self._out.append(encode_call(unique_id, action, payload))
        self._pending = (unique_id, action)
        return unique_id

    def cancel_call(self, unique_id: str) -> None:
        """Forget our pending call (after a timeout): a late answer becomes ``Unmatched`` and the
        next call may go. A no-op for any other id."""
        if self._pending is not None and self._pending[0] == unique_id:
            self._pending = None

    def send_result(self, unique_id: str, payload: dict[str, Any]) -> None:
        """Answer the incoming ``Call`` ``unique_id`` with a CALLRESULT.

        Raises ``SchemaViolation`` if ``payload`` breaks the response schema (our bug; the call
        stays open, so answer it with ``send_error``), ``LocalProtocolError`` if no such call
        awaits an answer.
        """
        action, text = self._open_call(unique_id)
        if self._validate:
            self._schemas.validate_response(action, payload)
        self._answer(unique_id, action, text, encode_result(unique_id, payload))

    def send_error(
        self,
        unique_id: str,
        code: ErrorCode,
        description: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Answer the incoming ``Call`` ``unique_id`` with a CALLERROR (the code is spelled for
        this version). Raises ``LocalProtocolError`` if no such call awaits an answer."""
        action, text = self._open_call(unique_id)
        wire = wire_code(code, self._version)
        self._answer(unique_id, action, text, encode_error(unique_id, wire, description, details))

    def send_unconfirmed(self, action: str, payload: dict[str, Any]) -> str:
        """Queue an OCPP 2.1 SEND frame (charger role only); it is never answered. Returns its
        message id. Raises ``UnknownAction`` or ``SchemaViolation``."""
        if action not in self._outgoing_sends:
            raise UnknownAction(
                f"a {self._role} may not send {action} unconfirmed in {self._version.value}"
            )
        if self._validate:
            self._schemas.validate_request(action, payload)
        unique_id = self._new_id()
        self._out.append(encode_send(unique_id, action, payload))
        return unique_id

    def _refuse_action(self, action: str) -> None:
        if self._schemas.has_action(action):
            raise UnknownAction(f"{action} is not sent by a {self._role} in {self._version.value}")
        code = (
            ErrorCode.NOT_SUPPORTED if known_in_any_version(action) else ErrorCode.NOT_IMPLEMENTED
        )
        raise UnknownAction(f"{action} is not an action of {self._version.value}", code)

    def _open_call(self, unique_id: str) -> tuple[str, str]:
        entry = self._handling.get(unique_id)
        if entry is None:
            raise LocalProtocolError(f"no incoming call {unique_id!r} awaits an answer")
        return entry

    def _answer(self, unique_id: str, action: str, text: str, reply: str) -> None:
        del self._handling[unique_id]
        self._out.append(reply)
        if self._cache_size:
            self._answered[unique_id] = _Answer(text, reply, action)
            self._answered.move_to_end(unique_id)
            if len(self._answered) > self._cache_size:
                self._answered.popitem(last=False)
