from __future__ import annotations

import pytest

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
from transport.versions import OcppVersion, Role


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ocpp1.6", OcppVersion.V16),
        ("ocpp2.0.1", OcppVersion.V201),
        ("ocpp2.1", OcppVersion.V21),
        (" ocpp2.1 ", OcppVersion.V21),
        ("ocpp2.0", None),
        ("OCPP1.6", None),
        ("", None),
    ],
)
def test_from_subprotocol(name: str, expected: OcppVersion | None) -> None:
    assert OcppVersion.from_subprotocol(name) is expected


def test_is_2x() -> None:
    assert not OcppVersion.V16.is_2x
    assert OcppVersion.V201.is_2x
    assert OcppVersion.V21.is_2x


def test_roles_are_each_others_peer() -> None:
    assert Role.CSMS.peer is Role.CHARGER
    assert Role.CHARGER.peer is Role.CSMS
    assert Role("csms") is Role.CSMS


V16_NAMES = {
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
    ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "FormationViolation",
    ErrorCode.RPC_FRAMEWORK_ERROR: "GenericError",
}

V2_NAMES = {
    ErrorCode.NOT_IMPLEMENTED: "NotImplemented",
    ErrorCode.NOT_SUPPORTED: "NotSupported",
    ErrorCode.INTERNAL_ERROR: "InternalError",
    ErrorCode.PROTOCOL_ERROR: "ProtocolError",
    ErrorCode.SECURITY_ERROR: "SecurityError",
    ErrorCode.FORMAT_VIOLATION: "FormatViolation",
    ErrorCode.PROPERTY_CONSTRAINT_VIOLATION: "PropertyConstraintViolation",
    ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurrenceConstraintViolation",
    ErrorCode.TYPE_CONSTRAINT_VIOLATION: "TypeConstraintViolation",
    ErrorCode.GENERIC_ERROR: "GenericError",
    ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "MessageTypeNotSupported",
    ErrorCode.RPC_FRAMEWORK_ERROR: "RpcFrameworkError",
}


@pytest.mark.parametrize("code", list(ErrorCode))
def test_wire_codes(code: ErrorCode) -> None:
    assert wire_code(code, OcppVersion.V16) == V16_NAMES[code]
    assert wire_code(code, OcppVersion.V201) == V2_NAMES[code]
    assert wire_code(code, OcppVersion.V21) == V2_NAMES[code]


def test_wire_codes_match_the_ocpp_package() -> None:
    # The ocpp package's exception classes carry the official spellings of each version.
    from ocpp import exceptions

    assert wire_code(ErrorCode.FORMAT_VIOLATION, OcppVersion.V16) == (
        exceptions.FormationViolationError.code
    )
    assert wire_code(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, OcppVersion.V16) == (
        exceptions.OccurenceConstraintViolationError.code
    )
    assert wire_code(ErrorCode.FORMAT_VIOLATION, OcppVersion.V201) == (
        exceptions.FormatViolationError.code
    )
    assert wire_code(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, OcppVersion.V201) == (
        exceptions.OccurrenceConstraintViolationError.code
    )


def test_exception_tree() -> None:
    assert issubclass(RemoteProtocolError, OcppError)
    assert issubclass(LocalProtocolError, OcppError)
    for cls in (SchemaViolation, UnknownAction, CallInFlight):
        assert issubclass(cls, LocalProtocolError)
    assert not issubclass(RemoteProtocolError, LocalProtocolError)


def test_exceptions_carry_codes() -> None:
    violation = SchemaViolation(
        "data.connectorId must be integer", ErrorCode.TYPE_CONSTRAINT_VIOLATION
    )
    assert violation.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert violation.message == str(violation) == "data.connectorId must be integer"
    assert RemoteProtocolError("bad", ErrorCode.FORMAT_VIOLATION).code is ErrorCode.FORMAT_VIOLATION
    in_flight = CallInFlight("m1")
    assert in_flight.pending == "m1"
    assert "m1" in str(in_flight)
    assert UnknownAction("Foo", ErrorCode.NOT_IMPLEMENTED).code is ErrorCode.NOT_IMPLEMENTED
