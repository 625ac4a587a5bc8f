"""``/api/v1/sites``: grid connections, their limits and members, and how each limit is divided
among the sessions behind it (the division itself is ``csms.sites``)."""

from __future__ import annotations

import math
import re
from typing import Any

from aiohttp import web

from csms.sites.allocator import NOMINAL_VOLTAGE
from csms.sites.balancer import allocation_view
from csms.sites.limits import from_watts, limit_at, session_minimum
from gateway.endpoint import IDENTITY_RULE, valid_identity
from http_api.openapi_parts import (
    NULLABLE_INT,
    NULLABLE_NUM,
    NULLABLE_TIME,
    PAGING,
    PROBLEM,
    json_content,
    page,
    path_param,
    ref,
)
from http_api.pagination import page_params
from http_api.problems import ApiProblem, json_response, read_json, read_object
from http_api.state import API_STATE, ApiState
from persistence import sites, stations
from persistence.ids import INT32_MAX
from persistence.sites import ScheduleEntry, Site, SiteConflict, SiteMember
from persistence.sqltypes import utcnow

routes = web.RouteTableDef()

MAX_MEMBERS = 10_000
"""Members one site may have."""
MAX_SCHEDULE = 96
"""Schedule entries one site may have (one every 15 minutes)."""
DEFAULT_MIN_CURRENT = 6.0
"""Amperes per phase: the lowest current IEC 61851-1 lets a charger signal to an EV."""

_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
SITE_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
"""A site id: it names the site in REST paths, events and the simulator's scenarios (which keep
to the same set)."""
_SITE_ID = re.compile(SITE_ID_PATTERN)
_FIELDS = {"name", "limit", "min_current", "schedule", "members"}


def _bad(detail: str) -> ApiProblem:
    return ApiProblem(400, "Bad Request", detail)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(f"{what} must be a number")
    if value < 0:
        raise _bad(f"{what} must be zero or more")
    return float(value)


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{what} must be an integer")
    return value


def _limit(body: dict[str, Any]) -> tuple[str, float, int]:
    raw = body.get("limit")
    if not isinstance(raw, dict):
        raise _bad('limit is required: {"unit": "A" | "W", "value": number, "phases": 1-3}')
    unknown = set(raw) - {"unit", "value", "phases"}
    if unknown:
        raise _bad(f"unknown fields in limit: {', '.join(sorted(unknown))}")
    unit = raw.get("unit")
    if unit not in ("A", "W"):
        raise _bad('limit.unit must be "A" (per phase) or "W" (total)')
    value = _number(raw.get("value"), "limit.value")
    phases = _integer(raw.get("phases", 3), "limit.phases")
    if not 1 <= phases <= 3:
        raise _bad("limit.phases must be 1, 2 or 3")
    return unit, value, phases


def _schedule(raw: Any) -> tuple[ScheduleEntry, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_SCHEDULE:
        raise _bad(f"schedule must be null or a list of at most {MAX_SCHEDULE} entries")
    entries: dict[int, ScheduleEntry] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"start", "value"}:
            raise _bad(f'schedule[{i}] must be {{"start": "HH:MM", "value": number}}')
        match = _HH_MM.match(item["start"]) if isinstance(item["start"], str) else None
        if match is None:
            raise _bad(f'schedule[{i}].start must be a UTC time "HH:MM" (00:00 to 23:59)')
        minute = int(match[1]) * 60 + int(match[2])
        if minute in entries:
            raise _bad(f"schedule has two entries starting at {item['start']}")
        entries[minute] = ScheduleEntry(minute, _number(item["value"], f"schedule[{i}].value"))
    return tuple(entries[m] for m in sorted(entries))


