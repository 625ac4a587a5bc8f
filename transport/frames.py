"""Encoding of OCPP-J frames: compact JSON arrays (OCPP-J 1.6 section 4)."""

from __future__ import annotations

from typing import Any

import orjson

from transport.errors import ErrorCode, LocalProtocolError
from transport.messages import MessageType

# OCPP-J 2.0.1 section 4.2.3: errorDescription is at most 255 characters.
MAX_DESCRIPTION = 255


def _dumps(frame: list[Any]) -> str:
    try:
        return orjson.dumps(frame).decode()
    except orjson.JSONEncodeError as exc:
        raise LocalProtocolError(
            f"payload is not JSON-serialisable: {exc}", ErrorCode.FORMAT_VIOLATION
        ) from None


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    """``[2, uniqueId, action, payload]``."""
    return _dumps([MessageType.CALL, unique_id, action, payload])


def encode_result(unique_id: str, payload: dict[str, Any]) -> str:
    """``[3, uniqueId, payload]``."""
    return _dumps([MessageType.CALLRESULT, unique_id, payload])


def encode_error(
    unique_id: str,
    code: str,
    description: str,
    details: dict[str, Any] | None = None,
    message_type: MessageType = MessageType.CALLERROR,
) -> str:
    """``[4, uniqueId, errorCode, errorDescription, errorDetails]`` (or type 5 with the same
    layout); the description is cut to the length 2.x peers accept."""
    return _dumps([message_type, unique_id, code, description[:MAX_DESCRIPTION], details or {}])


def encode_send(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    """``[6, uniqueId, action, payload]`` (OCPP 2.1 only)."""
    return _dumps([MessageType.SEND, unique_id, action, payload])
