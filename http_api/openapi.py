"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

It is also the table of authorization: each operation declares the least role it needs
(``x-required-role``) or that it is open (``security: []``), and ``http_api.auth`` enforces what it
says. The document itself is open: it describes the API and holds no data of the deployment.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from csms.local_lists.carried import TOKEN_TYPES
from http_api import (
    charging_profiles,
    display_messages,
    firmware,
    local_lists,
    log_uploads,
    monitoring,
    reservations,
    sites,
    tariffs,
)
from http_api.openapi_parts import (
    DATE_TIME,
    NULLABLE_INT,
    NULLABLE_NUM,
    NULLABLE_STR,
    NULLABLE_TIME,
    PAGING,
    PROBLEM,
    json_content,
    page,
    path_param,
    ref,
    time_range,
)
from http_api.problems import json_response
from http_api.roles import Role

AREAS = (
    charging_profiles,
    sites,
    reservations,
    local_lists,
    firmware,
    log_uploads,
    monitoring,
    display_messages,
    tariffs,
)
"""Resource modules that describe their own operations and schemas."""

routes = web.RouteTableDef()

_ROLE_NAMES = [r.value for r in Role]
_NULLABLE_STR = NULLABLE_STR
_NULLABLE_TIME = NULLABLE_TIME
_NULLABLE_NUM = NULLABLE_NUM
_NULLABLE_INT = NULLABLE_INT
_DATE_TIME = DATE_TIME
_ref = ref
_page = page
_json = json_content
_PROBLEM = PROBLEM
_PAGING = PAGING
_path_param = path_param
_time_range = time_range


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
            "registration": {
                "enum": ["Accepted", "Pending", "Rejected"],
                "description": "what its next BootNotification gets once registered",
            },
            "allowed": {"type": "boolean", "description": "false exactly when Rejected"},
            "lenient": {"type": "boolean"},
            "has_password": {"type": "boolean"},
            "security_profile": {
                "type": ["integer", "null"],
                "enum": [0, 1, 2, 3, None],
                "description": "OCPP security profile it must connect with; null: the node's floor",
            },
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
            "registration": {
                "enum": ["Accepted", "Pending", "Rejected"],
                "default": "Accepted",
                "description": "what the station's next BootNotification gets (2.0.1 B01-B03, "
                "1.6 section 4.2.1). Answered Pending, a station may send only BootNotification, "
                "Heartbeat and what the CSMS asked for; one whose last boot was Accepted is "
                "served as before until it boots again (send Reset to hold it back at once). "
                "Rejected applies at once and closes its socket",
            },
            "allowed": {
                "type": "boolean",
                "default": True,
                "description": "older form: true is Accepted, false Rejected; must agree with "
                "registration when both are given",
            },
            "password": {"type": ["string", "null"], "minLength": 16, "maxLength": 40},
            "lenient": {"type": "boolean", "default": False},
            "security_profile": {
                "type": ["integer", "null"],
                "enum": [0, 1, 2, 3, None],
                "description": "0 none, 1 basic auth, 2 basic auth over TLS, 3 client "
                "certificate (CN = station id); null: VOLTMESH_MIN_SECURITY_PROFILE; absent keeps it",
            },
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
    "Configuration": {
        "type": "object",
        "required": ["keys", "unknown", "updated_at"],
        "properties": {
            "keys": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "value", "readonly", "learned_at"],
                    "properties": {
                        "key": {"type": "string"},
                        "value": _NULLABLE_STR,
                        "readonly": {"type": ["boolean", "null"]},
                        "learned_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
            "unknown": {
                "type": "array",
                "items": {"type": "string"},
                "description": "keys the station said it does not know",
            },
            "updated_at": _NULLABLE_TIME,
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
            "signed": {
                "type": ["object", "null"],
                "description": "a signed reading, verbatim: 2.x signedMeterValue "
                "(signedMeterData, signingMethod, encodingMethod, publicKey); a 1.6 SignedData "
                "sample as {signedMeterData}",
            },
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
            "cost": _ref("TransactionCost"),
            "abandoned": {
                "type": "boolean",
                "description": "closed by the CSMS, not by its station: refused at start "
                "(stop_reason DeAuthorized) or left behind (Abandoned: the station booted again or "
                "started another transaction on the EVSE); a later stop from the station replaces it",
            },
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
            "expiry_date": {
                **_NULLABLE_TIME,
                "description": "RFC 3339 with an offset; stored in UTC",
            },
            "parent_id_tag": {"type": ["string", "null"], "minLength": 1, "maxLength": 36},
            "type": {
                "enum": [*sorted(TOKEN_TYPES, key=str.lower), None],
                "description": "2.x IdTokenEnumType (2.1 adds DirectPayment, EVCCID, NEVI, VIN)",
            },
            "evse_ids": {
                "type": ["array", "null"],
                "items": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                "description": "EVSEs the token is valid at (2.x evseId); null: all",
            },
        },
    },
    "StationCertificate": {
        "type": "object",
        "required": ["certificate_type", "serial_number", "issuer_key_hash", "issuer_name_hash"],
        "properties": {
            "certificate_type": {"type": "string"},
            "hash_algorithm": {"type": "string"},
            "issuer_name_hash": {"type": "string"},
            "issuer_key_hash": {"type": "string"},
            "serial_number": {"type": "string"},
            "details": {"type": ["object", "null"]},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "PasswordChange": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "password": {
                "type": "string",
                "minLength": 16,
                "maxLength": 40,
                "description": "printable ASCII without spaces (1.6: at most 20); absent: generated",
            }
        },
    },
    "PasswordChangeResult": {
        "type": "object",
        "required": ["station_id", "action", "status", "changed"],
        "properties": {
            "station_id": {"type": "string"},
            "action": {"enum": ["SetVariables", "ChangeConfiguration"]},
            "status": {"type": "string", "description": "what the station answered"},
            "changed": {"type": "boolean"},
            "password": {
                "type": "string",
                "description": "the generated password, shown this once",
            },
        },
    },
    "StationEvent": {
        "type": "object",
        "required": ["id", "type", "at", "payload"],
        "properties": {
            "id": {"type": "integer"},
            "type": {"type": "string", "description": "the OCPP action, or Command:<Action>"},
            "at": {"type": "string", "format": "date-time", "description": "when it was received"},
            "payload": {"type": "object", "description": "as received (passwords as ***)"},
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
            "x-required-role": "viewer",
            "summary": "List stations",
            "parameters": _PAGING,
            "responses": {"200": _json(_page("Station"), "stations"), "400": _PROBLEM},
        }
    },
    "/api/v1/stations/{station_id}": {
        "parameters": [_path_param("station_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "One station with its EVSEs and connectors",
            "responses": {"200": _json(_ref("Station"), "station"), "404": _PROBLEM},
        },
        "put": {
            "x-required-role": "admin",
            "summary": "Register a station (registration Accepted/Pending/Rejected, basic-auth "
            "password, lenient mode)",
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
            "x-required-role": "admin",
            "summary": "Forget a station's registration",
            "responses": {"204": {"description": "deleted"}, "404": _PROBLEM},
        },
    },
    "/api/v1/stations/{station_id}/commands/{action}": {
        "parameters": [_path_param("station_id"), _path_param("action")],
        "post": {
            "x-required-role": "operator",
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
            "x-required-role": "viewer",
            "summary": "Last known configuration keys of a 1.6 station, online or not, from its "
            "answers to GetConfiguration and ChangeConfiguration",
            "responses": {"200": _json(_ref("Configuration"), "configuration"), "404": _PROBLEM},
        },
    },
    "/api/v1/stations/{station_id}/certificates": {
        "parameters": [_path_param("station_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "Certificates the station holds, from its answers to InstallCertificate, "
            "DeleteCertificate, GetInstalledCertificateIds and CertificateSigned",
            "responses": {
                "200": _json(_page("StationCertificate"), "certificates"),
                "404": _PROBLEM,
            },
        },
    },
    "/api/v1/stations/{station_id}/password": {
        "parameters": [_path_param("station_id")],
        "post": {
            "x-required-role": "admin",
            "summary": "Give a connected station a new basic-auth password (generated, or given); "
            "kept once the station accepts it, the old one working until the new one is used",
            "requestBody": {"content": {"application/json": {"schema": _ref("PasswordChange")}}},
            "responses": {
                "200": _json(_ref("PasswordChangeResult"), "the station's answer"),
                "400": _PROBLEM,
                "404": _PROBLEM,
                "409": _PROBLEM,
                "502": _PROBLEM,
                "503": _PROBLEM,
                "504": _PROBLEM,
            },
        },
    },
    "/api/v1/stations/{station_id}/variables": {
        "parameters": [_path_param("station_id")],
        "get": {
            "x-required-role": "viewer",
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
    "/api/v1/stations/{station_id}/events": {
        "parameters": [_path_param("station_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "What the station reported or answered, as stored, newest first: "
            "notifications, security events, firmware and log status, connections taken over "
            "(ConnectionReplaced), answered commands (Command:<Action>)",
            "parameters": [
                *_PAGING,
                {
                    "name": "type",
                    "in": "query",
                    "description": "comma-separated kinds; a trailing * matches every kind that "
                    "starts with what precedes it (Command:*)",
                    "schema": {"type": "string"},
                },
                *_time_range("received at or after", "received before"),
            ],
            "responses": {
                "200": _json(_page("StationEvent"), "events"),
                "400": _PROBLEM,
                "404": _PROBLEM,
            },
        },
    },
    "/api/v1/transactions": {
        "get": {
            "x-required-role": "viewer",
            "summary": "List transactions, newest first; with Accept: text/csv, all of them as "
            "one CSV attachment (limit and cursor do not apply)",
            "parameters": [
                *_PAGING,
                {"name": "station_id", "in": "query", "schema": {"type": "string"}},
                {"name": "active", "in": "query", "schema": {"type": "boolean"}},
                {"name": "remote_start_id", "in": "query", "schema": {"type": "integer"}},
                *_time_range("started at or after", "started before"),
            ],
            "responses": {
                "200": {
                    "description": "transactions",
                    "content": {
                        "application/json": {"schema": _page("Transaction")},
                        "text/csv": {
                            "schema": {
                                "type": "string",
                                "description": "header row: id, station_id, evse_id, "
                                "connector_id, id_token, start_time, stop_time, energy_kwh, "
                                "stop_reason, status, currency, cost_energy, cost_time, "
                                "cost_fee, cost_idle, cost_net, cost_tax, cost_total, tariff_id",
                            }
                        },
                    },
                },
                "400": _PROBLEM,
            },
        }
    },
    "/api/v1/transactions/{transaction_id}": {
        "parameters": [_path_param("transaction_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "One transaction with its meter values",
            "responses": {"200": _json(_ref("Transaction"), "transaction"), "404": _PROBLEM},
        },
    },
    "/api/v1/id-tags": {
        "get": {
            "x-required-role": "viewer",
            "summary": "List id tags",
            "parameters": _PAGING,
            "responses": {"200": _json(_page("IdTag"), "id tags"), "400": _PROBLEM},
        }
    },
    "/api/v1/id-tags/{id_tag}": {
        "parameters": [_path_param("id_tag")],
        "get": {
            "x-required-role": "viewer",
            "responses": {"200": _json(_ref("IdTag"), "id tag"), "404": _PROBLEM},
        },
        "put": {
            "x-required-role": "operator",
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
        "delete": {
            "x-required-role": "operator",
            "responses": {"204": {"description": "deleted"}, "404": _PROBLEM},
        },
    },
}

SCHEMAS.update(
    {
        "TokenRequest": {
            "type": "object",
            "required": ["username", "password"],
            "additionalProperties": False,
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
        },
        "Token": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer", "description": "seconds"},
            },
        },
        "User": {
            "type": "object",
            "required": ["name", "role"],
            "properties": {
                "name": {"type": "string"},
                "role": {"enum": _ROLE_NAMES},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
        },
        "UserInput": {
            "type": "object",
            "additionalProperties": False,
            "description": "a new user needs both; an existing one keeps what is absent",
            "properties": {
                "password": {"type": "string", "minLength": 12, "maxLength": 128},
                "role": {"enum": _ROLE_NAMES},
            },
        },
        "Member": {
            "type": "object",
            "required": ["name", "pod", "shard", "address", "stations", "alive"],
            "properties": {
                "name": {"type": "string", "description": "<pod>/<shard>"},
                "pod": {"type": "string"},
                "shard": {"type": "integer"},
                "pid": {"type": "integer", "description": "process id within its pod"},
                "address": {"type": "string", "description": "control-plane host:port"},
                "stations": {"type": "integer", "description": "stations whose socket it holds"},
                "started_at": {"type": "string", "format": "date-time"},
                "last_seen": {"type": "string", "format": "date-time"},
                "alive": {"type": "boolean"},
            },
        },
        "AuditEntry": {
            "type": "object",
            "required": ["id", "at", "actor", "role", "method", "path", "status"],
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "actor": {"type": "string", "description": "user name, or api-token"},
                "role": {"type": "string"},
                "method": {"type": "string"},
                "path": {"type": "string"},
                "station_id": _NULLABLE_STR,
                "status": {"type": "integer"},
            },
        },
    }
)

_TEXT = {"description": "text", "content": {"text/plain": {"schema": {"type": "string"}}}}

PATHS.update(
    {
        "/api/v1/auth/token": {
            "post": {
                "summary": "Log in: an access token for a user name and password",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("TokenRequest")}},
                },
                "responses": {
                    "200": _json(_ref("Token"), "token"),
                    "400": _PROBLEM,
                    "401": _PROBLEM,
                    "429": _PROBLEM,
                },
            }
        },
        "/api/v1/users": {
            "get": {
                "summary": "List operator accounts",
                "x-required-role": "admin",
                "parameters": _PAGING,
                "responses": {"200": _json(_page("User"), "users"), "400": _PROBLEM},
            }
        },
        "/api/v1/users/{name}": {
            "parameters": [_path_param("name")],
            "get": {
                "x-required-role": "admin",
                "responses": {"200": _json(_ref("User"), "user"), "404": _PROBLEM},
            },
            "put": {
                "summary": "Create a user, or change its role or password",
                "x-required-role": "admin",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("UserInput")}},
                },
                "responses": {
                    "200": _json(_ref("User"), "updated"),
                    "201": _json(_ref("User"), "created"),
                    "400": _PROBLEM,
                    "409": _PROBLEM,
                },
            },
            "delete": {
                "x-required-role": "admin",
                "responses": {"204": {"description": "deleted"}, "404": _PROBLEM, "409": _PROBLEM},
            },
        },
        "/api/v1/nodes": {
            "get": {
                "summary": "Cluster members (each shard of each pod): alive, stations held",
                "x-required-role": "viewer",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["items"],
                            "properties": {
                                "items": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Member"},
                                }
                            },
                        },
                        "members",
                    )
                },
            }
        },
        "/api/v1/events": {
            "get": {
                "summary": "Live events of the cluster (stations, status, transactions, commands, "
                "members): a WebSocket (one text frame per event) when the request is an upgrade, "
                "Server-Sent Events with Accept: text/event-stream",
                "x-required-role": "viewer",
                "parameters": [
                    {"name": "station_id", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "type",
                        "in": "query",
                        "description": "comma-separated event types; an item ending in . is a "
                        "prefix (transaction.)",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "description": "an event id: first the buffered events after it (SSE: "
                        "the Last-Event-ID header does the same)",
                        "schema": {"type": "integer"},
                    },
                ],
                "responses": {
                    "101": {"description": "WebSocket: one JSON event per text frame"},
                    "200": {
                        "description": "Server-Sent Events: id, event (the type), data (the JSON "
                        "event)",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "400": _PROBLEM,
                    "406": _PROBLEM,
                },
            }
        },
        "/api/v1/audit": {
            "get": {
                "summary": "State-changing requests, newest first",
                "x-required-role": "admin",
                "parameters": [
                    *_PAGING,
                    {"name": "actor", "in": "query", "schema": {"type": "string"}},
                    {"name": "station_id", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json(_page("AuditEntry"), "audit log"), "400": _PROBLEM},
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document (open: it describes the API, it holds no data)",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness (open)",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "alive")},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness (open)",
                "security": [],
                "responses": {
                    "200": _json({"type": "object"}, "ready"),
                    "503": _json({"type": "object"}, "not ready"),
                },
            }
        },
        "/": {
            "get": {
                "summary": "The operator dashboard (open: its files hold no data; the page "
                "reads /api/v1 with the operator's token)",
                "security": [],
                "responses": {"200": {"description": "the dashboard's HTML page"}},
            }
        },
        "/dashboard/{name}": {
            "parameters": [_path_param("name")],
            "get": {
                "summary": "A file of the dashboard: script module, style sheet, icon (open)",
                "security": [],
                "responses": {"200": {"description": "the file"}, "404": _PROBLEM},
            },
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "x-required-role": "viewer",
                "responses": {"200": _TEXT},
            }
        },
    }
)

