"""Local authorization lists per station (OCPP 1.6 Local Auth List Management, 2.0.1 D01-D02).

``PUT`` sets the filter that picks a station's entries from the id tags; the sync loop
(``csms.local_lists``) then sends each connected station what changed, and ``POST .../sync``
sends it at once. An id tag's change marks the lists it touches (``id_tag_changed``, called by
``http_api.id_tags``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from csms.local_lists.changes import lists_touched_by
from csms.local_lists.filters import FilterError, parse_filter
from csms.local_lists.limits import items_per_message
from csms.local_lists.sync import NotManaged, Ports, sync_list
from gateway.calls import CommandResult
from http_api.commands import call_station
from http_api.fields import flag, optional_object, refuse_unknown
from http_api.openapi_parts import (
    NULLABLE_INT,
    NULLABLE_STR,
    NULLABLE_TIME,
    PROBLEM,
    STATION_CALL_PROBLEMS,
    json_content,
    path_param,
    ref,
)
from http_api.problems import ApiProblem, json_response, read_json, read_object
from http_api.state import API_STATE, ApiState
from http_api.station_calls import known_station, station_to_call
from persistence.keyed_rows import run_alone
from persistence.local_lists import (
    ListEntry,
    LocalListState,
    filter_set,
    get_local_list,
    list_entries,
    list_forgotten,
    lists_changed,
)
from persistence.writer import WriteOp

routes = web.RouteTableDef()


async def _write(state: ApiState, op: WriteOp) -> Any:
    return await run_alone(state.engine, op)


async def id_tag_changed(state: ApiState, id_tag: str) -> None:
    """An id tag was created, changed or deleted: the lists it touches need an update."""
    touched = await lists_touched_by(state.reads, id_tag)
    if touched:
        await _write(state, lists_changed(touched))


async def station_deleted(state: ApiState, station_id: str) -> None:
    """A station was deleted: its list is forgotten (called by ``http_api.stations``)."""
    await _write(state, list_forgotten(station_id))


def _entry_view(entry: ListEntry) -> dict[str, Any]:
    return {
        "id_tag": entry.id_token,
        "type": entry.token_type,
        "status": entry.status,
        "expiry_date": entry.expiry_date,
        "parent_id_tag": entry.parent_id_token,
        "evse_ids": list(entry.evse_ids) if entry.evse_ids is not None else None,
    }


def local_list_view(
    station_id: str, list_state: LocalListState | None, entries: list[ListEntry]
) -> dict[str, Any]:
    s = list_state
    last_sync = None
    if s is not None and s.last_sync_at is not None:
        last_sync = {
            "at": s.last_sync_at,
            "update_type": s.last_sync_type,
            "status": s.last_sync_status,
        }
    return {
        "station_id": station_id,
        "filter": s.filter if s is not None else None,
        "version_sent": s.version_sent if s is not None and s.version_sent else None,
        "version_confirmed": s.version_confirmed if s is not None else None,
        "version_reported": s.version_reported if s is not None else None,
        "reported_at": s.reported_at if s is not None else None,
        "dirty": s.dirty if s is not None else False,
        "last_sync": last_sync,
        "last_attempt_at": s.last_attempt_at if s is not None else None,
        "last_error": s.last_error if s is not None else None,
        "entries": [_entry_view(e) for e in entries],
    }


async def _station(state: ApiState, request: web.Request) -> str:
    station_id = request.match_info["station_id"]
    await known_station(state, station_id)
    return station_id


async def _view(state: ApiState, station_id: str) -> dict[str, Any]:
    return local_list_view(
        station_id,
        await get_local_list(state.reads, station_id),
        await list_entries(state.reads, station_id),
    )


@routes.get("/api/v1/stations/{station_id}/local-list")
async def local_list_get(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    return json_response(await _view(state, await _station(state, request)))


@routes.put("/api/v1/stations/{station_id}/local-list")
async def local_list_put(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    body = read_object(await read_json(request))
    try:
        list_filter = parse_filter(body)
    except FilterError as exc:
        raise ApiProblem(400, "Bad Request", str(exc)) from None
    station_id = await _station(state, request)
    await _write(state, filter_set(station_id, list_filter.document()))
    return json_response(await _view(state, station_id))


@routes.delete("/api/v1/stations/{station_id}/local-list")
async def local_list_delete(request: web.Request) -> web.Response:
    """voltmesh stops building the station's list: the station keeps what it holds, and what it
    accepts later (through the raw command endpoint) is still followed."""
    state = request.app[API_STATE]
    station_id = await _station(state, request)
    await _write(state, filter_set(station_id, None))
    return json_response(await _view(state, station_id))


@routes.post("/api/v1/stations/{station_id}/local-list/sync")
async def local_list_sync(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    body = await optional_object(request)
    refuse_unknown(body, {"full"})
    full = flag(body, "full")
    station_id = request.match_info["station_id"]
    version = await station_to_call(state, station_id, "SendLocalList")

    async def write(op: WriteOp) -> Any:
        return await _write(state, op)

    async def send(action: str, payload: dict[str, Any]) -> CommandResult:
        return await call_station(state, station_id, action, payload, timeout=state.command_timeout)

    try:
        limit = await items_per_message(state.router, state.reads, station_id, version)
        ports = Ports(state.reads, write, send, version, limit)
        outcome = await sync_list(ports, station_id, full=full)
    except NotManaged:
        raise ApiProblem(
            409,
            "Conflict",
            f"station {station_id!r} has no local list filter: PUT one first",
        ) from None
    return json_response(outcome.view())


_SYNC_OUTCOME: dict[str, Any] = {
    "type": "object",
    "required": ["status", "version", "update_type", "entries"],
    "properties": {
        "status": {
            "type": "string",
            "description": "the station's answer: Accepted, Failed, NotSupported, "
            "VersionMismatch (a full update follows: full_update)",
        },
        "version": {"type": "integer"},
        "update_type": {"type": "string", "enum": ["Full", "Differential"]},
        "entries": {"type": "integer", "description": "entries sent (removals included)"},
        "messages": {
            "type": "integer",
            "description": "SendLocalList messages it took (the station's items per message)",
        },
        "skipped": {
            "type": "integer",
            "description": "id tags the filter picks that the station's OCPP version cannot "
            "carry (longer than 20 characters on 1.6, 36 on 2.x): not on its list",
        },
        "full_update": {"$ref": "#/components/schemas/LocalListSyncOutcome"},
    },
}

SCHEMAS: dict[str, Any] = {
    "LocalListFilter": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "include": {
                "description": '"all" id tags, "none", or a list of id tags',
                "oneOf": [
                    {"type": "string", "enum": ["all", "none"]},
                    {"type": "array", "items": {"type": "string"}},
                ],
            },
            "groups": {
                "type": "array",
                "items": {"type": "string"},
                "description": "besides: every id tag whose parent is one of these",
            },
        },
    },
    "LocalList": {
        "type": "object",
        "required": ["station_id", "filter", "dirty", "entries"],
        "properties": {
            "station_id": {"type": "string"},
            "filter": {
                "oneOf": [ref("LocalListFilter"), {"type": "null"}],
                "description": "null: voltmesh does not build this station's list",
            },
            "version_sent": NULLABLE_INT,
            "version_confirmed": {**NULLABLE_INT, "description": "last version it accepted"},
            "version_reported": {**NULLABLE_INT, "description": "last GetLocalListVersion"},
            "reported_at": NULLABLE_TIME,
            "dirty": {"type": "boolean", "description": "changes not sent yet"},
            "last_sync": {
                "type": ["object", "null"],
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "update_type": NULLABLE_STR,
                    "status": NULLABLE_STR,
                },
            },
            "last_attempt_at": NULLABLE_TIME,
            "last_error": NULLABLE_STR,
            "entries": {
                "type": "array",
                "description": "what the station holds, as its accepted updates told",
                "items": {
                    "type": "object",
                    "properties": {
                        "id_tag": {"type": "string"},
                        "type": NULLABLE_STR,
                        "status": {"type": "string"},
                        "expiry_date": NULLABLE_TIME,
                        "parent_id_tag": NULLABLE_STR,
                        "evse_ids": {
                            "type": ["array", "null"],
                            "items": {"type": "integer"},
                            "description": "2.x: the EVSEs it is valid at (null: all)",
                        },
                    },
                },
            },
        },
    },
    "LocalListSync": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "full": {"type": "boolean", "description": "a Full update (default: Differential)"}
        },
    },
    "LocalListSyncOutcome": _SYNC_OUTCOME,
}
"""OpenAPI schemas of this resource."""

PATHS: dict[str, Any] = {
    "/api/v1/stations/{station_id}/local-list": {
        "parameters": [path_param("station_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "A station's local authorization list: filter, versions, last sync, "
            "entries it holds",
            "responses": {"200": json_content(ref("LocalList"), "local list"), "404": PROBLEM},
        },
        "put": {
            "x-required-role": "admin",
            "summary": "Set which id tags the station's local list holds; connected stations "
            "get the change within seconds",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("LocalListFilter")}},
            },
            "responses": {
                "200": json_content(ref("LocalList"), "local list"),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        },
        "delete": {
            "x-required-role": "admin",
            "summary": "Stop building the station's local list (its filter becomes null); the "
            "station keeps the list it holds",
            "responses": {"200": json_content(ref("LocalList"), "local list"), "404": PROBLEM},
        },
    },
    "/api/v1/stations/{station_id}/local-list/sync": {
        "parameters": [path_param("station_id")],
        "post": {
            "x-required-role": "operator",
            "summary": "Send the station its list now (SendLocalList, Differential unless "
            "full); answers the station's status",
            "requestBody": {"content": {"application/json": {"schema": ref("LocalListSync")}}},
            "responses": {
                "200": json_content(ref("LocalListSyncOutcome"), "the station's answer"),
                **STATION_CALL_PROBLEMS,
            },
        },
    },
}
"""OpenAPI operations of this resource (each declares its ``x-required-role``)."""
