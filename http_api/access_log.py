"""One access-log line per API request: method, path, status, actor, peer address and duration.

The path is logged without its query string, and no header: neither can then carry a credential
into the log. The path of an upload (``/uploads/<station>/<id>-<secret>``) is logged with its
secret masked: whoever reads the log could otherwise upload in the station's place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from csms.pki.passwords import masked_upload_path
from http_api.auth import PRINCIPAL

log = logging.getLogger("voltmesh.api.access")


UPLOADS = "/uploads/"


def logged_path(path: str) -> str:
    """``path`` as the access log shows it: an upload's secret masked."""
    return masked_upload_path(path) if path.startswith(UPLOADS) else path


def _line(request: web.Request, status: int, started: float) -> None:
    principal = request.get(PRINCIPAL)
    log.info(
        "%s %s %d actor=%s peer=%s %.1fms",
        request.method,
        logged_path(request.path),
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
