"""One access-log line per API request: method, path, status, actor, peer address and duration.

The path is logged without its query string, and no header: neither can then carry a credential
into the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from http_api.auth import PRINCIPAL

log = logging.getLogger("voltmesh.api.access")


def _line(request: web.Request, status: int, started: float) -> None:
    principal = request.get(PRINCIPAL)
    log.info(
        "%s %s %d actor=%s peer=%s %.1fms",
        request.method,
        request.path,
        status,
        principal.name if principal is not None else "-",
        request.remote or "-",
        (time.perf_counter() - started) * 1000,
    )


@web.middleware
async def access_log(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _line(request, exc.status, started)
        raise
    except Exception:
        _line(request, 500, started)
        raise
    _line(request, response.status, started)
    return response
