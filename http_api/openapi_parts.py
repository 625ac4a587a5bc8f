"""Pieces of the OpenAPI document that every resource's description uses.

Each resource module declares its operations (``PATHS``) and schemas (``SCHEMAS``) with these;
``http_api.openapi`` gathers them into one document, which is also the table of authorization.
"""

from __future__ import annotations

from typing import Any

NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
NULLABLE_NUM = {"type": ["number", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
DATE_TIME = {"type": "string", "format": "date-time"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def page(item: str) -> dict[str, Any]:
    """A page of a listing: its items and the cursor of the next page (null on the last)."""
    return {
        "type": "object",
        "required": ["items", "next"],
        "properties": {"items": {"type": "array", "items": ref(item)}, "next": NULLABLE_STR},
    }


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


PROBLEM = {
    "description": "problem",
    "content": {"application/problem+json": {"schema": ref("Problem")}},
}
"""An RFC 9457 problem (every 4xx and 5xx)."""
PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def time_range(since: str, until: str) -> list[dict[str, Any]]:
    """``since`` (inclusive) and ``until`` (exclusive), RFC 3339 date-times with an offset."""
    return [
        {"name": name, "in": "query", "description": f"{what} (RFC 3339)", "schema": DATE_TIME}
        for name, what in (("since", since), ("until", until))
    ]


def problems(*codes: str) -> dict[str, Any]:
    """The responses ``codes`` of an operation, each an RFC 9457 problem."""
    return {code: PROBLEM for code in codes}


STATION_CALL_PROBLEMS = problems("400", "404", "409", "502", "503", "504")
"""What an operation that sends a call to a station may answer instead: 400 the request is not
valid (for the station's version), 404 the station is unknown or not connected, 409 its
registration or its answer refuses it, 502 a CALLERROR, 503 its connection is overloaded, 504 no
answer in time (``http_api.station_calls``, ``http_api.commands.call_station``)."""
