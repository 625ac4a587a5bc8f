"""Fields of a REST request body, each checked the same way in every resource: a 400 that names
the field and says what it takes."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from http_api.problems import ApiProblem, read_json, read_object
from persistence.ids import INT32_MAX


def bad(detail: str) -> ApiProblem:
    return ApiProblem(400, "Bad Request", detail)


async def optional_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object."""
    if not (await request.read()).strip():
        return {}
    return read_object(await read_json(request))


def refuse_unknown(body: Mapping[str, Any], known: Collection[str], where: str = "") -> None:
    """400 naming the fields that are not ``known`` (a typo would otherwise be silently ignored);
    ``where`` names a nested object."""
    unknown = sorted(set(body) - set(known))
    if unknown:
        inside = f" in {where}" if where else ""
        raise bad(
            f"unknown fields{inside}: {', '.join(unknown)}; accepted: {', '.join(sorted(known))}"
        )


def integer(value: Any, name: str, *, low: int = 0, high: int = INT32_MAX) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise bad(f"{name} must be an integer from {low} to {high}")
    return value


def int_field(body: Mapping[str, Any], name: str, *, low: int, high: int) -> int | None:
    """An optional integer field: None when absent or null."""
    value = body.get(name)
    return None if value is None else integer(value, name, low=low, high=high)


def text(value: Any, name: str, *, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise bad(f"{name} must be a string of 1-{limit} characters")
    return value


def text_field(body: Mapping[str, Any], name: str, *, required: bool = False, limit: int) -> Any:
    """A text field that is more than blanks; None when absent or null unless ``required``."""
    value = body.get(name)
    if value is None:
        if required:
            raise bad(f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise bad(f"{name} is longer than {limit} characters")
    return value


def one_of(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise bad(f"{name} must be one of {', '.join(choices)}")
    return str(value)


def flag(body: Mapping[str, Any], name: str) -> bool:
    """A boolean field, false when absent."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise bad(f"{name} must be true or false")
    return value


# RFC 3339 section 5.6 date-time: a full date and time with an offset, nothing looser (no bare
# date, no local time), so that what is stored never depends on the server's time zone.
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.(?P<fraction>\d+))?(?:[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)
"""An RFC 3339 date-time with an offset (nothing depends on the server's time zone)."""


def utc_date_time(text: str) -> datetime:
    """``text``, which ``RFC3339`` matches, as an aware datetime in UTC, as the store compares
    them. Raises ``ValueError`` or ``OverflowError`` for one that cannot be (month 13; year 1 or
    9999 with an offset)."""
    match = RFC3339.fullmatch(text)
    if match is None:
        raise ValueError("not an RFC 3339 date-time with an offset")
    text = text.upper()
    fraction = match.group("fraction")
    if fraction is not None and len(fraction) > 6:
        # Python keeps microseconds; finer digits cannot change a comparison with stored times.
        text = text.replace("." + fraction, "." + fraction[:6], 1)
    return datetime.fromisoformat(text).astimezone(UTC)


def date_time(value: Any, name: str) -> datetime:
    """An RFC 3339 date-time with an offset, in UTC."""
    if not isinstance(value, str) or RFC3339.fullmatch(value) is None:
        raise bad(f"{name} must be an RFC 3339 date-time such as 2026-12-01T08:00:00Z")
    try:
        return utc_date_time(value)
    except (ValueError, OverflowError):
        raise bad(f"{name} is not a valid date-time") from None


def time_field(body: Mapping[str, Any], name: str) -> datetime | None:
    """An optional RFC 3339 date-time field, in UTC: None when absent or null."""
    value = body.get(name)
    return None if value is None else date_time(value, name)
