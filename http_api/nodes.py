"""``GET /api/v1/nodes``: the cluster's members (one per shard process of each pod), whether each is
alive, and how many stations each holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from http_api.problems import json_response
from http_api.state import API_STATE
from persistence.leases import held_counts
from persistence.members import MemberRecord, list_members
from persistence.sqltypes import utcnow

routes = web.RouteTableDef()

SILENT_AFTER = timedelta(seconds=6)
"""A member whose row was not refreshed for this long is shown dead, even before a member has
declared it so (they refresh every 2 s)."""


def member_view(member: MemberRecord, held: int, now: Any) -> dict[str, Any]:
    return {
        "name": member.name,
        "pod": member.node,
        "shard": member.shard,
        "pid": member.pid,
        "address": member.address,
        "stations": held,
        "started_at": member.started_at,
        "last_seen": member.last_seen,
        "alive": member.alive and now - member.last_seen < SILENT_AFTER,
    }


@routes.get("/api/v1/nodes")
async def list_nodes(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    members = await list_members(state.reads)
    held = await held_counts(state.reads)
    now = utcnow()
    return json_response({"items": [member_view(m, held.get(m.name, 0), now) for m in members]})
