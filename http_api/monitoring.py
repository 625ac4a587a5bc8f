"""Variable monitors per station (2.x; OCPP 2.0.1 N02-N08).

``GET/POST /api/v1/stations/{id}/monitors``: what the station holds; POST sends SetVariableMonitoring
and answers each monitor's status (the Accepted are kept). ``DELETE .../monitors/{monitor_id}``:
ClearVariableMonitoring. ``GET/PUT .../monitoring``: the monitoring base and level the station
accepted (SetMonitoringBase, SetMonitoringLevel). ``GET/POST .../monitors/report``: GetMonitoringReport,
whose NotifyMonitoringReport parts are kept as they arrive.

What is kept comes from the station's answers (``csms.monitoring``), whatever path sent the call.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from csms.monitoring.bounds import INT32_MAX
from csms.monitoring.components import component_columns, component_type, variable_type
from http_api.commands import call_station
from http_api.fields import integer, one_of, optional_object, refuse_unknown, text
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
from http_api.state import API_STATE, ApiState
from http_api.station_calls import known_station, station_to_call
from persistence.monitoring import (
    MONITORING,
    ReportStatus,
    latest_report,
    list_monitors,
    monitoring_settings,
)
from persistence.sqltypes import utcnow

routes = web.RouteTableDef()

MAX_MONITORS_PER_REQUEST = 100
"""Monitors one POST may set (each is one SetMonitoringData of one SetVariableMonitoring)."""
REPORT_STALLED_AFTER = timedelta(minutes=5)
"""A report still receiving whose last part (or acceptance) is older than this is shown stalled."""
MONITOR_TYPES = (
    "UpperThreshold",
    "LowerThreshold",
    "Delta",
    "Periodic",
    "PeriodicClockAligned",
    # OCPP 2.1 only.
    "TargetDelta",
    "TargetDeltaRelative",
)
_WHAT = "variable monitoring"
"""What a 1.6 station lacks, in the 409 it gets."""

MONITORING_BASES = ("All", "FactoryDefault", "HardWiredOnly")
MONITORING_CRITERIA = ("ThresholdMonitoring", "DeltaMonitoring", "PeriodicMonitoring")


# -- shared with the display messages ------------------------------------------------------------


def new_request_id() -> int:
    """A requestId for a report: random, so that two members never hand out the same one."""
    return secrets.randbelow(INT32_MAX) + 1


async def station_answer(
    state: ApiState, station_id: str, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Send ``action`` and return the station's answer (failures as ``call_station`` maps them).
    An answer outside the OCPP schema (a lenient station's gets through) is a 502: no observer
    learnt from it, so nothing of it is kept, and what it says cannot be read reliably."""
    result = await call_station(state, station_id, action, payload, timeout=state.command_timeout)
    if result.violation is not None:
        raise ApiProblem(
            502,
            "Bad Gateway",
            f"station {station_id!r} answered {action} outside the OCPP schema, so nothing of "
            f"it is kept: {result.violation}",
            response=result.payload,
        )
    return result.payload


def path_id(request: web.Request, name: str, what: str) -> int:
    """An integer id of the path (a 32-bit one, as OCPP ids are kept); 400 otherwise."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or int(raw) > INT32_MAX:
        raise ApiProblem(400, "Bad Request", f"{what} must be a non-negative integer, got {raw!r}")
    return int(raw)


def component_from(body: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A ComponentType from flat fields (component, component_instance, evse_id, connector_id)."""
    columns: dict[str, Any] = {
        "component": text(body.get("component"), f"{where}.component", limit=50)
    }
    if body.get("component_instance") is not None:
        columns["component_instance"] = text(
            body["component_instance"], f"{where}.component_instance", limit=50
        )
    if body.get("evse_id") is not None:
        columns["evse_id"] = integer(body["evse_id"], f"{where}.evse_id")
    if body.get("connector_id") is not None:
        if "evse_id" not in columns:
            raise ApiProblem(400, "Bad Request", f"{where}.connector_id needs an evse_id")
        columns["connector_id"] = integer(body["connector_id"], f"{where}.connector_id")
    return component_type(columns)


