"""OCPP-J transport: a sans-I/O codec, the official schemas, and per-version error codes.

The websocket adapter (``transport.websocket``) and the security profiles (``transport.security``)
are imported from their modules; importing this package pulls in no I/O library.
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
