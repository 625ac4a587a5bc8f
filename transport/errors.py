"""OCPP-J error codes and the exceptions of the transport.

Exception tree::

    OcppError                       root of every transport error
    ├── RemoteProtocolError         the peer broke the protocol (.code)
    └── LocalProtocolError          we tried to send something invalid (.code)
        ├── SchemaViolation         a payload we wanted to send breaks its schema (.message)
        ├── UnknownAction           the action is not ours to send in this version
        └── CallInFlight            a second call while one is pending (OCPP-J 1.6 section 4.1.1)

The codec itself never raises for what the peer sends: it answers with a CALLERROR and emits an event.
"""

from __future__ import annotations

from enum import StrEnum

from transport.versions import OcppVersion


class ErrorCode(StrEnum):
    """A CALLERROR code, independent of the version; ``wire_code`` gives the string to send.

    Values are the OCPP-J 2.0.1 spellings, for logs; never send ``str(code)`` to a 1.6 peer.
    """

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMAT_VIOLATION = "FormatViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"


# OCPP-J 1.6 section 4.2.3: the 1.6 names, misspellings included, are what 1.6 peers expect.
_WIRE_V16: dict[ErrorCode, str] = {
    ErrorCode.NOT_IMPLEMENTED: "NotImplemented",
    ErrorCode.NOT_SUPPORTED: "NotSupported",
    ErrorCode.INTERNAL_ERROR: "InternalError",
    ErrorCode.PROTOCOL_ERROR: "ProtocolError",
    ErrorCode.SECURITY_ERROR: "SecurityError",
    ErrorCode.FORMAT_VIOLATION: "FormationViolation",
    ErrorCode.PROPERTY_CONSTRAINT_VIOLATION: "PropertyConstraintViolation",
    ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
    ErrorCode.TYPE_CONSTRAINT_VIOLATION: "TypeConstraintViolation",
    ErrorCode.GENERIC_ERROR: "GenericError",
    # 1.6 has neither code (they came with OCPP-J 2.0.1 section 4.3). An unknown message type makes
    # the frame not conform to the PDU structure, which 1.6 calls a FormationViolation; a broken RPC
    # frame has no closer 1.6 name than GenericError.
    ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "FormationViolation",
    ErrorCode.RPC_FRAMEWORK_ERROR: "GenericError",
}

# OCPP-J 2.0.1 section 4.3 (unchanged in OCPP-J 2.1): the member values are these spellings.
_WIRE_V2: dict[ErrorCode, str] = {code: code.value for code in ErrorCode}


def wire_code(code: ErrorCode, version: OcppVersion) -> str:
    """The error code string to put in a CALLERROR for ``version``."""
    return _WIRE_V2[code] if version.is_2x else _WIRE_V16[code]


class OcppError(Exception):
    """Root of every transport error."""


class RemoteProtocolError(OcppError):
    """The peer broke the protocol."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class LocalProtocolError(OcppError):
    """We tried to send something invalid: a bug on our side, never the peer's."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class SchemaViolation(LocalProtocolError):
    """A payload breaks its JSON schema; ``message`` names the field, e.g.
    ``data.connectorId must be integer``, and ``code`` is the matching CALLERROR code."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.FORMAT_VIOLATION) -> None:
        super().__init__(message, code)


class UnknownAction(LocalProtocolError):
    """The action is not defined in this version, or not one this side may initiate."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.NOT_SUPPORTED) -> None:
        super().__init__(message, code)


class CallInFlight(LocalProtocolError):
    """A second call while one is pending: OCPP-J 1.6 section 4.1.1 allows one CALL in flight."""

    def __init__(self, pending: str) -> None:
        super().__init__(f"call {pending!r} still awaits its answer", ErrorCode.PROTOCOL_ERROR)
        self.pending = pending
        """Message id of the call in flight."""
