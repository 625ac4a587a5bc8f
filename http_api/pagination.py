"""``limit`` and cursor query parameters of list endpoints."""

from __future__ import annotations

from aiohttp import web

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
