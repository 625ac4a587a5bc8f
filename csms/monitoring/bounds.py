"""The integers of a station's payload that are kept in 32-bit columns: monitor and message ids,
request ids, EVSE and connector ids, severities.

The OCPP 2.x schemas leave them unbounded ("type": "integer"). One past int32 would fail the
statement on PostgreSQL, and a failed store restarts the station's actor, so a hostile or broken
station could make it restart at will; instead it is refused as what it is, a field with a value
out of range (OCPP-J 2.0.1 part 4, section 4.3: PropertyConstraintViolation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from csms.payloads.fields import PayloadError
from transport.errors import ErrorCode

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
