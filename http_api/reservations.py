"""Reservations of EVSEs and connectors (OCPP 1.6 ReserveNow/CancelReservation, 2.0.1 H01-H04).

``POST /api/v1/stations/{id}/reservations`` allocates the reservation id and sends ReserveNow in the
station's version; the station's answer is kept by the observer of ReserveNow answers
(``csms.reservations``), so a reservation made through the raw command endpoint is listed too.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from aiohttp import web

from csms.reservations.requests import (
    ReservationRequest,
    ReservationRequestError,
    reserve_now_payload,
)
from http_api.commands import call_station
from http_api.fields import bad, int_field, refuse_unknown, time_field
from http_api.openapi_parts import (
    DATE_TIME,
    NULLABLE_INT,
    NULLABLE_STR,
    NULLABLE_TIME,
    PAGING,
    PROBLEM,
    STATION_CALL_PROBLEMS,
    json_content,
    page,
    path_param,
    ref,
)
from http_api.pagination import page_params
from http_api.problems import ApiProblem, json_response, read_json, read_object
from http_api.state import API_STATE, ApiState
from http_api.station_calls import station_to_call
from persistence.id_tokens import get_id_token
from persistence.records import id_token_key
from persistence.reservations import (
    OCPP_MAX_INTEGER,
    ReservationRecord,
    ReservationStatus,
    allocate_reservation_id,
    get_reservation,
    list_reservations,
)
from persistence.sqltypes import utcnow
from persistence.status_store import ConnectorStatus

routes = web.RouteTableDef()

_FIELDS = {
    "id_token",
    "id_token_type",
    "expires_at",
    "evse_id",
    "connector_id",
    "connector_type",
    "group_id_token",
}


def reservation_view(
    reservation: ReservationRecord, connectors: list[ConnectorStatus]
) -> dict[str, Any]:
    # A reservation of any EVSE (1.6 connectorId 0) holds one of them: all are shown.
    reserved = [
        {"evse_id": c.evse_id, "connector_id": c.connector_id, "status": c.status}
        for c in connectors
        if not reservation.evse_id or c.evse_id == reservation.evse_id
    ]
    return {
        "id": reservation.reservation_id,
        "station_id": reservation.station_id,
        "status": reservation.status.value,
        "id_token": reservation.id_token,
        "id_token_type": reservation.id_token_type,
        "group_id_token": reservation.group_id_token,
        "evse_id": reservation.evse_id,
        "connector_id": reservation.connector_id,
        "connector_type": reservation.connector_type,
        "expires_at": reservation.expires_at,
        "transaction_id": reservation.transaction_id,
        "ended_at": reservation.ended_at,
        "protocol": reservation.protocol,
        "created_at": reservation.created_at,
        "connectors": reserved,
    }


async def _view(state: ApiState, reservation: ReservationRecord) -> dict[str, Any]:
    return reservation_view(reservation, await state.status.connectors(reservation.station_id))


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    """A string or null; its length is checked against the version's schema when it is sent."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad(f"{name} must be a string or null")
    return value


def _expiry(body: dict[str, Any]) -> datetime:
    expires_at = time_field(body, "expires_at")
    if expires_at is None:
        raise bad("expires_at (RFC 3339 date-time) is required")
    if expires_at <= utcnow():
        raise bad("expires_at must be in the future")
    return expires_at


def _parse(body: dict[str, Any]) -> ReservationRequest:
    refuse_unknown(body, _FIELDS)
    id_token = body.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise ApiProblem(400, "Bad Request", "id_token (a non-empty string) is required")
    return ReservationRequest(
        reservation_id=0,
        id_token=id_token,
        expires_at=_expiry(body),
        evse_id=int_field(body, "evse_id", low=0, high=OCPP_MAX_INTEGER),
        connector_id=int_field(body, "connector_id", low=0, high=OCPP_MAX_INTEGER),
        connector_type=_optional_str(body, "connector_type"),
        group_id_token=_optional_str(body, "group_id_token"),
        id_token_type=_optional_str(body, "id_token_type"),
    )


