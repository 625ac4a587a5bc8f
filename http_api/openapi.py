"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from http_api.problems import json_response

routes = web.RouteTableDef()

_NULLABLE_STR = {"type": ["string", "null"]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_NULLABLE_NUM = {"type": ["number", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next"],
        "properties": {"items": {"type": "array", "items": _ref(item)}, "next": _NULLABLE_STR},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_PROBLEM = {
    "description": "problem",
    "content": {"application/problem+json": {"schema": _ref("Problem")}},
}
_PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
        },
    },
    "Connector": {
        "type": "object",
        "required": ["id", "status", "error_code"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string"},
            "error_code": _NULLABLE_STR,
            "info": _NULLABLE_STR,
            "vendor_error_code": _NULLABLE_STR,
            "timestamp": _NULLABLE_TIME,
        },
    },
    "Station": {
        "type": "object",
        "required": ["id", "registered", "connected", "protocol", "last_seen", "boot", "evses"],
        "properties": {
            "id": {"type": "string"},
            "registered": {"type": "boolean"},
            "allowed": {"type": "boolean"},
            "lenient": {"type": "boolean"},
            "has_password": {"type": "boolean"},
            "connected": {"type": "boolean"},
            "protocol": _NULLABLE_STR,
            "protocols": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "subprotocols it may use, in order of preference; null: any",
            },
            "last_seen": _NULLABLE_TIME,
            "boot": {
                "type": "object",
                "properties": {
                    "vendor": _NULLABLE_STR,
                    "model": _NULLABLE_STR,
                    "serial": _NULLABLE_STR,
                    "firmware": _NULLABLE_STR,
                    "status": _NULLABLE_STR,
                    "reason": _NULLABLE_STR,
                    "last_boot": _NULLABLE_TIME,
                },
            },
            "evses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "connectors": {"type": "array", "items": _ref("Connector")},
                    },
                },
            },
        },
    },
    "StationRegistration": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "allowed": {"type": "boolean", "default": True},
            "password": {"type": ["string", "null"], "minLength": 8, "maxLength": 40},
            "lenient": {"type": "boolean", "default": False},
            "protocols": {
                "type": ["array", "null"],
                "items": {"enum": ["ocpp2.1", "ocpp2.0.1", "ocpp1.6"]},
                "description": "restrict the station to these subprotocols, preferred first",
            },
        },
    },
    "Variable": {
        "type": "object",
        "required": ["component", "variable", "attribute_type", "value"],
        "properties": {
            "component": {"type": "string"},
            "component_instance": _NULLABLE_STR,
            "evse_id": _NULLABLE_INT,
            "connector_id": _NULLABLE_INT,
            "variable": {"type": "string"},
            "variable_instance": _NULLABLE_STR,
            "attribute_type": {"enum": ["Actual", "Target", "MinSet", "MaxSet"]},
            "value": _NULLABLE_STR,
            "mutability": _NULLABLE_STR,
            "persistent": {"type": ["boolean", "null"]},
            "constant": {"type": ["boolean", "null"]},
            "characteristics": {"type": ["object", "null"]},
            "source": {"type": "string"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "MeterValue": {
        "type": "object",
        "properties": {
            "timestamp": {"type": "string", "format": "date-time"},
            "measurand": {"type": "string"},
            "phase": _NULLABLE_STR,
            "unit": _NULLABLE_STR,
            "value": {"type": ["number", "string", "null"]},
            "context": _NULLABLE_STR,
            "location": _NULLABLE_STR,
        },
    },
    "Transaction": {
        "type": "object",
        "required": ["id", "station_id", "energy_wh"],
        "properties": {
            "id": {"type": "string"},
            "station_id": {"type": "string"},
            "station_transaction_id": {
                "type": "string",
                "description": "the id the station knows it by (a 2.x charger's transactionId)",
            },
            "evse_id": _NULLABLE_INT,
            "connector_id": _NULLABLE_INT,
            "id_token": _NULLABLE_STR,
            "id_token_type": _NULLABLE_STR,
            "start_time": _NULLABLE_TIME,
            "stop_time": _NULLABLE_TIME,
            "meter_start_wh": _NULLABLE_NUM,
            "meter_stop_wh": _NULLABLE_NUM,
            "energy_wh": _NULLABLE_NUM,
            "stop_reason": _NULLABLE_STR,
            "active": {"type": "boolean"},
            "stale": {"type": "boolean"},
            "protocol": {"type": "string"},
            "remote_start_id": _NULLABLE_INT,
            "reservation_id": _NULLABLE_INT,
            "extra": {"type": "object"},
            "events": {
                "type": "array",
                "items": {"type": "object"},
                "description": "2.x TransactionEvents (seqNo order), only on GET /transactions/{id}",
            },
            "remote_start": {
                "type": ["object", "null"],
                "description": "the RequestStartTransaction with its remote_start_id, as sent "
                "through this API (requested_at, request, response); only on GET "
                "/transactions/{id}",
            },
            "meter_values": {
                "type": "array",
                "items": _ref("MeterValue"),
                "description": "only on GET /transactions/{id}",
            },
        },
    },
    "IdTag": {
        "type": "object",
        "properties": {
            "id_tag": {"type": "string"},
            "type": _NULLABLE_STR,
            "status": {"enum": ["Accepted", "Blocked", "Expired", "Invalid"]},
            "expiry_date": _NULLABLE_TIME,
            "parent_id_tag": _NULLABLE_STR,
            "evse_ids": {"type": ["array", "null"], "items": {"type": "integer"}},
        },
    },
    "IdTagInput": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "status": {"enum": ["Accepted", "Blocked", "Expired", "Invalid"]},
            "expiry_date": _NULLABLE_TIME,
            "parent_id_tag": _NULLABLE_STR,
            "type": _NULLABLE_STR,
            "evse_ids": {
                "type": ["array", "null"],
                "items": {"type": "integer", "minimum": 0},
                "description": "EVSEs the token is valid at (2.x evseId); null: all",
            },
        },
    },
    "CommandResult": {
        "type": "object",
        "required": ["action", "response"],
        "properties": {
            "action": {"type": "string"},
            "response": {"type": "object"},
            "schema_violation": {"type": "string"},
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/stations": {
        "get": {
            "summary": "List stations",
            "parameters": _PAGING,
            "responses": {"200": _json(_page("Station"), "stations"), "400": _PROBLEM},
        }
    },
    "/api/v1/stations/{station_id}": {
        "parameters": [_path_param("station_id")],
        "get": {
            "summary": "One station with its EVSEs and connectors",
            "responses": {"200": _json(_ref("Station"), "station"), "404": _PROBLEM},
        },
        "put": {
            "summary": "Register a station (allowed, basic-auth password, lenient mode)",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("StationRegistration")}},
            },
            "responses": {
                "200": _json(_ref("Station"), "updated"),
                "201": _json(_ref("Station"), "registered"),
                "400": _PROBLEM,
            },
        },
        "delete": {
            "summary": "Forget a station's registration",
            "responses": {"204": {"description": "deleted"}, "404": _PROBLEM},
        },
    },
    "/api/v1/stations/{station_id}/commands/{action}": {
        "parameters": [_path_param("station_id"), _path_param("action")],
        "post": {
            "summary": "Send a CSMS-initiated OCPP call; the body is its request payload",
            "parameters": [{"name": "timeout", "in": "query", "schema": {"type": "number"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": _json(_ref("CommandResult"), "the station's response"),
                "400": _PROBLEM,
                "404": _PROBLEM,
                "409": _PROBLEM,
                "502": _PROBLEM,
                "503": _PROBLEM,
                "504": _PROBLEM,
            },
        },
    },
    "/api/v1/stations/{station_id}/configuration": {
        "parameters": [_path_param("station_id")],
        "get": {
            "summary": "Last known configuration keys of a connected station",
            "responses": {"200": _json({"type": "object"}, "configuration"), "404": _PROBLEM},
        },
    },
    "/api/v1/stations/{station_id}/variables": {
        "parameters": [_path_param("station_id")],
        "get": {
            "summary": "The device model a 2.x station reported (NotifyReport, GetVariables, "
            "SetVariables, NotifyEvent)",
            "parameters": [
                *_PAGING,
                {"name": "component", "in": "query", "schema": {"type": "string"}},
                {"name": "variable", "in": "query", "schema": {"type": "string"}},
                {"name": "evse_id", "in": "query", "schema": {"type": "integer"}},
                {"name": "attribute_type", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": _json(_page("Variable"), "variables"),
                "400": _PROBLEM,
                "404": _PROBLEM,
            },
        },
    },
    "/api/v1/transactions": {
        "get": {
            "summary": "List transactions, newest first",
            "parameters": [
                *_PAGING,
                {"name": "station_id", "in": "query", "schema": {"type": "string"}},
                {"name": "active", "in": "query", "schema": {"type": "boolean"}},
                {"name": "remote_start_id", "in": "query", "schema": {"type": "integer"}},
            ],
            "responses": {"200": _json(_page("Transaction"), "transactions"), "400": _PROBLEM},
        }
    },
    "/api/v1/transactions/{transaction_id}": {
        "parameters": [_path_param("transaction_id")],
        "get": {
            "summary": "One transaction with its meter values",
            "responses": {"200": _json(_ref("Transaction"), "transaction"), "404": _PROBLEM},
        },
    },
    "/api/v1/id-tags": {
        "get": {
            "summary": "List id tags",
            "parameters": _PAGING,
            "responses": {"200": _json(_page("IdTag"), "id tags"), "400": _PROBLEM},
        }
    },
    "/api/v1/id-tags/{id_tag}": {
        "parameters": [_path_param("id_tag")],
        "get": {"responses": {"200": _json(_ref("IdTag"), "id tag"), "404": _PROBLEM}},
        "put": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("IdTagInput")}},
            },
            "responses": {
                "200": _json(_ref("IdTag"), "updated"),
                "201": _json(_ref("IdTag"), "created"),
                "400": _PROBLEM,
            },
        },
        "delete": {"responses": {"204": {"description": "deleted"}, "404": _PROBLEM}},
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "voltmesh operator API", "version": "1"},
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"bearer": []}],
    "paths": PATHS,
}


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(DOCUMENT)
