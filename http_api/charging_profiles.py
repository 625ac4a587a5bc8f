"""Charging profiles per station and EVSE, composite schedules, and the limits stations report
(OCPP 1.6 Smart Charging, 2.0.1 K).

- ``GET/POST /api/v1/stations/{id}/charging-profiles``: the profiles the station accepted; POST
  sends SetChargingProfile (201 with the kept profile when Accepted, 409 with the station's status
  and reason otherwise).
- ``GET/DELETE /api/v1/stations/{id}/charging-profiles/{profile_id}``: DELETE sends
  ClearChargingProfile and forgets the profile when the station answers Accepted or Unknown.
- ``POST .../charging-profiles/report``: GetChargingProfiles (2.x) and the ReportChargingProfiles
  parts it brought; ``GET .../charging-profiles/report/{request_id}`` reads them later.
- ``GET /api/v1/stations/{id}/composite-schedule``: the station's GetCompositeSchedule answer
  beside the composite schedule voltmesh computes from the profiles it keeps.
- ``GET /api/v1/stations/{id}/charging-limits``: external limits the station reported (K12/K13).

Profiles are kept by the charge point actor when the station answers (``csms.smart_charging``),
so one sent through ``/commands/SetChargingProfile`` or by the site load manager shows here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import weakref
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from csms.events import EventFilter, Subscription
from csms.payloads.fields import fits_int32
from csms.sites.profiles import is_site_profile
from csms.smart_charging.composite import schedule_view
from csms.smart_charging.kept import computed_composite
from csms.smart_charging.model import (
    MAX_PERIODS,
    PROFILE_FIELDS,
    ChargingProfile,
    ProfileError,
    Purpose,
    RateUnit,
    check_placement,
    profile_from_view,
    profile_view,
)
from csms.smart_charging.needs import NEEDS_PROFILE_ID_BASE
from csms.smart_charging.notifications import REPORTED
from csms.smart_charging.translate import (
    ClearCriteria,
    clear_charging_profile,
    composite_from_response,
    get_charging_profiles,
    get_composite_schedule,
    profile_from_wire,
    purpose_from_wire,
    set_charging_profile,
)
from http_api.commands import call_station
from http_api.fields import optional_object, refuse_unknown
from http_api.openapi_parts import (
    DATE_TIME,
    NULLABLE_INT,
    NULLABLE_NUM,
    NULLABLE_STR,
    NULLABLE_TIME,
    PROBLEM,
    STATION_CALL_PROBLEMS,
    json_content,
    page,
    path_param,
    ref,
)
from http_api.pagination import int_param
from http_api.problems import ApiProblem, json_response, read_json, read_object
from http_api.state import API_STATE, ApiState
from http_api.station_calls import known_station, station_to_call
from persistence import charging_profiles as kept
from persistence.sqltypes import utcnow
from transport.versions import OcppVersion

routes = web.RouteTableDef()

MAX_COMPOSITE_DURATION = 7 * 24 * 3600
"""Seconds; a week covers every recurrence."""
DEFAULT_COMPOSITE_DURATION = 3600
_REQUEST_IDS = 2**31 - 1


# -- views ---------------------------------------------------------------------------------------


def kept_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A kept profile: its JSON view, the EVSE it is on, and when and how it was accepted."""
    return {
        **row["profile"],
        "evse_id": row["evse_id"],
        "accepted_at": row["accepted_at"],
        "protocol": row["protocol"],
        "wire": row["wire"],
    }


def _limit_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "evse_id": row["evse_id"],
        "source": row["source"],
        "grid_critical": row["grid_critical"],
        "charging_limit": row["charging_limit"],
        "schedules": row["schedules"],
        "reported_at": row["reported_at"],
    }


