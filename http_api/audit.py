"""The audit log: every state-changing request (POST, PUT, PATCH, DELETE) by an authenticated
operator, or a login attempt, is stored with who, role, when, method, path, station and outcome,
and listed at ``GET /api/v1/audit`` (admins). Requests refused for want of any credential are only
in the access log, so that anonymous traffic cannot fill the table.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from http_api.auth import PRINCIPAL
from http_api.login import ATTEMPTED_USER
from http_api.pagination import page_params
from http_api.problems import json_response
from http_api.state import API_STATE
from persistence import audit
from persistence.audit import AuditEntry

log = logging.getLogger("voltmesh.api.audit")

routes = web.RouteTableDef()

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NO_ROLE = "none"
"""The role recorded for a failed login."""


def audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": entry.actor,
        "role": entry.role,
        "method": entry.method,
        "path": entry.path,
        "station_id": entry.station_id,
        "status": entry.status,
    }


@routes.get("/api/v1/audit")
async def list_audit(request: web.Request) -> web.Response:
    limit, cursor = page_params(request)
    page = await audit.list_audit(
        request.app[API_STATE].reads,
        limit=limit,
        after=cursor,
        actor=request.query.get("actor") or None,
        station_id=request.query.get("station_id") or None,
    )
    return json_response({"items": [audit_view(e) for e in page.items], "next": page.next})


async def _record(request: web.Request, status: int) -> None:
    principal = request.get(PRINCIPAL)
    if principal is not None:
        actor, role = principal.name, principal.role.value
    elif ATTEMPTED_USER in request:
        actor, role = request[ATTEMPTED_USER], NO_ROLE
    else:
        return
    try:
        await audit.record(
            request.app[API_STATE].engine,
            actor=actor,
            role=role,
            method=request.method,
            path=request.path,
            station_id=request.match_info.get("station_id"),
            status=status,
        )
    except Exception:
        # The change itself is committed; losing its record is logged loudly, not hidden.
        log.exception(
            "could not record %s %s by %s (status %d) in the audit log",
            request.method,
            request.path,
            actor,
            status,
        )


@web.middleware
async def audit_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method not in STATE_CHANGING:
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        await _record(request, exc.status)
        raise
    except Exception:
        await _record(request, 500)
        raise
    await _record(request, response.status)
    return response