def _members(raw: Any) -> tuple[SiteMember, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_MEMBERS:
        raise _bad(f"members must be a list of at most {MAX_MEMBERS} entries")
    members: list[SiteMember] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _bad(f'members[{i}] must be {{"station_id", "evse_id", "priority"}}')
        unknown = set(item) - {"station_id", "evse_id", "priority"}
        if unknown:
            raise _bad(f"unknown fields in members[{i}]: {', '.join(sorted(unknown))}")
        station_id = item.get("station_id")
        # What can never name a station; one of the older set is checked against the store in
        # ``_legacy_members_exist``.
        if not isinstance(station_id, str) or not valid_identity(station_id, stored=True):
            raise _bad(f"members[{i}].station_id must be a station id: {IDENTITY_RULE}")
        evse_id = item.get("evse_id")
        if evse_id is not None and not 1 <= _integer(evse_id, f"members[{i}].evse_id") <= (
            INT32_MAX
        ):
            raise _bad(f"members[{i}].evse_id must be null (the whole station) or 1 to {INT32_MAX}")
        priority = _integer(item.get("priority", 0), f"members[{i}].priority")
        if not -1000 <= priority <= 1000:
            raise _bad(f"members[{i}].priority must be between -1000 and 1000")
        members.append(SiteMember(station_id, evse_id, priority))
    seen: dict[str, set[int | None]] = {}
    for m in members:
        evses = seen.setdefault(m.station_id, set())
        if m.evse_id in evses or (evses and (m.evse_id is None or None in evses)):
            raise _bad(
                f"station {m.station_id} is listed twice (a whole station and one of its EVSEs, "
                "or the same EVSE)"
            )
        evses.add(m.evse_id)
    return tuple(members)


def parse_site(site_id: str, body: dict[str, Any]) -> Site:
    """A site from its PUT body; ``ApiProblem`` 400 naming what is wrong."""
    if _SITE_ID.fullmatch(site_id) is None:
        raise _bad("site id must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
    unknown = set(body) - _FIELDS
    if unknown:
        raise _bad(f"unknown fields: {', '.join(sorted(unknown))}")
    name = body.get("name", site_id)
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _bad("name must be a non-empty string of at most 200 characters")
    unit, value, phases = _limit(body)
    min_current = _number(body.get("min_current", DEFAULT_MIN_CURRENT), "min_current")
    site = Site(
        id=site_id,
        name=name,
        limit_unit=unit,
        limit_value=value,
        phases=phases,
        min_current=min_current,
        schedule=_schedule(body.get("schedule")),
        members=_members(body.get("members", [])),
    )
    _admits_a_session(site)
    return site


def _admits_a_session(site: Site) -> None:
    """400 when the minimum a session is given exceeds every limit the site is ever held to: no
    session could ever be admitted. A limit in W holds ``min_current`` on the site's phases at
    the nominal voltage (as the allocator counts it)."""
    highest = max(e.value for e in site.schedule) if site.schedule else site.limit_value
    least = session_minimum(site)
    if least <= highest:
        return
    where = "the highest value of its schedule" if site.schedule else "the limit"
    if site.limit_unit == "A":
        raise _bad(
            f"min_current {site.min_current:g} A exceeds {where} ({highest:g} A per phase): no "
            "session could ever be admitted; lower min_current (0: no minimum) or raise the limit"
        )
    raise _bad(
        f"min_current {site.min_current:g} A on {site.phases} phase(s) at "
        f"{NOMINAL_VOLTAGE:g} V is {least:g} W, more than {where} ({highest:g} W): no session "
        "could ever be admitted; lower min_current (0: no minimum) or raise the limit"
    )


async def _legacy_members_exist(state: ApiState, site: Site) -> None:
    """A member's id keeps to the rule a new station is held to (OCPP 2.0.1 identifierString, at
    most 48 characters), unless a station registered by an earlier release has it (as
    ``PUT /api/v1/stations/{id}`` allows)."""
    for i, member in enumerate(site.members):
        if valid_identity(member.station_id):
            continue
        if await stations.get_station(state.reads, member.station_id) is None:
            raise _bad(f"members[{i}].station_id must be a station id: {IDENTITY_RULE}")


def site_view(site: Site) -> dict[str, Any]:
    schedule = [
        {"start": f"{e.start_minute // 60:02d}:{e.start_minute % 60:02d}", "value": e.value}
        for e in site.schedule
    ]
    return {
        "id": site.id,
        "name": site.name,
        "limit": {"unit": site.limit_unit, "value": site.limit_value, "phases": site.phases},
        "limit_now": limit_at(site, utcnow()),
        "min_current": site.min_current,
        "schedule": schedule or None,
        "members": [
            {"station_id": m.station_id, "evse_id": m.evse_id, "priority": m.priority}
            for m in site.members
        ],
        "created_at": site.created_at,
        "updated_at": site.updated_at,
    }


def _changed(request: web.Request, site_id: str, *versions: Site | None) -> None:
    """Tell the site loop (on whichever member leads) that a site changed: its stations get
    their TxDefaultProfile again, those that left have their site profiles cleared."""
    stations = sorted({m.station_id for v in versions if v is not None for m in v.members})
    request.app[API_STATE].events.publish(
        "site.changed", None, {"site_id": site_id, "stations": stations}
    )


@routes.get("/api/v1/sites")
async def list_sites(request: web.Request) -> web.Response:
    limit, cursor = page_params(request)
    result = await sites.list_sites(request.app[API_STATE].reads, limit=limit, after=cursor)
    return json_response({"items": [site_view(s) for s in result.items], "next": result.next})


async def _site(request: web.Request) -> Site:
    site = await sites.get_site(request.app[API_STATE].reads, request.match_info["site_id"])
    if site is None:
        raise ApiProblem(404, "Not Found", "no such site")
    return site


@routes.get("/api/v1/sites/{site_id}")
async def get_site(request: web.Request) -> web.Response:
    return json_response(site_view(await _site(request)))


@routes.put("/api/v1/sites/{site_id}")
async def put_site(request: web.Request) -> web.Response:
    site_id = request.match_info["site_id"]
    site = parse_site(site_id, read_object(await read_json(request)))
    state = request.app[API_STATE]
    await _legacy_members_exist(state, site)
    try:
        created, before = await sites.save_site(state.engine, site)
    except SiteConflict as exc:
        raise ApiProblem(409, "Conflict", str(exc)) from None
    _changed(request, site_id, before, site)
    saved = await sites.get_site(state.reads, site_id)
    return json_response(site_view(saved or site), status=201 if created else 200)


@routes.delete("/api/v1/sites/{site_id}")
async def delete_site(request: web.Request) -> web.Response:
    site_id = request.match_info["site_id"]
    before = await sites.delete_site(request.app[API_STATE].engine, site_id)
    if before is None:
        raise ApiProblem(404, "Not Found", "no such site")
    _changed(request, site_id, before)
    return web.Response(status=204)


@routes.get("/api/v1/sites/{site_id}/allocation")
async def get_allocation(request: web.Request) -> web.Response:
    site = await _site(request)
    reads = request.app[API_STATE].reads
    rows = await sites.allocation_of(reads, site.id)
    ratings = await sites.evse_power_ratings(reads, [r.station_id for r in rows])
    maxima = {key: from_watts(site, watts) for key, watts in ratings.items()}
    view = allocation_view(
        site, rows, site.allocated_at, limit=limit_at(site, utcnow()), maxima=maxima
    )
    return json_response(view)


# -- OpenAPI -------------------------------------------------------------------------------------

_SITE_ID_PARAM = [
    {**path_param("site_id"), "schema": {"type": "string", "pattern": SITE_ID_PATTERN}}
]

PATHS: dict[str, Any] = {
    "/api/v1/sites": {
        "get": {
            "x-required-role": "viewer",
            "summary": "List sites",
            "parameters": PAGING,
            "responses": {"200": json_content(page("Site"), "sites"), "400": PROBLEM},
        }
    },
    "/api/v1/sites/{site_id}": {
        "parameters": _SITE_ID_PARAM,
        "get": {
            "x-required-role": "viewer",
            "summary": "Read a site",
            "responses": {"200": json_content(ref("Site"), "site"), "404": PROBLEM},
        },
        "put": {
            "x-required-role": "admin",
            "summary": "Create or replace a site",
            "description": "Its stations get the site's TxDefaultProfile (a session that starts "
            "waits at 0 for its share, then may draw the minimum current if none came), stations "
            "that left it have the site's profiles cleared, and its sessions are rebalanced. An "
            "EVSE belongs to one site at most (409 otherwise).",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("SiteInput")}},
            },
            "responses": {
                "200": json_content(ref("Site"), "replaced"),
                "201": json_content(ref("Site"), "created"),
                "400": PROBLEM,
                "409": PROBLEM,
            },
        },
        "delete": {
            "x-required-role": "admin",
            "summary": "Delete a site; its stations' site profiles are cleared",
            "responses": {"204": {"description": "deleted"}, "404": PROBLEM},
        },
    },
    "/api/v1/sites/{site_id}/allocation": {
        "parameters": _SITE_ID_PARAM,
        "get": {
            "x-required-role": "viewer",
            "summary": "How the site's limit is divided among its active sessions now",
            "responses": {"200": json_content(ref("SiteAllocation"), "allocation"), "404": PROBLEM},
        },
    },
}
"""OpenAPI operations of this resource (each declares its ``x-required-role``)."""