def _reported_profile(station_id: str, wire: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return profile_view(profile_from_wire(OcppVersion.V201, station_id, wire))
    except (KeyError, TypeError, ValueError):
        # A station's own profile voltmesh cannot model: shown as reported.
        return {"wire": dict(wire)}


def _part_view(station_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "evse_id": row["evse_id"],
        "source": row["source"],
        "tbc": row["tbc"],
        "profiles": [_reported_profile(station_id, p) for p in row["profiles"]],
        "received_at": row["received_at"],
    }


# -- helpers -------------------------------------------------------------------------------------


def _profile_id(request: web.Request) -> int:
    raw = request.match_info["profile_id"]
    try:
        value = int(raw)
    except ValueError:
        value = None
    # Ids are 32-bit in OCPP and in the store: a larger one names no profile.
    if value is None or not fits_int32(value):
        raise ApiProblem(404, "Not Found", f"no charging profile {raw!r}")
    return value


def _evse_id(body: Mapping[str, Any]) -> int:
    evse_id = body.get("evse_id", 0)
    if isinstance(evse_id, bool) or not isinstance(evse_id, int) or evse_id < 0:
        raise ApiProblem(400, "Bad Request", "evse_id must be 0 (the station) or an EVSE id")
    return evse_id


def _refused(action: str, response: Mapping[str, Any]) -> ApiProblem:
    info = response.get("statusInfo") or {}
    return ApiProblem(
        409,
        "Conflict",
        f"the station answered {action} with {response.get('status')}",
        station_status=response.get("status"),
        reason=info.get("reasonCode"),
        additional_info=info.get("additionalInfo"),
    )


def _reserved(profile_id: int) -> bool:
    """Ids voltmesh's own senders use (the site load manager, the charging-needs planner): a
    profile of theirs replaces the one with its id, so an operator's must not take them."""
    return is_site_profile(profile_id) or profile_id >= NEEDS_PROFILE_ID_BASE


async def _next_profile_id(state: ApiState, station_id: str) -> int:
    """One more than the highest id of the station's kept profiles outside the reserved ranges
    (1 for the first), stepping over a reserved range it reaches."""
    rows = await kept.list_profiles(state.reads, station_id)
    candidate = max((r["profile_id"] for r in rows if not _reserved(r["profile_id"])), default=0)
    candidate += 1
    while is_site_profile(candidate):
        candidate += 1
    if candidate >= NEEDS_PROFILE_ID_BASE:
        raise ApiProblem(409, "Conflict", "no free charging profile id: give one")
    return candidate


_ALLOCATION_LOCKS: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
"""Per station, while a request holds it (unused locks go away with their last holder)."""


def _allocation_lock(station_id: str) -> asyncio.Lock:
    lock = _ALLOCATION_LOCKS.get(station_id)
    if lock is None:
        lock = _ALLOCATION_LOCKS[station_id] = asyncio.Lock()
    return lock


# -- kept profiles -------------------------------------------------------------------------------


@routes.get("/api/v1/stations/{station_id}/charging-profiles")
async def list_charging_profiles(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    await known_station(state, station_id)
    raw_purpose = request.query.get("purpose") or None
    try:
        # Either version's name (1.6 ChargePointMaxProfile is the station maximum).
        purpose = None if raw_purpose is None else purpose_from_wire(raw_purpose)
    except ValueError:
        raise ApiProblem(
            400, "Bad Request", f"purpose must be one of {', '.join(p.value for p in Purpose)}"
        ) from None
    rows = await kept.list_profiles(
        state.reads,
        station_id,
        evse_id=int_param(request, "evse_id"),
        purpose=None if purpose is None else purpose.value,
    )
    return json_response({"items": [kept_view(r) for r in rows], "next": None})


@routes.post("/api/v1/stations/{station_id}/charging-profiles")
async def set_profile(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    body = read_object(await read_json(request))
    refuse_unknown(body, PROFILE_FIELDS | {"evse_id"})
    evse_id = _evse_id(body)
    fields = {k: v for k, v in body.items() if k != "evse_id"}
    given_id = fields.get("id")
    try:
        # Checked before an id is handed out: a placeholder stands for the one to come.
        profile = profile_from_view({**fields, "id": 1 if given_id is None else given_id})
        check_placement(evse_id, profile)
    except ProfileError as exc:
        raise ApiProblem(400, "Bad Request", str(exc)) from None
    if given_id is not None:
        if _reserved(profile.id):
            raise ApiProblem(
                400,
                "Bad Request",
                f"profile id {profile.id} is in a range voltmesh's site load manager or "
                "charging-needs planner uses; leave id out for the next free one",
            )
        return await _send_profile(state, station_id, evse_id, profile)
    # Two requests without an id at once must not get the same id: the second profile would
    # replace the first on the station (1.6 section 5.16, 2.0.1 K01.FR.05). Ids are handed out
    # one at a time per station, each held until the station's answer is kept.
    async with _allocation_lock(station_id):
        profile_id = await _next_profile_id(state, station_id)
        return await _send_profile(
            state, station_id, evse_id, dataclasses.replace(profile, id=profile_id)
        )


async def _send_profile(
    state: ApiState, station_id: str, evse_id: int, profile: ChargingProfile
) -> web.Response:
    """SetChargingProfile; 201 with the profile as kept when the station accepted it."""
    version = await station_to_call(state, station_id, "SetChargingProfile")
    try:
        payload = set_charging_profile(version, station_id, evse_id, profile)
    except ProfileError as exc:
        raise ApiProblem(400, "Bad Request", str(exc)) from None
    result = await call_station(
        state, station_id, "SetChargingProfile", payload, timeout=state.command_timeout
    )
    if result.payload.get("status") != "Accepted":
        raise _refused("SetChargingProfile", result.payload)
    row = await kept.get_profile(state.reads, station_id, profile.id)
    if row is None:
        # Accepted but not kept (the answer broke the schema, or a TxProfile without a
        # transaction running on the EVSE, which the station discards): what was sent.
        view = {**profile_view(profile), "evse_id": evse_id, "accepted_at": None}
        return json_response(view, status=201)
    return json_response(kept_view(row), status=201)


@routes.post("/api/v1/stations/{station_id}/charging-profiles/report")
async def report_profiles(request: web.Request) -> web.Response:
    """GetChargingProfiles (2.0.1 K09), then the ReportChargingProfiles parts until the last
    (``tbc`` false) or the command timeout; what came by then is answered, ``complete`` says
    whether that was all."""
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    body = await optional_object(request)
    refuse_unknown(body, {"evse_id", "purpose", "stack_level", "profile_ids", "sources"})
    version = await station_to_call(state, station_id, "GetChargingProfiles")
    if version is OcppVersion.V16:
        raise ApiProblem(
            400,
            "Bad Request",
            "OCPP 1.6 has no way to read a station's charging profiles back (no "
            "GetChargingProfiles); the profiles listed are those it accepted",
        )
    criteria = _report_criteria(body)
    request_id = secrets.randbelow(_REQUEST_IDS - 1) + 1
    payload = get_charging_profiles(request_id, **criteria)
    # Subscribed before the call: the parts may follow its answer at once.
    reported = state.events.subscribe(EventFilter(station_id, [REPORTED]))
    try:
        result = await call_station(
            state, station_id, "GetChargingProfiles", payload, timeout=state.command_timeout
        )
        status = result.payload.get("status")
        if status != "Accepted":
            return json_response(
                {"request_id": request_id, "status": status, "complete": True, "parts": []}
            )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(state.command_timeout):
                await _last_part(reported, request_id)
    finally:
        reported.close()
    parts = await kept.report_parts(state.reads, station_id, request_id)
    complete = any(not p["tbc"] for p in parts)
    answer: dict[str, Any] = {
        "request_id": request_id,
        "status": status,
        "complete": complete,
        "parts": [_part_view(station_id, p) for p in parts],
    }
    if complete and not body.keys() - {"evse_id"}:
        answer["differences"] = await _differences(state, station_id, criteria, parts)
    return json_response(answer)


async def _last_part(reported: Subscription, request_id: int) -> None:
    """Until the part of ``request_id`` with ``tbc`` false is committed (or the stream drops
    this subscriber: what was kept by then is answered)."""
    while (event := await reported.next()) is not None:
        if event.data.get("request_id") == request_id and not event.data.get("tbc"):
            return


async def _differences(
    state: ApiState, station_id: str, criteria: Mapping[str, Any], parts: list[dict[str, Any]]
) -> dict[str, list[int]]:
    """After a full report: the profiles voltmesh keeps that the station no longer holds, and
    those the station holds (set by a CSMS) that voltmesh does not know of."""
    reported = {
        int(profile["id"])
        for part in parts
        if part["source"] == "CSO"
        for profile in part["profiles"]
        if isinstance(profile, dict) and isinstance(profile.get("id"), int)
    }
    rows = await kept.list_profiles(state.reads, station_id, evse_id=criteria.get("evse_id"))
    known = {int(r["profile_id"]) for r in rows}
    return {
        "kept_not_reported": sorted(known - reported),
        "reported_not_kept": sorted(reported - known),
    }


def _report_criteria(body: Mapping[str, Any]) -> dict[str, Any]:
    criteria: dict[str, Any] = {}
    if body.get("evse_id") is not None:
        criteria["evse_id"] = _evse_id(body)
    if body.get("purpose") is not None:
        try:
            criteria["purpose"] = Purpose(body["purpose"])
        except ValueError:
            raise ApiProblem(400, "Bad Request", "purpose is not a profile purpose") from None
    stack_level = body.get("stack_level")
    if stack_level is not None:
        if isinstance(stack_level, bool) or not isinstance(stack_level, int) or stack_level < 0:
            raise ApiProblem(400, "Bad Request", "stack_level must be an integer >= 0")
        criteria["stack_level"] = stack_level
    ids = body.get("profile_ids")
    if ids is not None:
        if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids
        ):
            raise ApiProblem(400, "Bad Request", "profile_ids must be a list of integers")
        criteria["profile_ids"] = ids
    sources = body.get("sources")
    if sources is not None:
        if not isinstance(sources, list) or not all(
            s in ("EMS", "Other", "SO", "CSO") for s in sources
        ):
            raise ApiProblem(400, "Bad Request", "sources must be a list of EMS, Other, SO, CSO")
        criteria["sources"] = sources
    if not criteria.keys() - {"evse_id"}:
        # K09: at least one criterion; every source is "all profiles".
        criteria["sources"] = ["EMS", "Other", "SO", "CSO"]
    return criteria


@routes.get("/api/v1/stations/{station_id}/charging-profiles/report/{request_id}")
async def report_of(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    try:
        request_id = int(request.match_info["request_id"])
    except ValueError:
        raise ApiProblem(404, "Not Found", "no such report") from None
    if not fits_int32(request_id):
        raise ApiProblem(404, "Not Found", "no such report")
    parts = await kept.report_parts(state.reads, station_id, request_id)
    if not parts:
        raise ApiProblem(404, "Not Found", f"no report {request_id} from {station_id!r}")
    return json_response(
        {
            "request_id": request_id,
            "complete": any(not p["tbc"] for p in parts),
            "parts": [_part_view(station_id, p) for p in parts],
        }
    )


@routes.get("/api/v1/stations/{station_id}/charging-profiles/{profile_id}")
async def get_profile(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    profile_id = _profile_id(request)
    row = await kept.get_profile(state.reads, station_id, profile_id)
    if row is None:
        raise ApiProblem(404, "Not Found", f"no charging profile {profile_id} on {station_id!r}")
    return json_response(kept_view(row))


@routes.delete("/api/v1/stations/{station_id}/charging-profiles/{profile_id}")
async def clear_profile(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    profile_id = _profile_id(request)
    version = await station_to_call(state, station_id, "ClearChargingProfile")
    had = await kept.get_profile(state.reads, station_id, profile_id)
    payload = clear_charging_profile(version, ClearCriteria(profile_id=profile_id))
    result = await call_station(
        state, station_id, "ClearChargingProfile", payload, timeout=state.command_timeout
    )
    status = result.payload.get("status")
    if status == "Unknown" and had is None:
        raise ApiProblem(
            404, "Not Found", f"station {station_id!r} holds no charging profile {profile_id}"
        )
    if status not in ("Accepted", "Unknown"):
        raise _refused("ClearChargingProfile", result.payload)
    return web.Response(status=204)


# -- composite schedule and limits ---------------------------------------------------------------


def _composite_params(request: web.Request) -> tuple[int, int, RateUnit]:
    evse_id = int_param(request, "evse_id")
    evse_id = 0 if evse_id is None else evse_id
    if evse_id < 0:
        raise ApiProblem(400, "Bad Request", "evse_id must be 0 (the station) or an EVSE id")
    duration = int_param(request, "duration")
    duration = DEFAULT_COMPOSITE_DURATION if duration is None else duration
    if not 1 <= duration <= MAX_COMPOSITE_DURATION:
        raise ApiProblem(
            400, "Bad Request", f"duration must be 1 to {MAX_COMPOSITE_DURATION} seconds"
        )
    raw_unit = request.query.get("unit") or "A"
    try:
        unit = RateUnit(raw_unit)
    except ValueError:
        raise ApiProblem(400, "Bad Request", "unit must be A or W") from None
    return evse_id, duration, unit


async def _station_composite(
    state: ApiState, station_id: str, evse_id: int, duration: int, unit: RateUnit
) -> dict[str, Any]:
    """The station's own answer, or what kept it from giving one."""
    version = await state.router.version_of(station_id)
    if version is None:
        return {"error": {"status": 404, "detail": f"station {station_id!r} is not connected"}}
    payload = get_composite_schedule(version, evse_id, duration, unit)
    try:
        result = await call_station(
            state, station_id, "GetCompositeSchedule", payload, timeout=state.command_timeout
        )
    except ApiProblem as exc:
        return {"error": {"status": exc.status, "detail": exc.detail, **exc.extra}}
    return {
        "status": result.payload.get("status"),
        "schedule": composite_from_response(version, result.payload),
        "response": result.payload,
    }


@routes.get("/api/v1/stations/{station_id}/composite-schedule")
async def composite(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    evse_id, duration, unit = _composite_params(request)
    await known_station(state, station_id)
    now = utcnow().replace(microsecond=0)
    computed = await computed_composite(
        state.reads, station_id, evse_id=evse_id, start=now, duration=duration, unit=unit
    )
    station = await _station_composite(state, station_id, evse_id, duration, unit)
    return json_response(
        {
            "evse_id": evse_id,
            "duration": duration,
            "unit": unit.value,
            "computed": schedule_view(computed),
            "station": station,
        }
    )


@routes.get("/api/v1/stations/{station_id}/charging-limits")
async def charging_limits(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    await known_station(state, station_id)
    rows = await kept.list_limits(state.reads, station_id)
    return json_response({"items": [_limit_view(r) for r in rows], "next": None})


# -- OpenAPI -------------------------------------------------------------------------------------

_STATION = path_param("station_id")
_NULLABLE_DATE_TIME = NULLABLE_TIME

SCHEMAS: dict[str, Any] = {
    "ChargingSchedulePeriod": {
        "type": "object",
        "required": ["start_period", "limit"],
        "properties": {
            "start_period": {"type": "integer", "minimum": 0},
            "limit": {"type": "number", "minimum": 0, "description": "A per phase, or W"},
            "number_phases": {"type": ["integer", "null"], "minimum": 1, "maximum": 3},
            "phase_to_use": {"type": ["integer", "null"], "minimum": 1, "maximum": 3},
        },
    },
    "ChargingSchedule": {
        "type": "object",
        "required": ["unit", "periods"],
        "properties": {
            "id": NULLABLE_INT,
            "start": _NULLABLE_DATE_TIME,
            "duration": NULLABLE_INT,
            "unit": {"enum": ["A", "W"]},
            "min_charging_rate": NULLABLE_NUM,
            "periods": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_PERIODS,
                "items": ref("ChargingSchedulePeriod"),
            },
        },
    },
    "ChargingProfileInput": {
        "type": "object",
        "description": "A profile to send; OCPP 1.6 takes exactly one schedule, 2.x up to three",
        "required": ["stack_level", "purpose", "kind", "schedules"],
        "properties": {
            "evse_id": {"type": "integer", "minimum": 0, "description": "0: the station"},
            "id": {"type": ["integer", "null"], "description": "absent: the next free id"},
            "stack_level": {"type": "integer", "minimum": 0},
            "purpose": {"enum": ["ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"]},
            "kind": {"enum": ["Absolute", "Recurring", "Relative"]},
            "recurrency": {"enum": ["Daily", "Weekly", None]},
            "valid_from": _NULLABLE_DATE_TIME,
            "valid_to": _NULLABLE_DATE_TIME,
            "transaction_id": NULLABLE_STR,
            "schedules": {
                "type": "array",
                "minItems": 1,
                "maxItems": 3,
                "items": ref("ChargingSchedule"),
            },
        },
    },
    "ChargingProfile": {
        "type": "object",
        "required": ["id", "evse_id", "stack_level", "purpose", "kind", "schedules"],
        "properties": {
            "id": {"type": "integer"},
            "evse_id": {"type": "integer"},
            "stack_level": {"type": "integer"},
            "purpose": {"type": "string"},
            "kind": {"type": "string"},
            "recurrency": NULLABLE_STR,
            "valid_from": _NULLABLE_DATE_TIME,
            "valid_to": _NULLABLE_DATE_TIME,
            "transaction_id": NULLABLE_STR,
            "schedules": {"type": "array", "items": ref("ChargingSchedule")},
            "accepted_at": _NULLABLE_DATE_TIME,
            "protocol": {"type": "string"},
            "wire": {"type": "object", "description": "as the station accepted it"},
        },
    },
    "ChargingProfileReport": {
        "type": "object",
        "required": ["request_id", "complete", "parts"],
        "properties": {
            "request_id": {"type": "integer"},
            "status": {"type": "string", "description": "Accepted or NoProfiles"},
            "complete": {"type": "boolean"},
            "differences": {
                "type": "object",
                "description": "after a complete report without criteria: kept profile ids "
                "the station did not report, and reported CSO profile ids voltmesh does not keep",
                "properties": {
                    "kept_not_reported": {"type": "array", "items": {"type": "integer"}},
                    "reported_not_kept": {"type": "array", "items": {"type": "integer"}},
                },
            },
            "parts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "evse_id": {"type": "integer"},
                        "source": {"type": "string"},
                        "tbc": {"type": "boolean"},
                        "profiles": {"type": "array", "items": {"type": "object"}},
                        "received_at": DATE_TIME,
                    },
                },
            },
        },
    },
    "CompositeSchedule": {
        "type": "object",
        "required": ["evse_id", "duration", "unit", "computed", "station"],
        "properties": {
            "evse_id": {"type": "integer"},
            "duration": {"type": "integer"},
            "unit": {"enum": ["A", "W"]},
            "computed": {
                "type": "object",
                "description": "from the profiles voltmesh keeps; a null limit: none applies",
                "properties": {
                    "start": DATE_TIME,
                    "periods": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "start_period": {"type": "integer"},
                                "limit": NULLABLE_NUM,
                                "number_phases": NULLABLE_INT,
                            },
                        },
                    },
                },
            },
            "station": {
                "type": "object",
                "description": "the station's answer (status, schedule, response), or error",
            },
        },
    },
    "ChargingLimit": {
        "type": "object",
        "required": ["evse_id", "source"],
        "properties": {
            "evse_id": {"type": "integer"},
            "source": {"type": "string"},
            "grid_critical": {"type": ["boolean", "null"]},
            "charging_limit": {"type": "object"},
            "schedules": {"type": ["array", "null"]},
            "reported_at": DATE_TIME,
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/stations/{station_id}/charging-profiles": {
        "parameters": [_STATION],
        "get": {
            "x-required-role": "viewer",
            "summary": "Charging profiles the station accepted and that are in force (a "
            "TxProfile ends with its transaction)",
            "parameters": [
                {"name": "evse_id", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "purpose", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": json_content(page("ChargingProfile"), "profiles"),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        },
        "post": {
            "x-required-role": "operator",
            "summary": "Send a charging profile (SetChargingProfile); kept when Accepted",
            "requestBody": {
                "content": {"application/json": {"schema": ref("ChargingProfileInput")}}
            },
            "responses": {
                "201": json_content(ref("ChargingProfile"), "accepted and kept"),
                **STATION_CALL_PROBLEMS,
            },
        },
    },
    "/api/v1/stations/{station_id}/charging-profiles/report": {
        "parameters": [_STATION],
        "post": {
            "x-required-role": "operator",
            "summary": "Read the station's profiles back (2.x GetChargingProfiles and its "
            "ReportChargingProfiles parts); 400 for OCPP 1.6, which cannot",
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "evse_id": {"type": "integer"},
                                "purpose": {"type": "string"},
                                "stack_level": {"type": "integer"},
                                "profile_ids": {"type": "array", "items": {"type": "integer"}},
                                "sources": {"type": "array", "items": {"type": "string"}},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": json_content(ref("ChargingProfileReport"), "the report"),
                **STATION_CALL_PROBLEMS,
            },
        },
    },
    "/api/v1/stations/{station_id}/charging-profiles/report/{request_id}": {
        "parameters": [_STATION, path_param("request_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "The ReportChargingProfiles parts of one request received so far",
            "responses": {
                "200": json_content(ref("ChargingProfileReport"), "the report"),
                "404": PROBLEM,
            },
        },
    },
    "/api/v1/stations/{station_id}/charging-profiles/{profile_id}": {
        "parameters": [_STATION, path_param("profile_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "One kept charging profile",
            "responses": {
                "200": json_content(ref("ChargingProfile"), "the profile"),
                "404": PROBLEM,
            },
        },
        "delete": {
            "x-required-role": "operator",
            "summary": "Clear a profile (ClearChargingProfile); forgotten when the station "
            "answers Accepted or Unknown",
            "responses": {"204": {"description": "cleared"}, **STATION_CALL_PROBLEMS},
        },
    },
    "/api/v1/stations/{station_id}/composite-schedule": {
        "parameters": [_STATION],
        "get": {
            "x-required-role": "viewer",
            "summary": "The station's GetCompositeSchedule answer beside the composite schedule "
            "voltmesh computes from the profiles it keeps",
            "parameters": [
                {"name": "evse_id", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {
                    "name": "duration",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_COMPOSITE_DURATION,
                        "default": DEFAULT_COMPOSITE_DURATION,
                    },
                },
                {"name": "unit", "in": "query", "schema": {"enum": ["A", "W"], "default": "A"}},
            ],
            "responses": {
                "200": json_content(ref("CompositeSchedule"), "both schedules"),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        },
    },
    "/api/v1/stations/{station_id}/charging-limits": {
        "parameters": [_STATION],
        "get": {
            "x-required-role": "viewer",
            "summary": "Limits the station reported as set by other systems (NotifyChargingLimit, "
            "until ClearedChargingLimit)",
            "responses": {"200": json_content(page("ChargingLimit"), "limits"), "404": PROBLEM},
        },
    },
}
"""OpenAPI operations of this resource (each declares its ``x-required-role``)."""
