"""Query parameters of list endpoints: ``limit`` and cursor, filters, and time ranges."""

from __future__ import annotations

import re
from datetime import datetime

from aiohttp import web

from http_api.fields import RFC3339, utc_date_time
from http_api.problems import ApiProblem

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def page_params(request: web.Request) -> tuple[int, str | None]:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise ApiProblem(400, "Bad Request", f"limit must be an integer, got {raw!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiProblem(400, "Bad Request", f"limit must be between 1 and {MAX_LIMIT}")
    return limit, request.query.get("cursor") or None


def bool_param(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ApiProblem(400, "Bad Request", f"{name} must be true or false, got {raw!r}")


def int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiProblem(400, "Bad Request", f"{name} must be an integer, got {raw!r}") from None


# RFC 3339 section 5.6 date-time: a full date and time with an offset, nothing looser (no bare date,
# no local time), so that a range never depends on the server's time zone.
def time_param(request: web.Request, name: str) -> datetime | None:
    """An RFC 3339 date-time parameter (``2026-12-01T00:00:00Z``, ``...+01:00``), aware."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if RFC3339.fullmatch(raw) is None:
        hint = ""
        if re.search(r"\d \d{2}:\d{2}$", raw):
            # A literal "+" in a query string is decoded as a space.
            hint = " (send a + offset as %2B)"
        raise ApiProblem(
            400,
            "Bad Request",
            f"{name} must be an RFC 3339 date-time such as 2026-12-01T08:00:00Z, got {raw!r}{hint}",
        )
    try:
        return utc_date_time(raw)
    except (ValueError, OverflowError) as exc:
        raise ApiProblem(
            400, "Bad Request", f"{name} is not a valid RFC 3339 date-time: {exc}"
        ) from None


def time_range(request: web.Request) -> tuple[datetime | None, datetime | None]:
    """``since`` (inclusive) and ``until`` (exclusive); 400 when the range is empty."""
    since, until = time_param(request, "since"), time_param(request, "until")
    if since is not None and until is not None and until <= since:
        raise ApiProblem(400, "Bad Request", "until must be later than since")
    return since, until
