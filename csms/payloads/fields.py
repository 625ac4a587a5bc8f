"""Fields of a payload as a handler needs them, and the error for one it cannot use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from csms.payloads.timestamps import parse_timestamp
from persistence.records import MeterSample
from transport.errors import ErrorCode


class PayloadError(ValueError):
    """A payload the schema let through (or lenient mode let pass) that the handler cannot use."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.FORMAT_VIOLATION) -> None:
        super().__init__(message)
        self.code = code


def payload_time(payload: dict[str, Any], key: str) -> datetime:
    """A timestamp field of a payload, as a handler needs it; a PayloadError if unreadable."""
    try:
        return parse_timestamp(payload[key])
    except (TypeError, ValueError):
        raise PayloadError(
            f"{key} is not an RFC 3339 date-time", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
        ) from None


def payload_samples(
    parse: Callable[[list[dict[str, Any]]], list[MeterSample]], meter_value: list[dict[str, Any]]
) -> list[MeterSample]:
    """The meter values of a payload, read by the version's ``parse``; a PayloadError if unusable."""
    try:
        return parse(meter_value)
    except ValueError as exc:
        raise PayloadError(f"meterValue: {exc}", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION) from None


# -- integers kept in 32-bit columns -----------------------------------------------------------
# Request, reservation, monitor and message ids, EVSE and connector ids, severities: the OCPP 2.x
# schemas leave them unbounded ("type": "integer"). One past int32 fails the statement on
# PostgreSQL; a failed store restarts the station's actor and rolls back the group-commit batch
# it was in (other stations' writes, replayed one by one), so a hostile or broken station could
# do that at will. Instead the message is refused as what it is, a field with a value out of
# range (OCPP-J 2.0.1 part 4, section 4.3: PropertyConstraintViolation), before anything is kept.

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def fits_int32(value: Any) -> bool:
    """Whether ``value`` is None or an integer a 32-bit column holds."""
    return value is None or (
        isinstance(value, int) and not isinstance(value, bool) and INT32_MIN <= value <= INT32_MAX
    )


def require_int32(where: str, values: Mapping[str, Any]) -> None:
    """A PayloadError unless each of ``values`` (name -> value) fits a 32-bit column."""
    for name, value in values.items():
        if not fits_int32(value):
            raise PayloadError(
                f"{where}.{name} {value!r} is out of range (32-bit integer)",
                ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
            )
