"""Display messages per station (2.x; OCPP 2.0.1 O01-O06).

``GET/POST /api/v1/stations/{id}/display-messages``: what the station shows; POST sends
SetDisplayMessage (201 when Accepted, 409 with the station's status otherwise).
``DELETE .../display-messages/{message_id}``: ClearDisplayMessage. ``GET/POST
.../display-messages/report``: GetDisplayMessages, whose NotifyDisplayMessages parts are kept as they
arrive (Unknown: the station has none of what was asked).

What is kept comes from the station's answers (``csms.monitoring.display``), whatever path sent
the call.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from csms.monitoring.bounds import INT32_MAX
from csms.monitoring.components import component_columns
from csms.payloads.timestamps import ocpp_time
from http_api.fields import date_time, integer, one_of, optional_object, refuse_unknown, text
from http_api.monitoring import (
    component_from,
    latest_report_response,
    new_request_id,
    path_id,
    refusal,
    station_answer,
    status_of,
)
from http_api.openapi_parts import (
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
from http_api.state import API_STATE
from http_api.station_calls import known_station, station_to_call
from persistence.display_messages import (
    get_display_message,
    list_display_messages,
    next_message_id,
)
from persistence.monitoring import DISPLAY_MESSAGES

routes = web.RouteTableDef()

_WHAT = "display messages"
"""What a 1.6 station lacks, in the 409 it gets."""

PRIORITIES = ("AlwaysFront", "InFront", "NormalCycle")
STATES = ("Charging", "Faulted", "Idle", "Unavailable", "Suspended", "Discharging")
"""MessageStateEnumType; Suspended and Discharging are OCPP 2.1 only."""
FORMATS = ("ASCII", "HTML", "URI", "UTF8", "QRCODE")
"""MessageFormatEnumType; QRCODE is OCPP 2.1 only."""
MAX_CONTENT = 1024
"""Characters of a message's content (2.1; 2.0.1 stations take 512, and the schema says so)."""
_MESSAGE_FIELDS = {
    "id",
    "priority",
    "state",
    "start",
    "end",
    "transaction_id",
    "message",
    "message_extra",
    "display",
}


def _content(value: Any, where: str) -> dict[str, Any]:
    """A MessageContentType from {format, language, content}."""
    if not isinstance(value, dict):
        raise ApiProblem(400, "Bad Request", f"{where} must be an object")
    refuse_unknown(value, {"format", "language", "content"}, where)
    content: dict[str, Any] = {
        "format": one_of(value.get("format"), f"{where}.format", FORMATS),
        "content": text(value.get("content"), f"{where}.content", limit=MAX_CONTENT),
    }
    if value.get("language") is not None:
        content["language"] = text(value["language"], f"{where}.language", limit=8)
    return content


def _time(value: Any, name: str) -> str:
    return ocpp_time(date_time(value, name))


def message_info(body: Mapping[str, Any], message_id: int) -> dict[str, Any]:
    """A MessageInfoType from the body."""
    refuse_unknown(body, _MESSAGE_FIELDS, "the body")
    info: dict[str, Any] = {
        "id": message_id,
        "priority": one_of(body.get("priority"), "priority", PRIORITIES),
        "message": _content(body.get("message"), "message"),
    }
    if body.get("state") is not None:
        info["state"] = one_of(body["state"], "state", STATES)
    if body.get("start") is not None:
        info["startDateTime"] = _time(body["start"], "start")
    if body.get("end") is not None:
        info["endDateTime"] = _time(body["end"], "end")
    start, end = info.get("startDateTime"), info.get("endDateTime")
    if start is not None and end is not None and end <= start:
        raise ApiProblem(400, "Bad Request", "end must be later than start")
    if body.get("transaction_id") is not None:
        info["transactionId"] = text(body["transaction_id"], "transaction_id", limit=36)
    extra = body.get("message_extra")
    if extra is not None:
        if not isinstance(extra, list) or not 1 <= len(extra) <= 4:
            raise ApiProblem(400, "Bad Request", "message_extra must be a list of 1-4 messages")
        info["messageExtra"] = [_content(e, f"message_extra[{i}]") for i, e in enumerate(extra)]
    display = body.get("display")
    if display is not None:
        if not isinstance(display, dict):
            raise ApiProblem(400, "Bad Request", "display must be an object")
        refuse_unknown(
            display, {"component", "component_instance", "evse_id", "connector_id"}, "display"
        )
        info["display"] = component_from(display, "display")
    return info


def _content_view(content: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "format": content["format"],
        "language": content.get("language"),
        "content": content["content"],
    }