_LIMIT = {
    "type": "object",
    "required": ["unit", "value"],
    "additionalProperties": False,
    "properties": {
        "unit": {"enum": ["A", "W"], "description": "A: per phase; W: total"},
        "value": {"type": "number", "minimum": 0},
        "phases": {"type": "integer", "minimum": 1, "maximum": 3, "default": 3},
    },
}
_SCHEDULE_ENTRY = {
    "type": "object",
    "required": ["start", "value"],
    "additionalProperties": False,
    "properties": {
        "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
        "value": {"type": "number", "minimum": 0},
    },
}
_MEMBER = {
    "type": "object",
    "required": ["station_id"],
    "additionalProperties": False,
    "properties": {
        "station_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "a station id (OCPP identifierString, at most 48 characters; a "
            "station registered by an earlier release keeps its id of up to 64)",
        },
        "evse_id": {
            **NULLABLE_INT,
            "minimum": 1,
            "maximum": INT32_MAX,
            "description": "null: the whole station",
        },
        "priority": {"type": "integer", "default": 0, "description": "higher is served first"},
    },
}

SCHEMAS: dict[str, Any] = {
    "SiteInput": {
        "type": "object",
        "required": ["limit"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "limit": _LIMIT,
            "min_current": {
                "type": "number",
                "minimum": 0,
                "default": DEFAULT_MIN_CURRENT,
                "description": "A per phase; a session that cannot get it gets 0 (0: no "
                "minimum). At most the limit (for a limit in W: min_current x 230 V x phases), "
                "or with a schedule its highest value",
            },
            "schedule": {
                "type": ["array", "null"],
                "items": _SCHEDULE_ENTRY,
                "maxItems": MAX_SCHEDULE,
                "description": "UTC time-of-day values replacing limit.value from each start "
                "until the next entry's (a daily cycle: the last until the first on the next day)",
            },
            "members": {"type": "array", "items": _MEMBER, "maxItems": MAX_MEMBERS},
        },
    },
    "Site": {
        "type": "object",
        "required": ["id", "name", "limit", "limit_now", "min_current", "schedule", "members"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "limit": _LIMIT,
            "limit_now": {"type": "number", "description": "the limit in force now"},
            "min_current": {"type": "number"},
            "schedule": {"type": ["array", "null"], "items": _SCHEDULE_ENTRY},
            "members": {"type": "array", "items": _MEMBER},
            "created_at": NULLABLE_TIME,
            "updated_at": NULLABLE_TIME,
        },
    },
    "SiteAllocation": {
        "type": "object",
        "required": ["site_id", "limit", "allocated", "sessions", "computed_at"],
        "properties": {
            "site_id": {"type": "string"},
            "limit": _LIMIT,
            "allocated": {
                "type": "number",
                "description": "what the sessions may draw by the limits their stations accepted",
            },
            "sessions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "station_id": {"type": "string"},
                        "evse_id": {"type": "integer"},
                        "transaction_id": {"type": ["string", "null"]},
                        "limit": {"type": "number"},
                        "unit": {"enum": ["A", "W"]},
                        "priority": {"type": "integer"},
                        "status": {"enum": ["sent", "accepted", "rejected", "pending"]},
                        "accepted_limit": NULLABLE_NUM,
                    },
                },
            },
            "computed_at": NULLABLE_TIME,
        },
    },
}
"""OpenAPI schemas of this resource."""