def variable_from(body: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A VariableType from flat fields (variable, variable_instance)."""
    columns: dict[str, Any] = {
        "variable": text(body.get("variable"), f"{where}.variable", limit=50)
    }
    if body.get("variable_instance") is not None:
        columns["variable_instance"] = text(
            body["variable_instance"], f"{where}.variable_instance", limit=50
        )
    return variable_type(columns)


def status_of(response: Mapping[str, Any]) -> dict[str, Any]:
    """A station's status answer, as the API shows it."""
    return {"status": response.get("status"), "status_info": response.get("statusInfo")}


def refusal(response: Mapping[str, Any]) -> dict[str, Any]:
    """A station's status answer as members of a problem document (whose own ``status`` is the
    HTTP status)."""
    return {"station_status": response.get("status"), "status_info": response.get("statusInfo")}


def report_view(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A report's progress; one still receiving that heard nothing for a while shows ``stalled``."""
    status = row["status"]
    last = row["last_part_at"] or row["requested_at"]
    if status == ReportStatus.RECEIVING and last is not None and now - last > REPORT_STALLED_AFTER:
        status = "stalled"
    return {
        "request_id": row["request_id"],
        "status": status,
        "criteria": row["criteria"],
        "parts": row["parts"],
        "kept": row["kept"],
        "dropped": row["dropped"],
        "removed": row["removed"],
        "requested_at": row["requested_at"],
        "last_part_at": row["last_part_at"],
        "completed_at": row["completed_at"],
    }


# -- monitors ------------------------------------------------------------------------------------

_MONITOR_FIELDS = {
    "id",
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "type",
    "value",
    "severity",
    "transaction",
    "periodic_event_stream",
}


def monitor_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["monitor_id"],
        "component": row["component"],
        "component_instance": row["component_instance"],
        "evse_id": row["evse_id"],
        "connector_id": row["connector_id"],
        "variable": row["variable"],
        "variable_instance": row["variable_instance"],
        "type": row["type"],
        "value": row["value"],
        "severity": row["severity"],
        "transaction": row["transaction_only"],
        "source": row["source"],
        "event_notification_type": row["event_notification_type"],
        "periodic_event_stream": row["periodic_event_stream"],
        "request_id": row["request_id"],
        "updated_at": row["updated_at"],
    }


def monitoring_data(item: Any, where: str) -> dict[str, Any]:
    """A SetMonitoringDataType from one monitor of the body."""
    if not isinstance(item, dict):
        raise ApiProblem(400, "Bad Request", f"{where} must be an object")
    refuse_unknown(item, _MONITOR_FIELDS, where)
    value = item.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ApiProblem(400, "Bad Request", f"{where}.value must be a number")
    data: dict[str, Any] = {
        "component": component_from(item, where),
        "variable": variable_from(item, where),
        "type": one_of(item.get("type"), f"{where}.type", MONITOR_TYPES),
        "value": value,
        "severity": integer(item.get("severity"), f"{where}.severity", high=9),
    }
    if item.get("id") is not None:
        data["id"] = integer(item["id"], f"{where}.id")
    if item.get("transaction") is not None:
        if not isinstance(item["transaction"], bool):
            raise ApiProblem(400, "Bad Request", f"{where}.transaction must be true or false")
        data["transaction"] = item["transaction"]
    if item.get("periodic_event_stream") is not None:
        if not isinstance(item["periodic_event_stream"], dict):
            raise ApiProblem(400, "Bad Request", f"{where}.periodic_event_stream must be an object")
        data["periodicEventStream"] = item["periodic_event_stream"]
    return data


def result_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """A SetMonitoringResult, flat."""
    component = component_columns(result["component"])
    return {
        "status": result["status"],
        "status_info": result.get("statusInfo"),
        "id": result.get("id"),
        **component,
        "variable": result["variable"]["name"],
        "variable_instance": result["variable"].get("instance"),
        "type": result["type"],
        "severity": result["severity"],
    }


@routes.get("/api/v1/stations/{station_id}/monitors")
async def list_station_monitors(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    await known_station(state, station_id)
    limit, cursor = page_params(request)
    found = await list_monitors(state.reads, station_id, limit=limit, after=cursor)
    return json_response({"items": [monitor_view(r) for r in found.items], "next": found.next})


@routes.post("/api/v1/stations/{station_id}/monitors")
async def set_monitors(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    body = await read_json(request)
    # The list itself, or {"monitors": [...]}.
    if isinstance(body, list):
        items: Any = body
    else:
        body = read_object(body)
        refuse_unknown(body, {"monitors"}, "the body")
        items = body.get("monitors")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_MONITORS_PER_REQUEST:
        raise ApiProblem(
            400,
            "Bad Request",
            f"monitors must be a list of 1-{MAX_MONITORS_PER_REQUEST} monitors",
        )
    data = [monitoring_data(item, f"monitors[{i}]") for i, item in enumerate(items)]
    await station_to_call(state, station_id, "SetVariableMonitoring", v2_only=_WHAT)
    answer = await station_answer(
        state, station_id, "SetVariableMonitoring", {"setMonitoringData": data}
    )
    results = [result_view(r) for r in answer["setMonitoringResult"]]
    return json_response(
        {
            "results": results,
            "accepted": sum(1 for r in results if r["status"] == "Accepted"),
        }
    )


@routes.delete("/api/v1/stations/{station_id}/monitors/{monitor_id}")
async def clear_monitor(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    monitor_id = path_id(request, "monitor_id", "monitor id")
    await station_to_call(state, station_id, "ClearVariableMonitoring", v2_only=_WHAT)
    cleared = await station_answer(
        state, station_id, "ClearVariableMonitoring", {"id": [monitor_id]}
    )
    answers = [r for r in cleared["clearMonitoringResult"] if r.get("id") == monitor_id]
    answer = answers[0] if answers else cleared["clearMonitoringResult"][0]
    status = answer["status"]
    if status == "Accepted":
        return web.Response(status=204)
    if status == "NotFound":
        raise ApiProblem(
            404,
            "Not Found",
            f"station {station_id!r} has no monitor {monitor_id}",
            **refusal(answer),
        )
    raise ApiProblem(
        409,
        "Conflict",
        f"station {station_id!r} did not clear monitor {monitor_id}: {status}",
        **refusal(answer),
    )


# -- base and level ------------------------------------------------------------------------------


def settings_view(station_id: str, row: Mapping[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    return {
        "station_id": station_id,
        "base": row.get("base"),
        "base_updated_at": row.get("base_updated_at"),
        "level": row.get("level"),
        "level_updated_at": row.get("level_updated_at"),
    }


@routes.get("/api/v1/stations/{station_id}/monitoring")
async def get_monitoring(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    await known_station(state, station_id)
    return json_response(
        settings_view(station_id, await monitoring_settings(state.reads, station_id))
    )


@routes.put("/api/v1/stations/{station_id}/monitoring")
async def put_monitoring(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    body = read_object(await read_json(request))
    refuse_unknown(body, {"base", "level"}, "the body")
    if body.get("base") is None and body.get("level") is None:
        raise ApiProblem(400, "Bad Request", "give a base, a level or both")
    calls: list[tuple[str, str, dict[str, Any]]] = []
    if body.get("base") is not None:
        base = one_of(body["base"], "base", MONITORING_BASES)
        calls.append(("base", "SetMonitoringBase", {"monitoringBase": base}))
    if body.get("level") is not None:
        level = integer(body["level"], "level", high=9)
        calls.append(("level", "SetMonitoringLevel", {"severity": level}))
    await station_to_call(state, station_id, calls[0][1], v2_only=_WHAT)
    answers: dict[str, dict[str, Any]] = {}
    for name, action, payload in calls:
        answers[name] = status_of(await station_answer(state, station_id, action, payload))
    view = settings_view(station_id, await monitoring_settings(state.reads, station_id))
    refused = {name: a["status"] for name, a in answers.items() if a["status"] != "Accepted"}
    if refused:
        said = ", ".join(f"{name} {status}" for name, status in refused.items())
        raise ApiProblem(
            409,
            "Conflict",
            f"station {station_id!r} refused: {said}",
            results=answers,
            monitoring=view,
        )
    return json_response({**view, "results": answers})


# -- reports -------------------------------------------------------------------------------------


def _component_variable(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ApiProblem(400, "Bad Request", f"{where} must be an object")
    refuse_unknown(
        item,
        {
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
        },
        where,
    )
    wanted: dict[str, Any] = {"component": component_from(item, where)}
    if item.get("variable") is not None:
        wanted["variable"] = variable_from(item, where)
    elif item.get("variable_instance") is not None:
        raise ApiProblem(400, "Bad Request", f"{where}.variable_instance needs a variable")
    return wanted


def report_request(body: Mapping[str, Any], request_id: int) -> dict[str, Any]:
    """A GetMonitoringReportRequest from the body (every field optional)."""
    refuse_unknown(body, {"monitoring_criteria", "component_variables"}, "the body")
    payload: dict[str, Any] = {"requestId": request_id}
    criteria = body.get("monitoring_criteria")
    if criteria is not None:
        if not isinstance(criteria, list) or not criteria:
            raise ApiProblem(400, "Bad Request", "monitoring_criteria must be a non-empty list")
        payload["monitoringCriteria"] = [
            one_of(c, f"monitoring_criteria[{i}]", MONITORING_CRITERIA)
            for i, c in enumerate(criteria)
        ]
    wanted = body.get("component_variables")
    if wanted is not None:
        if not isinstance(wanted, list) or not wanted:
            raise ApiProblem(400, "Bad Request", "component_variables must be a non-empty list")
        payload["componentVariable"] = [
            _component_variable(item, f"component_variables[{i}]") for i, item in enumerate(wanted)
        ]
    return payload


@routes.get("/api/v1/stations/{station_id}/monitors/report")
async def get_monitoring_report(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    return await latest_report_response(state, station_id, MONITORING, "monitoring")


async def latest_report_response(
    state: ApiState, station_id: str, kind: str, what: str
) -> web.Response:
    """The last report of ``kind`` (``persistence.monitoring``) the station sent, with how far it
    got; 404 when it sent none (``what`` names the report)."""
    await known_station(state, station_id)
    row = await latest_report(state.reads, station_id, kind)
    if row is None:
        raise ApiProblem(404, "Not Found", f"no {what} report of station {station_id!r}")
    return json_response(report_view(row, utcnow()))


@routes.post("/api/v1/stations/{station_id}/monitors/report")
async def request_monitoring_report(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    payload = report_request(await optional_object(request), new_request_id())
    await station_to_call(state, station_id, "GetMonitoringReport", v2_only=_WHAT)
    response = await station_answer(state, station_id, "GetMonitoringReport", payload)
    answer = {"request_id": payload["requestId"], **status_of(response)}
    status = answer["status"]
    if status == "Accepted":
        return json_response(answer, status=202)
    if status == "EmptyResultSet":
        return json_response(answer)
    raise ApiProblem(
        409,
        "Conflict",
        f"station {station_id!r} answered {status}",
        request_id=payload["requestId"],
        **refusal(response),
    )


# -- OpenAPI -------------------------------------------------------------------------------------

_STATION = path_param("station_id")
_COMPONENT_FIELDS: dict[str, Any] = {
    "component": {"type": "string", "maxLength": 50},
    "component_instance": NULLABLE_STR,
    "evse_id": NULLABLE_INT,
    "connector_id": NULLABLE_INT,
}
_VARIABLE_FIELDS: dict[str, Any] = {
    "variable": {"type": "string", "maxLength": 50},
    "variable_instance": NULLABLE_STR,
}
_STATUS_INFO = {"type": ["object", "null"]}
_MONITOR_LIST = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_MONITORS_PER_REQUEST,
    "items": ref("MonitorRequest"),
}

SCHEMAS: dict[str, Any] = {
    "Monitor": {
        "type": "object",
        "description": "A variable monitor the station holds (2.0.1 VariableMonitoringType)",
        "properties": {
            "id": {"type": "integer", "description": "the id the station gave it"},
            **_COMPONENT_FIELDS,
            **_VARIABLE_FIELDS,
            "type": {"type": "string", "enum": list(MONITOR_TYPES)},
            "value": {"type": "number"},
            "severity": {"type": "integer", "minimum": 0, "maximum": 9},
            "transaction": {"type": "boolean"},
            "source": {"type": "string", "enum": ["operator", "report"]},
            "event_notification_type": NULLABLE_STR,
            "periodic_event_stream": {"type": ["object", "null"]},
            "request_id": NULLABLE_INT,
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "MonitorRequest": {
        "type": "object",
        "required": ["component", "variable", "type", "value", "severity"],
        "properties": {
            "id": {"type": "integer", "description": "replace the station's monitor of this id"},
            **_COMPONENT_FIELDS,
            **_VARIABLE_FIELDS,
            "type": {"type": "string", "enum": list(MONITOR_TYPES)},
            "value": {"type": "number"},
            "severity": {"type": "integer", "minimum": 0, "maximum": 9},
            "transaction": {"type": "boolean"},
            "periodic_event_stream": {"type": "object", "description": "OCPP 2.1 only"},
        },
        "additionalProperties": False,
    },
    "MonitorResults": {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string"},
                        "status_info": _STATUS_INFO,
                        "id": NULLABLE_INT,
                        **_COMPONENT_FIELDS,
                        **_VARIABLE_FIELDS,
                        "type": {"type": "string"},
                        "severity": {"type": "integer"},
                    },
                },
            },
            "accepted": {"type": "integer"},
        },
    },
    "MonitoringSettings": {
        "type": "object",
        "properties": {
            "station_id": {"type": "string"},
            "base": {"type": ["string", "null"], "enum": [*MONITORING_BASES, None]},
            "base_updated_at": NULLABLE_TIME,
            "level": NULLABLE_INT,
            "level_updated_at": NULLABLE_TIME,
            "results": {"type": "object"},
        },
    },
    "StationReport": {
        "type": "object",
        "description": "A multi-part report's progress: receiving, complete, superseded by a "
        "newer request, or stalled (receiving, and nothing heard for 5 minutes)",
        "properties": {
            "request_id": {"type": "integer"},
            "status": {
                "type": "string",
                "enum": ["receiving", "complete", "superseded", "stalled"],
            },
            "criteria": {"type": ["object", "null"]},
            "parts": {"type": "integer"},
            "kept": {"type": "integer"},
            "dropped": {"type": "integer"},
            "removed": {"type": "integer"},
            "requested_at": NULLABLE_TIME,
            "last_part_at": NULLABLE_TIME,
            "completed_at": NULLABLE_TIME,
        },
    },
    "ReportAnswer": {
        "type": "object",
        "properties": {
            "request_id": {"type": "integer"},
            "status": {"type": "string"},
            "status_info": _STATUS_INFO,
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/stations/{station_id}/monitors": {
        "parameters": [_STATION],
        "get": {
            "x-required-role": "viewer",
            "summary": "Variable monitors the station holds (2.x), by id",
            "parameters": PAGING,
            "responses": {
                "200": json_content(page("Monitor"), "monitors"),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        },
        "post": {
            "x-required-role": "operator",
            "summary": "Set monitors (SetVariableMonitoring); answers each one's status, keeps the "
            "Accepted",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                _MONITOR_LIST,
                                {
                                    "type": "object",
                                    "required": ["monitors"],
                                    "properties": {"monitors": _MONITOR_LIST},
                                },
                            ]
                        }
                    }
                },
            },
            "responses": {
                "200": json_content(ref("MonitorResults"), "each monitor's status"),
                **STATION_CALL_PROBLEMS,
            },
        },
    },
    "/api/v1/stations/{station_id}/monitors/report": {
        "parameters": [_STATION],
        "get": {
            "x-required-role": "viewer",
            "summary": "The progress of the station's latest monitoring report",
            "responses": {"200": json_content(ref("StationReport"), "report"), "404": PROBLEM},
        },
        "post": {
            "x-required-role": "operator",
            "summary": "Ask for a monitoring report (GetMonitoringReport); its parts are kept as "
            "they arrive, and the complete report replaces what it covers",
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "monitoring_criteria": {
                                    "type": "array",
                                    "items": {"type": "string", "enum": list(MONITORING_CRITERIA)},
                                },
                                "component_variables": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["component"],
                                        "properties": {**_COMPONENT_FIELDS, **_VARIABLE_FIELDS},
                                    },
                                },
                            },
                        }
                    }
                }
            },
            "responses": {
                "202": json_content(ref("ReportAnswer"), "accepted: the parts follow"),
                "200": json_content(ref("ReportAnswer"), "EmptyResultSet: nothing matches"),
                **STATION_CALL_PROBLEMS,
            },
        },
    },
    "/api/v1/stations/{station_id}/monitors/{monitor_id}": {
        "parameters": [_STATION, path_param("monitor_id")],
        "delete": {
            "x-required-role": "operator",
            "summary": "Clear a monitor (ClearVariableMonitoring); 404 when the station has none "
            "of this id, 409 when it refuses",
            "responses": {"204": {"description": "cleared"}, **STATION_CALL_PROBLEMS},
        },
    },
    "/api/v1/stations/{station_id}/monitoring": {
        "parameters": [_STATION],
        "get": {
            "x-required-role": "viewer",
            "summary": "The monitoring base and level the station accepted",
            "responses": {
                "200": json_content(ref("MonitoringSettings"), "settings"),
                "404": PROBLEM,
            },
        },
        "put": {
            "x-required-role": "operator",
            "summary": "Set the monitoring base (SetMonitoringBase) and/or level "
            "(SetMonitoringLevel); 409 when the station refuses either",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "base": {"type": "string", "enum": list(MONITORING_BASES)},
                                "level": {"type": "integer", "minimum": 0, "maximum": 9},
                            },
                            "additionalProperties": False,
                        }
                    }
                },
            },
            "responses": {
                "200": json_content(ref("MonitoringSettings"), "accepted"),
                **STATION_CALL_PROBLEMS,
            },
        },
    },
}
"""OpenAPI operations of this resource (each declares its ``x-required-role``)."""