def message_view(row: Mapping[str, Any]) -> dict[str, Any]:
    display = row["display"]
    return {
        "id": row["message_id"],
        "priority": row["priority"],
        "state": row["state"],
        "start": row["start_time"],
        "end": row["end_time"],
        "transaction_id": row["transaction_id"],
        "message": _content_view(row),
        "message_extra": [_content_view(e) for e in row["message_extra"]]
        if row["message_extra"]
        else None,
        "display": component_columns(display) if display else None,
        "source": row["source"],
        "request_id": row["request_id"],
        "updated_at": row["updated_at"],
    }


@routes.get("/api/v1/stations/{station_id}/display-messages")
async def list_station_display_messages(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    await known_station(state, station_id)
    limit, cursor = page_params(request)
    found = await list_display_messages(state.reads, station_id, limit=limit, after=cursor)
    return json_response({"items": [message_view(r) for r in found.items], "next": found.next})


_CHOSEN: weakref.WeakKeyDictionary[web.Application, dict[str, int]] = weakref.WeakKeyDictionary()
"""Per API, per station: the highest message id this member chose (one int per station)."""


async def chosen_message_id(request: web.Request, station_id: str) -> int:
    """An id for a message the operator sent without one: one more than the highest kept, and
    than any this member chose before. Two concurrent requests would otherwise both take the
    same id (the first message is not kept until the station accepted it), and the station
    replace the first message with the second (2.0.1 O06)."""
    chosen = _CHOSEN.setdefault(request.app, {})
    kept = await next_message_id(request.app[API_STATE].reads, station_id)
    # No await from here to the record of the choice: the next request sees it.
    message_id = max(kept, chosen.get(station_id, 0) + 1)
    if message_id > INT32_MAX:
        raise ApiProblem(
            409,
            "Conflict",
            f"station {station_id!r} keeps a message of the highest id there is: give an id",
        )
    chosen[station_id] = message_id
    return message_id


@routes.post("/api/v1/stations/{station_id}/display-messages")
async def set_display_message(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    body = read_object(await read_json(request))
    given = body.get("id")
    await known_station(state, station_id)
    if given is not None:
        return await _send_message(request, station_id, message_info(body, integer(given, "id")))
    # Checked before an id is chosen: a bad body is a 400 whatever the id.
    message_info(body, 0)
    message_id = await chosen_message_id(request, station_id)
    return await _send_message(request, station_id, message_info(body, message_id))


async def _send_message(
    request: web.Request, station_id: str, info: dict[str, Any]
) -> web.Response:
    """SetDisplayMessage; 201 with the message as kept, 409 with the station's status."""
    state = request.app[API_STATE]
    message_id = info["id"]
    await station_to_call(state, station_id, "SetDisplayMessage", v2_only=_WHAT)
    response = await station_answer(state, station_id, "SetDisplayMessage", {"message": info})
    status = response["status"]
    if status != "Accepted":
        raise ApiProblem(
            409,
            "Conflict",
            f"station {station_id!r} did not take message {message_id}: {status}",
            id=message_id,
            **refusal(response),
        )
    row = await get_display_message(state.reads, station_id, message_id)
    if row is None:
        raise ApiProblem(
            500,
            "Internal Server Error",
            f"station {station_id!r} accepted message {message_id}, but it could not be kept",
        )
    return json_response(message_view(row), status=201)


@routes.delete("/api/v1/stations/{station_id}/display-messages/{message_id}")
async def clear_display_message(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    message_id = path_id(request, "message_id", "message id")
    await station_to_call(state, station_id, "ClearDisplayMessage", v2_only=_WHAT)
    response = await station_answer(state, station_id, "ClearDisplayMessage", {"id": message_id})
    status = response["status"]
    if status == "Accepted":
        return web.Response(status=204)
    if status == "Unknown":
        raise ApiProblem(
            404,
            "Not Found",
            f"station {station_id!r} has no message {message_id}",
            **refusal(response),
        )
    raise ApiProblem(
        409,
        "Conflict",
        f"station {station_id!r} did not clear message {message_id}: {status}",
        **refusal(response),
    )


def report_request(body: Mapping[str, Any], request_id: int) -> dict[str, Any]:
    """A GetDisplayMessagesRequest from the body (every field optional)."""
    refuse_unknown(body, {"ids", "priority", "state"}, "the body")
    payload: dict[str, Any] = {"requestId": request_id}
    ids = body.get("ids")
    if ids is not None:
        if not isinstance(ids, list) or not ids:
            raise ApiProblem(400, "Bad Request", "ids must be a non-empty list of message ids")
        payload["id"] = [integer(i, f"ids[{n}]") for n, i in enumerate(ids)]
    if body.get("priority") is not None:
        payload["priority"] = one_of(body["priority"], "priority", PRIORITIES)
    if body.get("state") is not None:
        payload["state"] = one_of(body["state"], "state", STATES)
    return payload


@routes.get("/api/v1/stations/{station_id}/display-messages/report")
async def get_display_messages_report(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    return await latest_report_response(state, station_id, DISPLAY_MESSAGES, "display message")


@routes.post("/api/v1/stations/{station_id}/display-messages/report")
async def request_display_messages_report(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    payload = report_request(await optional_object(request), new_request_id())
    await station_to_call(state, station_id, "GetDisplayMessages", v2_only=_WHAT)
    response = await station_answer(state, station_id, "GetDisplayMessages", payload)
    answer = {"request_id": payload["requestId"], **status_of(response)}
    # Accepted: the NotifyDisplayMessages parts follow. Unknown: the station has none of those.
    return json_response(answer, status=202 if answer["status"] == "Accepted" else 200)


# -- OpenAPI -------------------------------------------------------------------------------------

_STATION = path_param("station_id")
_CONTENT = {
    "type": "object",
    "required": ["format", "content"],
    "properties": {
        "format": {"type": "string", "enum": list(FORMATS)},
        "language": NULLABLE_STR,
        "content": {"type": "string", "maxLength": MAX_CONTENT},
    },
}
_DISPLAY = {
    "type": ["object", "null"],
    "properties": {
        "component": {"type": "string"},
        "component_instance": NULLABLE_STR,
        "evse_id": NULLABLE_INT,
        "connector_id": NULLABLE_INT,
    },
}
_FIELDS: dict[str, Any] = {
    "id": {"type": "integer", "minimum": 0},
    "priority": {"type": "string", "enum": list(PRIORITIES)},
    "state": {"type": ["string", "null"], "enum": [*STATES, None]},
    "start": NULLABLE_TIME,
    "end": NULLABLE_TIME,
    "transaction_id": {"type": ["string", "null"], "maxLength": 36},
    "message": _CONTENT,
    "message_extra": {"type": ["array", "null"], "items": _CONTENT},
    "display": _DISPLAY,
}

SCHEMAS: dict[str, Any] = {
    "DisplayMessage": {
        "type": "object",
        "description": "A message the station shows (2.0.1 MessageInfoType)",
        "properties": {
            **_FIELDS,
            "source": {"type": "string", "enum": ["operator", "report"]},
            "request_id": NULLABLE_INT,
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "DisplayMessageRequest": {
        "type": "object",
        "required": ["priority", "message"],
        "description": "id: replace the station's message of this id (default: one more than the "
        "highest kept and than any this member numbered before); message_extra and the states Suspended, Discharging and the format "
        "QRCODE are OCPP 2.1 only",
        "properties": _FIELDS,
        "additionalProperties": False,
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/stations/{station_id}/display-messages": {
        "parameters": [_STATION],
        "get": {
            "x-required-role": "viewer",
            "summary": "Display messages the station shows (2.x), by id",
            "parameters": PAGING,
            "responses": {
                "200": json_content(page("DisplayMessage"), "display messages"),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        },
        "post": {
            "x-required-role": "operator",
            "summary": "Show a message (SetDisplayMessage); 409 with the station's status when it "
            "does not take it (NotSupportedMessageFormat, Rejected, NotSupportedPriority, "
            "NotSupportedState, UnknownTransaction)",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("DisplayMessageRequest")}},
            },
            "responses": {
                "201": json_content(ref("DisplayMessage"), "accepted and kept"),
                **STATION_CALL_PROBLEMS,
            },
        },
    },
    "/api/v1/stations/{station_id}/display-messages/report": {
        "parameters": [_STATION],
        "get": {
            "x-required-role": "viewer",
            "summary": "The progress of the station's latest display message report",
            "responses": {"200": json_content(ref("StationReport"), "report"), "404": PROBLEM},
        },
        "post": {
            "x-required-role": "operator",
            "summary": "Ask for the station's messages (GetDisplayMessages); the parts are kept as "
            "they arrive; Unknown: it has none of those, and none is kept",
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "ids": {"type": "array", "items": {"type": "integer"}},
                                "priority": {"type": "string", "enum": list(PRIORITIES)},
                                "state": {"type": "string", "enum": list(STATES)},
                            },
                            "additionalProperties": False,
                        }
                    }
                }
            },
            "responses": {
                "202": json_content(ref("ReportAnswer"), "accepted: the parts follow"),
                "200": json_content(ref("ReportAnswer"), "Unknown: no such message"),
                **STATION_CALL_PROBLEMS,
            },
        },
    },
    "/api/v1/stations/{station_id}/display-messages/{message_id}": {
        "parameters": [_STATION, path_param("message_id")],
        "delete": {
            "x-required-role": "operator",
            "summary": "Clear a message (ClearDisplayMessage); 404 when the station has none of "
            "this id",
            "responses": {"204": {"description": "cleared"}, **STATION_CALL_PROBLEMS},
        },
    },
}
"""OpenAPI operations of this resource (each declares its ``x-required-role``)."""
