"""Errors as RFC 9457 ``application/problem+json``, and JSON bodies in and out (orjson)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from persistence.pages import BadCursor

PROBLEM_TYPE = "application/problem+json"


class ApiProblem(Exception):
    """Raised by a handler to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body, option=orjson.OPT_UTC_Z),
        status=status,
        content_type="application/json",
    )


def problem_response(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    document = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return web.Response(
        body=orjson.dumps(document), status=status, headers={"Content-Type": PROBLEM_TYPE}
    )


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; 400 with the parser's message otherwise."""
    raw = await request.read()
    if not raw:
        raise ApiProblem(400, "Bad Request", "a JSON body is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiProblem(400, "Bad Request", f"body is not valid JSON: {exc}") from None


def read_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiProblem(400, "Bad Request", "body must be a JSON object")
    return body


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error leaves as a problem document, aiohttp's own 404/405 included."""
    try:
        return await handler(request)
    except ApiProblem as exc:
        return problem_response(exc.status, exc.title, exc.detail, **exc.extra)
    except BadCursor as exc:
        return problem_response(400, "Bad Request", str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(exc.status, exc.reason, exc.text or exc.reason)
