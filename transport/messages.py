"""OCPP-J message types and the events the codec emits.

Every event is a small immutable value; ``OcppCodec.events()`` returns them in the order the frames
arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class MessageType(IntEnum):
    """The first element of every OCPP-J frame (OCPP-J 1.6 section 4.1.3; types 5 and 6 came with OCPP-J 2.1)."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5
    """OCPP 2.1 only: the receiver of a CALLRESULT says it was bad."""
    SEND = 6
    """OCPP 2.1 only: an unconfirmed message, never answered."""


@dataclass(frozen=True, slots=True)
class Call:
    """A request from the peer, validated; answer it with ``send_result`` or ``send_error``."""

    unique_id: str
    """Message id the answer must carry."""
    action: str
    """The OCPP action, e.g. ``MeterValues``."""
    payload: dict[str, Any]
    """The request payload as parsed."""
    violation: str | None = None
    """Set only in lenient mode: why the payload broke the schema and was let through anyway."""


@dataclass(frozen=True, slots=True)
class CallResult:
    """The peer's answer to our pending call."""

    unique_id: str
    """Message id of our call."""
    action: str
    """The action we sent."""
    payload: dict[str, Any]
    """The response payload (empty when the frame had none that could be used)."""
    violation: str | None
    """Why the response breaks the response schema or the frame layout; None when it is valid.
    The codec never rejects a response: the caller decides."""


@dataclass(frozen=True, slots=True)
class CallError:
    """The peer's CALLERROR to our pending call."""

    unique_id: str
    """Message id of our call."""
    action: str
    """The action we sent."""
    error_code: str
    """The error code as it was on the wire, e.g. ``NotSupported``."""
    description: str
    """Free text from the peer (empty when it sent none)."""
    details: dict[str, Any]
    """Error details object from the peer (empty when it sent none)."""


@dataclass(frozen=True, slots=True)
class CallResultError:
    """OCPP 2.1 CALLRESULTERROR: the peer says the CALLRESULT we sent was bad."""

    unique_id: str
    """Message id of the call we answered."""
    action: str
    """The action of the call we answered."""
    error_code: str
    """The error code as it was on the wire."""
    description: str
    """Free text from the peer (empty when it sent none)."""
    details: dict[str, Any]
    """Error details object from the peer (empty when it sent none)."""


@dataclass(frozen=True, slots=True)
class Send:
    """OCPP 2.1 SEND: an unconfirmed message from the peer; it must never be answered."""

    unique_id: str
    """Message id chosen by the peer (for logs only)."""
    action: str
    """The action, e.g. ``NotifyPeriodicEventStream``."""
    payload: dict[str, Any]
    """The payload as parsed."""
    violation: str | None = None
    """Set only in lenient mode: why the payload broke the schema and was let through anyway."""


@dataclass(frozen=True, slots=True)
class Unmatched:
    """A CALLRESULT, CALLERROR or CALLRESULTERROR that answers nothing we sent: log it and drop it."""

    unique_id: str
    """The message id it carried."""
    message_type: MessageType
    """Which kind of answer it was."""


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The peer sent a frame that breaks OCPP-J; for logs and metrics only.

    When the frame may be answered (a CALL, or anything whose type is unknown) the codec has already
    queued the CALLERROR reply in ``to_send()``. Answers and SEND frames never get a reply.
    """

    unique_id: str
    """The message id of the frame, or ``"-1"`` when it could not be read."""
    error_code: str
    """The error code as on the wire in this version, e.g. ``FormationViolation``."""
    description: str
    """What was wrong, naming the element or field."""


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A CALL that was resent: the codec re-queued the earlier reply, or the first copy is still
    being handled. No handler must run for it."""

    unique_id: str
    """The message id of the resent CALL."""


Event = (
    Call
    | CallResult
    | CallError
    | CallResultError
    | Send
    | Unmatched
    | ProtocolViolation
    | Duplicate
)
"""Everything ``OcppCodec.events()`` may return."""
