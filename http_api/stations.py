"""``/api/v1/stations``: registration and live view of stations."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.endpoint import IDENTITY_RULE, valid_identity
from http_api.local_lists import station_deleted as local_list_forget
from http_api.pagination import int_param, page_params, time_range
from http_api.problems import ApiProblem, json_response, read_json, read_object
from http_api.state import API_STATE, ApiState
from http_api.views import station_view, variable_view
from persistence import device_model, events, stations
from persistence.records import RegistrationStatus, StationRecord
from persistence.status_store import ConnectorStatus, Presence
from transport.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password
from transport.versions import OcppVersion

routes = web.RouteTableDef()


def _station_view(
    station: StationRecord, presence: Presence | None, connectors: list[ConnectorStatus]
) -> dict[str, Any]:
    view = station_view(station, presence, connectors)
    # What its next BootNotification gets (``allowed`` is False exactly when it is Rejected).
    view["registration"] = station.registration.value
    return view


async def _view(state: ApiState, station: StationRecord) -> web.Response:
    presence = await state.status.presence(station.id)
    connectors = await state.status.connectors(station.id)
    return json_response(_station_view(station, presence, connectors))


@routes.get("/api/v1/stations")
async def list_stations(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    limit, cursor = page_params(request)
    page = await stations.list_stations(state.reads, limit=limit, after=cursor)
    ids = [s.id for s in page.items]
    presences = await state.status.presences(ids)
    connectors = await state.status.connectors_of(ids)
    items = [_station_view(s, presences.get(s.id), connectors.get(s.id, [])) for s in page.items]
    return json_response({"items": items, "next": page.next})


def _protocols(raw: object) -> list[str] | None:
    """``protocols``: null or a non-empty list of distinct OCPP subprotocols, preferred first."""
    if raw is None:
        return None
    known = [v.value for v in OcppVersion]
    if (
        not isinstance(raw, list)
        or not raw
        or any(p not in known for p in raw)
        or len(set(raw)) != len(raw)
    ):
        raise ApiProblem(
            400,
            "Bad Request",
            f"protocols must be null or a list of distinct subprotocols from {', '.join(known)}",
        )
    return [str(p) for p in raw]


def _registration(body: dict[str, Any], allowed: bool) -> RegistrationStatus:
    """``registration`` if given, else what ``allowed`` says; both must agree."""
    raw = body.get("registration")
    if raw is None:
        return RegistrationStatus.ACCEPTED if allowed else RegistrationStatus.REJECTED
    choices = [status.value for status in RegistrationStatus]
    if raw not in choices:
        raise ApiProblem(400, "Bad Request", f"registration must be one of {', '.join(choices)}")
    registration = RegistrationStatus(raw)
    if "allowed" in body and allowed != (registration is not RegistrationStatus.REJECTED):
        raise ApiProblem(
            400,
            "Bad Request",
            f"allowed {str(allowed).lower()} contradicts registration {registration.value} "
            "(allowed is false exactly when the registration is Rejected)",
        )
    return registration


@routes.get("/api/v1/stations/{station_id}")
async def get_station(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station = await stations.get_station(state.reads, request.match_info["station_id"])
    if station is None:
        raise ApiProblem(404, "Not Found", "no such station")
    return await _view(state, station)


@routes.put("/api/v1/stations/{station_id}")
async def put_station(request: web.Request) -> web.Response:
    """Register a station: ``{"registration": "Accepted" | "Pending" | "Rejected", "allowed":
    bool, "password": str | null, "lenient": bool, "protocols": [str] | null, "security_profile":
    0-3 | null}``.

    ``registration`` is what the station's next BootNotification gets (2.0.1 B01-B03, 1.6 section
    4.2.1); Rejected applies at once to a connected station (it is disconnected), Pending from
    its next boot if its last boot was Accepted (it does not know it is held back until then);
    ``allowed`` is the older form (true: Accepted, false: Rejected). Absent both: Accepted.

    ``password`` absent keeps the current one; null removes it (no basic auth). ``protocols``
    restricts the subprotocols it may connect with (absent or null: any the node offers).
    ``security_profile`` is the OCPP security profile it must connect with (absent keeps it, null:
    the node's ``VOLTMESH_MIN_SECURITY_PROFILE``).
    """
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    if not valid_identity(station_id) and not (
        valid_identity(station_id, stored=True)
        and await stations.get_station(state.reads, station_id) is not None
    ):
        raise ApiProblem(400, "Bad Request", IDENTITY_RULE)
    body = read_object(await read_json(request))
    unknown = set(body) - {
        "registration",
        "allowed",
        "password",
        "lenient",
        "protocols",
        "security_profile",
    }
    if unknown:
        raise ApiProblem(400, "Bad Request", f"unknown fields: {', '.join(sorted(unknown))}")
    allowed = body.get("allowed", True)
    lenient = body.get("lenient", False)
    if not isinstance(allowed, bool) or not isinstance(lenient, bool):
        raise ApiProblem(400, "Bad Request", "allowed and lenient must be booleans")
    registration = _registration(body, allowed)
    password = body.get("password")
    if password is not None and (
        not isinstance(password, str)
        or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH
    ):
        raise ApiProblem(
            400,
            "Bad Request",
            f"password must be a string of {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} "
            "characters (OCPP 1.6 security whitepaper, 2.0.1 BasicAuthPassword)",
        )
    security_profile = body.get("security_profile", ...)
    if security_profile is not ... and (
        security_profile not in (None, 0, 1, 2, 3) or isinstance(security_profile, bool)
    ):
        raise ApiProblem(
            400, "Bad Request", "security_profile must be 0, 1, 2, 3 or null (the node's floor)"
        )
    protocols = _protocols(body.get("protocols"))
    password_hash = hash_password(password) if password is not None else None
    record, created = await stations.put_station(
        state.engine,
        station_id,
        registration=registration,
        password_hash=password_hash,
        keep_password="password" not in body,
        lenient=lenient,
        protocols=protocols,
        security_profile=security_profile,
    )
    state.station_changed(station_id, False)
    response = await _view(state, record)
    response.set_status(201 if created else 200)
    return response


@routes.delete("/api/v1/stations/{station_id}")
async def delete_station(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    if not await stations.delete_station(state.engine, station_id):
        raise ApiProblem(404, "Not Found", "no such station")
    state.station_changed(station_id, True)
    await local_list_forget(state, station_id)
    return web.Response(status=204)


@routes.get("/api/v1/stations/{station_id}/configuration")
async def get_configuration(request: web.Request) -> web.Response:
    """Last known configuration keys of a 1.6 station, online or not (from its answers to
    GetConfiguration and ChangeConfiguration, each with when it was learned); send
    GetConfiguration to fill it."""
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    if await stations.get_station(state.reads, station_id) is None:
        raise ApiProblem(404, "Not Found", "no such station")
    rows = await stations.station_configuration_of(state.reads, station_id)
    keys = [
        {
            "key": row["key"],
            "value": row["value"],
            "readonly": row["readonly"],
            "learned_at": row["learned_at"],
        }
        for row in rows
        if row["known"]
    ]
    return json_response(
        {
            "keys": keys,
            "unknown": [row["key"] for row in rows if not row["known"]],
            "updated_at": max((row["learned_at"] for row in rows), default=None),
        }
    )


@routes.get("/api/v1/stations/{station_id}/variables")
async def get_variables(request: web.Request) -> web.Response:
    """The device model of a 2.x station as it reported it, filtered by ``component``,
    ``variable``, ``evse_id`` and ``attribute_type``; GetBaseReport fills it."""
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    if await stations.get_station(state.reads, station_id) is None:
        raise ApiProblem(404, "Not Found", "no such station")
    limit, cursor = page_params(request)
    query = request.query
    page = await device_model.list_device_variables(
        state.reads,
        station_id,
        component=query.get("component") or None,
        variable=query.get("variable") or None,
        evse_id=int_param(request, "evse_id"),
        attribute_type=query.get("attribute_type") or None,
        limit=limit,
        after=cursor,
    )
    return json_response({"items": [variable_view(v) for v in page.items], "next": page.next})


def kind_filter(raw: str | None) -> events.KindFilter:
    """``type``: comma-separated event kinds; one that ends in ``*`` stands for every kind that
    starts with what precedes it (``Command:*``, ``Notify*``)."""
    wanted = [part.strip() for part in (raw or "").split(",") if part.strip()]
    return events.KindFilter(
        exact=[kind for kind in wanted if not kind.endswith("*")],
        prefixes=[kind[:-1] for kind in wanted if kind.endswith("*")],
    )


def event_view(event: events.StationEvent) -> dict[str, object]:
    return {"id": event.id, "type": event.kind, "at": event.received_at, "payload": event.payload}


@routes.get("/api/v1/stations/{station_id}/events")
async def list_events(request: web.Request) -> web.Response:
    """What a station reported or answered, as stored, newest first: notifications, security
    events, firmware and log status, connections taken over, and the commands it answered
    (``Command:<Action>``); filtered by ``type``, ``since`` and ``until`` (time received)."""
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    limit, cursor = page_params(request)
    since, until = time_range(request)
    kinds = kind_filter(request.query.get("type"))
    if await stations.get_station(state.reads, station_id) is None:
        raise ApiProblem(404, "Not Found", "no such station")
    page = await events.list_station_events(
        state.reads,
        station_id,
        kinds=kinds,
        since=since,
        until=until,
        limit=limit,
        after=cursor,
    )
    return json_response({"items": [event_view(e) for e in page.items], "next": page.next})
