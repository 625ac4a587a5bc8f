"""OCPP-J framing for the simulated chargers: encode CALLs, classify whatever comes back.

No I/O here; the charger connection passes text frames through these functions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson


class MessageType(enum.IntEnum):
    """OCPP-J 1.6 section 4.1.3: the first element of every frame."""

    CALL = 2
    CALL_RESULT = 3
    CALL_ERROR = 4


@dataclass(frozen=True, slots=True)
class CallResult:
    """A CALLRESULT frame: `[3, uniqueId, payload]`."""

    unique_id: str
    """Id of the CALL this answers."""
    payload: dict[str, Any]
    """The response payload."""


@dataclass(frozen=True, slots=True)
class CallError:
    """A CALLERROR frame: `[4, uniqueId, errorCode, errorDescription, errorDetails]`."""

    unique_id: str
    """Id of the CALL this answers."""
    code: str
    """The error code, e.g. `FormationViolation` (OCPP-J 1.6 section 4.2.3)."""
    description: str
    """Free text from the sender."""


@dataclass(frozen=True, slots=True)
class Call:
    """A CALL frame sent by the central system to the charger."""

    unique_id: str
    """Id the charger must echo in its reply."""
    action: str
    """The OCPP action name, e.g. `TriggerMessage`."""
    payload: dict[str, Any]
    """The request payload."""


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame that is not valid OCPP-J; the charger counts it as a protocol violation."""

    reason: str
    """Why the frame was rejected."""


Frame = CallResult | CallError | Call | Malformed


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    """Encode a CALL frame `[2, uniqueId, action, payload]` (OCPP-J 1.6 section 4.2.1)."""
    return orjson.dumps([MessageType.CALL.value, unique_id, action, payload]).decode()


def encode_call_result(unique_id: str, payload: dict[str, Any]) -> str:
    """Encode a CALLRESULT frame answering a central-system CALL."""
    return orjson.dumps([MessageType.CALL_RESULT.value, unique_id, payload]).decode()


def encode_call_error(unique_id: str, code: str, description: str) -> str:
    """Encode a CALLERROR frame answering a central-system CALL."""
    return orjson.dumps([MessageType.CALL_ERROR.value, unique_id, code, description, {}]).decode()


def parse_frame(data: str | bytes) -> Frame:
    """Classify one received text frame; never raises on bad input."""
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return Malformed(f"not JSON: {exc}")
    if not isinstance(message, list) or len(message) < 3:
        return Malformed("not an OCPP-J array")
    kind, unique_id = message[0], message[1]
    if not isinstance(unique_id, str):
        return Malformed("unique id is not a string")
    # OCPP-J 1.6 section 4.2: exact element counts per message type.
    if kind == MessageType.CALL_RESULT and len(message) == 3 and isinstance(message[2], dict):
        return CallResult(unique_id, message[2])
    if kind == MessageType.CALL_ERROR and len(message) == 5 and isinstance(message[2], str):
        description = message[3] if isinstance(message[3], str) else ""
        return CallError(unique_id, message[2], description)
    if (
        kind == MessageType.CALL
        and len(message) == 4
        and isinstance(message[2], str)
        and isinstance(message[3], dict)
    ):
        return Call(unique_id, message[2], message[3])
    return Malformed(f"bad frame of type {kind!r} with {len(message)} elements")
