"""Fields of a payload as a handler needs them, and the error for one it cannot use."""

from __future__ import annotations

from collections.abc import Callable
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