_METHODS = ("get", "put", "post", "delete", "patch")
_DENIED = {
    "401": {
        "description": "no valid credential",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    },
    "403": {
        "description": "the credential's role lacks the right",
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    },
}


def _declare_denials(paths: dict[str, Any]) -> None:
    """Every protected operation may answer 401 and 403."""
    for item in paths.values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is not None and operation.get("security") != []:
                for code, response in _DENIED.items():
                    operation["responses"].setdefault(code, response)


def operation_roles(paths: dict[str, Any]) -> dict[tuple[str, str], Role | None]:
    """(path, method) -> the role an operation needs; None for an open one (``security: []``).
    A protected operation that declares no role needs admin."""
    roles: dict[tuple[str, str], Role | None] = {}
    for path, item in paths.items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if operation.get("security") == []:
                roles[path, method] = None
            else:
                roles[path, method] = Role(operation.get("x-required-role", Role.ADMIN.value))
    return roles


def required_role(path: str, method: str) -> Role | None:
    """The role a route (its aiohttp canonical path and lower-case method) needs; None: open.
    Anything the document does not declare needs admin."""
    return _ROLES.get((path, method), Role.ADMIN)


for _area in AREAS:
    PATHS.update(_area.PATHS)
    SCHEMAS.update(_area.SCHEMAS)
_declare_denials(PATHS)
_ROLES = operation_roles(PATHS)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "voltmesh operator API",
        "version": "1",
        "description": "Every operation needs a bearer credential (an access token from "
        "POST /api/v1/auth/token, or the service token) unless it declares `security: []`; "
        "`x-required-role` names the least role it needs: viewer < operator < admin.",
    },
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    },
    "security": [{"bearer": []}],
    "paths": PATHS,
}


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(DOCUMENT)
