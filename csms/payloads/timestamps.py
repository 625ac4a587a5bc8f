"""Times on the OCPP wire: read as chargers write them, written as chargers read them best."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(raw: str) -> datetime:
    """RFC 3339 timestamps as chargers send them (``Z``, offsets, fractions); ValueError otherwise.

    RFC 3339 allows a lower-case ``t``/``z`` and a leap second (``:60``), which Python does not
    parse: a leap second is read as the second before it."""
    text = raw.upper()
    if len(text) >= 19 and text[17:19] == "60":
        text = text[:17] + "59" + text[19:]
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        # OCPP requires UTC; a charger that omits the zone means UTC.
        value = value.replace(tzinfo=UTC)
    return value


def ocpp_time(value: datetime) -> str:
    """A time as chargers parse it most reliably: UTC, milliseconds, ``Z`` (``2026-11-01T12:00:00.000Z``).
    Some charger firmware rejects ``+00:00`` or microseconds, though both are valid RFC 3339."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
