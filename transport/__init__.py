"""OCPP-J transport: a sans-I/O codec, the official schemas, and per-version error codes.

Nothing here does I/O or imports asyncio: the websocket side is the ``gateway`` package, and the
security helpers (``transport.security``) are imported from their module.
"""

from transport.codec import OcppCodec
from transport.errors import (
    CallInFlight,
    ErrorCode,
    LocalProtocolError,
    OcppError,
    RemoteProtocolError,
    SchemaViolation,
    UnknownAction,
    wire_code,
)
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
from transport.schemas import SchemaSet, known_in_any_version, schemas_for
from transport.versions import OcppVersion, Role

__all__ = [
    "Call",
    "CallError",
    "CallInFlight",
    "CallResult",
    "CallResultError",
    "Duplicate",
    "ErrorCode",
    "Event",
    "LocalProtocolError",
    "MessageType",
    "OcppCodec",
    "OcppError",
    "OcppVersion",
    "ProtocolViolation",
    "RemoteProtocolError",
    "Role",
    "SchemaSet",
    "SchemaViolation",
    "Send",
    "UnknownAction",
    "Unmatched",
    "known_in_any_version",
    "schemas_for",
    "wire_code",
]