@routes.post("/api/v1/stations/{station_id}/reservations")
async def create_reservation(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    wanted = _parse(read_object(await read_json(request)))
    version = await station_to_call(state, station_id, "ReserveNow")
    if wanted.id_token_type is None:
        known = await get_id_token(state.reads, id_token_key(wanted.id_token))
        if known is not None and known.type is not None:
            wanted = dataclasses.replace(wanted, id_token_type=known.type)
    try:
        reserve_now_payload(wanted, version)  # refused before an id is spent on it
    except ReservationRequestError as exc:
        raise ApiProblem(400, "Bad Request", str(exc)) from None
    reservation_id = await allocate_reservation_id(state.engine)
    payload = reserve_now_payload(
        dataclasses.replace(wanted, reservation_id=reservation_id), version
    )
    result = await call_station(
        state, station_id, "ReserveNow", payload, timeout=state.command_timeout
    )
    status = result.payload.get("status")
    if status != "Accepted":
        raise ApiProblem(
            409,
            "Conflict",
            f"the station answered {status} to ReserveNow",
            reservation_status=status,
            reservation_id=reservation_id,
        )
    reservation = await get_reservation(state.reads, reservation_id)
    if reservation is None or reservation.station_id != station_id:
        raise ApiProblem(
            500,
            "Internal Server Error",
            f"the station accepted reservation {reservation_id} but it could not be stored",
        )
    return json_response(await _view(state, reservation), status=201)


def _status_param(request: web.Request) -> ReservationStatus | None:
    raw = request.query.get("status")
    if not raw:
        return None
    try:
        return ReservationStatus(raw)
    except ValueError:
        names = ", ".join(s.value for s in ReservationStatus)
        raise ApiProblem(400, "Bad Request", f"status must be one of {names}") from None


@routes.get("/api/v1/reservations")
async def reservations_list(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    limit, cursor = page_params(request)
    page_ = await list_reservations(
        state.reads,
        station_id=request.query.get("station_id") or None,
        status=_status_param(request),
        limit=limit,
        after=cursor,
    )
    connectors = await state.status.connectors_of(sorted({r.station_id for r in page_.items}))
    items = [reservation_view(r, connectors.get(r.station_id, [])) for r in page_.items]
    return json_response({"items": items, "next": page_.next})


def _reservation_id(request: web.Request) -> int:
    raw = request.match_info["reservation_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
        raise ApiProblem(404, "Not Found", f"no reservation {raw!r}")
    return int(raw)


async def _existing(state: ApiState, reservation_id: int) -> ReservationRecord:
    reservation = await get_reservation(state.reads, reservation_id)
    if reservation is None:
        raise ApiProblem(404, "Not Found", f"no reservation {reservation_id}")
    return reservation


@routes.get("/api/v1/reservations/{reservation_id}")
async def reservation_get(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    reservation = await _existing(state, _reservation_id(request))
    return json_response(await _view(state, reservation))


@routes.delete("/api/v1/reservations/{reservation_id}")
async def reservation_cancel(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    reservation = await _existing(state, _reservation_id(request))
    if reservation.status is not ReservationStatus.ACTIVE:
        raise ApiProblem(
            409,
            "Conflict",
            f"reservation {reservation.reservation_id} is {reservation.status.value}",
            reservation_status=reservation.status.value,
        )
    result = await call_station(
        state,
        reservation.station_id,
        "CancelReservation",
        {"reservationId": reservation.reservation_id},
        timeout=state.command_timeout,
    )
    status = result.payload.get("status")
    if status != "Accepted":
        raise ApiProblem(
            409,
            "Conflict",
            f"the station answered {status} to CancelReservation",
            reservation_status=status,
        )
    return json_response(await _view(state, await _existing(state, reservation.reservation_id)))


_RESERVATION = {
    "type": "object",
    "required": ["id", "station_id", "status", "id_token", "expires_at", "connectors"],
    "properties": {
        "id": {"type": "integer", "description": "the OCPP reservation id"},
        "station_id": {"type": "string"},
        "status": {
            "type": "string",
            "enum": [s.value for s in ReservationStatus],
            "description": "Active until its expiry; Expired after it; Used once a transaction "
            "started with it; Cancelled; Removed by a 2.x station",
        },
        "id_token": {"type": "string"},
        "id_token_type": NULLABLE_STR,
        "group_id_token": NULLABLE_STR,
        "evse_id": {**NULLABLE_INT, "description": "null: any EVSE"},
        "connector_id": {**NULLABLE_INT, "description": "1.6 connectorId (0: any)"},
        "connector_type": NULLABLE_STR,
        "expires_at": DATE_TIME,
        "transaction_id": {**NULLABLE_STR, "description": "the transaction that used it"},
        "ended_at": NULLABLE_TIME,
        "protocol": {"type": "string"},
        "created_at": DATE_TIME,
        "connectors": {
            "type": "array",
            "description": "the reserved EVSE's connectors and their status (Reserved...)",
            "items": {
                "type": "object",
                "properties": {
                    "evse_id": {"type": "integer"},
                    "connector_id": {"type": "integer"},
                    "status": {"type": "string"},
                },
            },
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "Reservation": _RESERVATION,
    "ReservationInput": {
        "type": "object",
        "required": ["id_token", "expires_at"],
        "additionalProperties": False,
        "properties": {
            "id_token": {"type": "string"},
            "id_token_type": {
                **NULLABLE_STR,
                "description": "2.x IdTokenEnumType; default: the id tag's type, else ISO14443",
            },
            "expires_at": DATE_TIME,
            "evse_id": {**NULLABLE_INT, "description": "null or 0: any EVSE"},
            "connector_id": {
                **NULLABLE_INT,
                "description": "1.6 only: connectorId (null or 0: any connector)",
            },
            "connector_type": {**NULLABLE_STR, "description": "2.x only: connectorType"},
            "group_id_token": {
                **NULLABLE_STR,
                "description": "1.6 parentIdTag, 2.x groupIdToken",
            },
        },
    },
}
"""OpenAPI schemas of this resource."""


PATHS: dict[str, Any] = {
    "/api/v1/stations/{station_id}/reservations": {
        "parameters": [path_param("station_id")],
        "post": {
            "x-required-role": "operator",
            "summary": "Reserve an EVSE or connector of a connected station for an id token "
            "(ReserveNow); 409 with reservation_status when the station refuses",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("ReservationInput")}},
            },
            "responses": {
                "201": json_content(ref("Reservation"), "the station accepted it"),
                **STATION_CALL_PROBLEMS,
                "500": PROBLEM,
            },
        },
    },
    "/api/v1/reservations": {
        "get": {
            "x-required-role": "viewer",
            "summary": "Reservations, newest first",
            "parameters": [
                *PAGING,
                {"name": "station_id", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": [s.value for s in ReservationStatus]},
                },
            ],
            "responses": {"200": json_content(page("Reservation"), "reservations"), "400": PROBLEM},
        }
    },
    "/api/v1/reservations/{reservation_id}": {
        "parameters": [path_param("reservation_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "One reservation",
            "responses": {"200": json_content(ref("Reservation"), "reservation"), "404": PROBLEM},
        },
        "delete": {
            "x-required-role": "operator",
            "summary": "Cancel an active reservation (CancelReservation); 409 when it is not "
            "active or the station refuses",
            "responses": {
                "200": json_content(ref("Reservation"), "cancelled"),
                **STATION_CALL_PROBLEMS,
            },
        },
    },
}
"""OpenAPI operations of this resource (each declares its ``x-required-role``)."""
