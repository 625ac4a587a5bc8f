"""``/api/v1/tariffs``: what charging costs (OCPP 2.0.1 I, "Tariff and cost") and where it applies.

A tariff's prices are net; the cost of a session shows net, tax and total. An edit of a tariff or
of its assignments first binds the sessions it could reach to the tariff they started under
(``csms.tariffs.binding.bind_pending``), so no session changes price halfway.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from csms.tariffs.binding import bind_pending
from csms.tariffs.currencies import is_currency
from http_api.fields import bad, flag, refuse_unknown, time_field
from http_api.openapi_parts import (
    NULLABLE_STR,
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
from persistence import stations
from persistence.keyed_rows import run_alone
from persistence.records import id_token_key
from persistence.sites import get_site
from persistence.sqltypes import utcnow
from persistence.tariffs import (
    Assignment,
    Prices,
    Scope,
    Tariff,
    assignments_of,
    assignments_replaced,
    get_tariff,
    list_tariffs,
    tariff_created,
    tariff_deleted,
    tariff_stored,
)
from persistence.writer import WriteOp

routes = web.RouteTableDef()

TARIFF_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_DIGITS = 12
"""Integer digits of a price."""
MAX_DECIMALS = 6
"""Decimals of a price (tenths of a cent per kWh are common)."""
DEFAULT_COST_UPDATE_MINUTES = 5
EDIT_REACH = timedelta(days=7)
"""How far back an edit binds the sessions it could affect (see ``_bind_before_change``)."""
MAX_TARGETS = 1000
"""Ids per list of an assignment: each is checked in the store within the request."""
_PRICE_FIELDS = {
    "energy_price": "energy",
    "charging_time_price": "charging_time",
    "connected_time_price": "connected_time",
    "session_fee": "session_fee",
    "idle_price": "idle",
}
_FIELDS = {
    "name",
    "currency",
    *_PRICE_FIELDS,
    "idle_grace_minutes",
    "tax_rate",
    "valid_from",
    "valid_to",
    "text",
    "cost_update_minutes",
}
_ASSIGNMENT_FIELDS = {"stations": Scope.STATION, "sites": Scope.SITE}


async def _apply(state: ApiState, op: WriteOp) -> Any:
    return await run_alone(state.engine, op)


async def _bind_before_change(state: ApiState) -> None:
    """Sessions are bound as they start and the tariffs loop binds what that missed within
    seconds, so only the recent ones can be unbound: looking back ``EDIT_REACH`` keeps an edit's
    request from reading the whole history."""
    await bind_pending(state.reads, lambda op: _apply(state, op), since=utcnow() - EDIT_REACH)


# --- parsing --------------------------------------------------------------------------------------


def _decimal(name: str, value: Any, *, maximum: Decimal | None = None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise bad(f'{name} must be a decimal number (a JSON number or a string like "0.39")')
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise bad(f"{name} must be a decimal number, got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise bad(f"{name} must be a finite number >= 0")
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    if -exponent > MAX_DECIMALS or len(digits) + exponent > MAX_DIGITS:
        raise bad(f"{name} takes at most {MAX_DIGITS} digits and {MAX_DECIMALS} decimals")
    if maximum is not None and number > maximum:
        raise bad(f"{name} must be at most {maximum}")
    # Plain notation: 1E+1 is stored and shown as 10.
    return Decimal(format(number, "f"))


def _minutes(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10080:
        raise bad(f"{name} must be a whole number of minutes from 0 to 10080 (a week)")
    return value


def parse_tariff(tariff_id: str, body: dict[str, Any]) -> Tariff:
    """A tariff from its JSON body (POST, PUT); 400 with what is wrong."""
    refuse_unknown(body, _FIELDS)
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        raise bad("name is required: a text of 1-200 characters")
    currency = body.get("currency")
    if not isinstance(currency, str) or not is_currency(currency):
        raise bad("currency is required: an ISO 4217 code in capitals, like EUR")
    prices: dict[str, Decimal | None] = {}
    for field, attribute in _PRICE_FIELDS.items():
        value = body.get(field)
        prices[attribute] = None if value is None else _decimal(field, value)
    if all(value is None for value in prices.values()):
        raise bad(f"a tariff needs at least one of {', '.join(_PRICE_FIELDS)}")
    grace = _minutes("idle_grace_minutes", body.get("idle_grace_minutes", 0))
    tax_rate = _decimal("tax_rate", body.get("tax_rate", 0), maximum=Decimal(100))
    valid_from = time_field(body, "valid_from")
    valid_to = time_field(body, "valid_to")
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        raise bad("valid_to must be after valid_from")
    text = body.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > 256):
        raise bad("text must be null or a text of at most 256 characters")
    interval = body.get("cost_update_minutes", DEFAULT_COST_UPDATE_MINUTES)
    return Tariff(
        id=tariff_id,
        name=name,
        currency=currency,
        prices=Prices(
            energy=prices["energy"],
            charging_time=prices["charging_time"],
            connected_time=prices["connected_time"],
            session_fee=prices["session_fee"],
            idle=prices["idle"],
            idle_grace_minutes=grace,
            tax_rate=tax_rate,
        ),
        text=text,
        cost_update_minutes=None if interval is None else _minutes("cost_update_minutes", interval),
        valid_from=valid_from,
        valid_to=valid_to,
    )


def _price(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def tariff_view(tariff: Tariff, assignments: Sequence[Assignment] | None = None) -> dict[str, Any]:
    prices = tariff.prices
    view: dict[str, Any] = {
        "id": tariff.id,
        "name": tariff.name,
        "currency": tariff.currency,
        "energy_price": _price(prices.energy),
        "charging_time_price": _price(prices.charging_time),
        "connected_time_price": _price(prices.connected_time),
        "session_fee": _price(prices.session_fee),
        "idle_price": _price(prices.idle),
        "idle_grace_minutes": prices.idle_grace_minutes,
        "tax_rate": str(prices.tax_rate),
        "valid_from": tariff.valid_from,
        "valid_to": tariff.valid_to,
        "text": tariff.text,
        "cost_update_minutes": tariff.cost_update_minutes,
        "created_at": tariff.created_at,
        "updated_at": tariff.updated_at,
    }
    if assignments is not None:
        view["assignments"] = assignments_view(tariff.id, assignments)
    return view


def assignments_view(tariff_id: str, assignments: Sequence[Assignment]) -> dict[str, Any]:
    def targets(scope: Scope) -> list[str]:
        return sorted(a.target for a in assignments if a.scope is scope)

    return {
        "tariff_id": tariff_id,
        "stations": targets(Scope.STATION),
        "sites": targets(Scope.SITE),
        "id_token_groups": targets(Scope.ID_TOKEN_GROUP),
        "default": any(a.scope is Scope.DEFAULT for a in assignments),
    }


def _names(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, str) and 1 <= len(v) <= 255 for v in value
    ):
        raise bad(f"{name} must be a list of ids")
    if len(value) > MAX_TARGETS:
        raise bad(f"{name} takes at most {MAX_TARGETS} ids (assign a site or a group instead)")
    return list(dict.fromkeys(value))


async def parse_assignments(state: ApiState, body: dict[str, Any]) -> list[tuple[Scope, str]]:
    refuse_unknown(body, {"stations", "sites", "id_token_groups", "default"})
    default = flag(body, "default")
    station_ids = _names("stations", body.get("stations"))
    missing = [s for s in station_ids if await stations.get_station(state.reads, s) is None]
    if missing:
        raise bad(f"no such stations: {', '.join(missing)}")
    site_ids = _names("sites", body.get("sites"))
    missing = [s for s in site_ids if await get_site(state.reads, s) is None]
    if missing:
        raise bad(f"no such sites: {', '.join(missing)}")
    groups = [id_token_key(g) for g in _names("id_token_groups", body.get("id_token_groups"))]
    targets = [(Scope.STATION, s) for s in station_ids] + [(Scope.SITE, s) for s in site_ids]
    targets += [(Scope.ID_TOKEN_GROUP, g) for g in dict.fromkeys(groups)]
    if default:
        targets.append((Scope.DEFAULT, ""))
    return targets


def _tariff_id(request: web.Request) -> str:
    tariff_id = request.match_info["tariff_id"]
    if not TARIFF_ID.fullmatch(tariff_id):
        raise bad("a tariff id is 1-64 characters of A-Z a-z 0-9 . _ : -")
    return tariff_id


async def _found(state: ApiState, tariff_id: str) -> Tariff:
    tariff = await get_tariff(state.reads, tariff_id)
    if tariff is None:
        raise ApiProblem(404, "Not Found", f"no tariff {tariff_id!r}")
    return tariff


# --- routes ---------------------------------------------------------------------------------------


@routes.get("/api/v1/tariffs")
async def list_all(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    limit, cursor = page_params(request)
    found = await list_tariffs(state.reads, limit=limit, after=cursor)
    return json_response({"items": [tariff_view(t) for t in found.items], "next": found.next})


@routes.post("/api/v1/tariffs")
async def create(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    tariff = parse_tariff(str(uuid.uuid4()), read_object(await read_json(request)))
    await _apply(state, tariff_created(tariff, utcnow()))
    created = await _found(state, tariff.id)
    return json_response(tariff_view(created, []), status=201)


@routes.get("/api/v1/tariffs/{tariff_id}")
async def get_one(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    tariff = await _found(state, _tariff_id(request))
    return json_response(tariff_view(tariff, await assignments_of(state.reads, tariff.id)))


@routes.put("/api/v1/tariffs/{tariff_id}")
async def put_one(request: web.Request) -> web.Response:
    """Create a tariff under the given id, or replace one: sessions already started keep the
    tariff as it was."""
    state = request.app[API_STATE]
    tariff = parse_tariff(_tariff_id(request), read_object(await read_json(request)))
    await _bind_before_change(state)
    created = await _apply(state, tariff_stored(tariff))
    stored = await _found(state, tariff.id)
    assignments = await assignments_of(state.reads, tariff.id)
    return json_response(tariff_view(stored, assignments), status=201 if created else 200)


@routes.delete("/api/v1/tariffs/{tariff_id}")
async def delete_one(request: web.Request) -> web.Response:
    """Delete a tariff and its assignments; sessions bound to it keep their copy."""
    state = request.app[API_STATE]
    tariff_id = _tariff_id(request)
    await _found(state, tariff_id)
    await _bind_before_change(state)
    if not await _apply(state, tariff_deleted(tariff_id)):
        raise ApiProblem(404, "Not Found", f"no tariff {tariff_id!r}")
    return web.Response(status=204)


@routes.get("/api/v1/tariffs/{tariff_id}/assignments")
async def get_assignments(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    tariff = await _found(state, _tariff_id(request))
    return json_response(assignments_view(tariff.id, await assignments_of(state.reads, tariff.id)))


@routes.put("/api/v1/tariffs/{tariff_id}/assignments")
async def put_assignments(request: web.Request) -> web.Response:
    """Replace where the tariff applies; sessions already started keep the tariff they have."""
    state = request.app[API_STATE]
    tariff_id = _tariff_id(request)
    await _found(state, tariff_id)
    targets = await parse_assignments(state, read_object(await read_json(request)))
    await _bind_before_change(state)
    if not await _apply(state, assignments_replaced(tariff_id, targets, utcnow())):
        raise ApiProblem(404, "Not Found", f"no tariff {tariff_id!r}")
    return json_response(assignments_view(tariff_id, await assignments_of(state.reads, tariff_id)))


# --- OpenAPI --------------------------------------------------------------------------------------

_DECIMAL = {
    "type": ["string", "null"],
    "pattern": r"^\d{1,12}(\.\d{1,6})?$",
    "description": "a decimal number as a string (exact); a JSON number is accepted on input",
}
_DECIMAL_INPUT = {"type": ["string", "number", "null"]}

SCHEMAS: dict[str, Any] = {
    "Tariff": {
        "type": "object",
        "required": ["id", "name", "currency", "tax_rate"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "currency": {"type": "string", "description": "ISO 4217 code"},
            "energy_price": {**_DECIMAL, "description": "net, per kWh"},
            "charging_time_price": {**_DECIMAL, "description": "net, per hour charging"},
            "connected_time_price": {
                **_DECIMAL,
                "description": "net, per hour connected (the whole session)",
            },
            "session_fee": {**_DECIMAL, "description": "net, once per session"},
            "idle_price": {
                **_DECIMAL,
                "description": "net, per minute connected but not charging after charging "
                "(2.x SuspendedEV, EVConnected, Idle), beyond the grace period",
            },
            "idle_grace_minutes": {"type": "integer"},
            "tax_rate": {"type": "string", "description": "percent added to the net price"},
            "valid_from": NULLABLE_TIME,
            "valid_to": NULLABLE_TIME,
            "text": {**NULLABLE_STR, "description": "shown to drivers"},
            "cost_update_minutes": {
                "type": ["integer", "null"],
                "description": "minimum minutes between two CostUpdated of one 2.x session; "
                "null: none sent",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "assignments": ref("TariffAssignments"),
        },
    },
    "TariffInput": {
        "type": "object",
        "required": ["name", "currency"],
        "additionalProperties": False,
        "description": "prices are net; at least one price is required",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "energy_price": _DECIMAL_INPUT,
            "charging_time_price": _DECIMAL_INPUT,
            "connected_time_price": _DECIMAL_INPUT,
            "session_fee": _DECIMAL_INPUT,
            "idle_price": _DECIMAL_INPUT,
            "idle_grace_minutes": {"type": "integer", "minimum": 0, "maximum": 10080},
            "tax_rate": {"type": ["string", "number"], "description": "percent, 0-100"},
            "valid_from": NULLABLE_TIME,
            "valid_to": NULLABLE_TIME,
            "text": {"type": ["string", "null"], "maxLength": 256},
            "cost_update_minutes": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": 10080,
                "default": DEFAULT_COST_UPDATE_MINUTES,
            },
        },
    },
    "TariffAssignments": {
        "type": "object",
        "required": ["stations", "sites", "id_token_groups", "default"],
        "description": "where a tariff applies; a session gets the tariff of its id token's "
        "group, else of its station, else of its station's site, else the default",
        "properties": {
            "tariff_id": {"type": "string"},
            "stations": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_TARGETS},
            "sites": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_TARGETS},
            "id_token_groups": {
                "type": "array",
                "items": {"type": "string"},
                "maxItems": MAX_TARGETS,
                "description": "parent id tags of the tokens",
            },
            "default": {"type": "boolean"},
        },
    },
    "TransactionCost": {
        "type": ["object", "null"],
        "description": "the cost under the tariff the transaction started with (running while "
        "it is active); null without a tariff. Amounts are decimal strings rounded to the "
        "currency's minor unit; total = net + tax",
        "required": ["currency", "net", "tax", "total", "energy", "time", "fee", "idle"],
        "properties": {
            "currency": {"type": "string"},
            "net": {"type": "string"},
            "tax": {"type": "string"},
            "total": {"type": "string"},
            "energy": {"type": "string"},
            "time": {"type": "string"},
            "fee": {"type": "string"},
            "idle": {"type": "string"},
            "tariff_id": {"type": "string"},
        },
    },
}

_TARIFF_BODY = {
    "required": True,
    "content": {"application/json": {"schema": ref("TariffInput")}},
}

PATHS: dict[str, Any] = {
    "/api/v1/tariffs": {
        "get": {
            "x-required-role": "viewer",
            "summary": "List tariffs",
            "parameters": PAGING,
            "responses": {"200": json_content(page("Tariff"), "tariffs"), "400": PROBLEM},
        },
        "post": {
            "x-required-role": "admin",
            "summary": "Create a tariff (its id is generated)",
            "requestBody": _TARIFF_BODY,
            "responses": {"201": json_content(ref("Tariff"), "created"), "400": PROBLEM},
        },
    },
    "/api/v1/tariffs/{tariff_id}": {
        "parameters": [path_param("tariff_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "One tariff with its assignments",
            "responses": {"200": json_content(ref("Tariff"), "tariff"), "404": PROBLEM},
        },
        "put": {
            "x-required-role": "admin",
            "summary": "Create or replace a tariff; sessions already started keep their price",
            "requestBody": _TARIFF_BODY,
            "responses": {
                "200": json_content(ref("Tariff"), "replaced"),
                "201": json_content(ref("Tariff"), "created"),
                "400": PROBLEM,
            },
        },
        "delete": {
            "x-required-role": "admin",
            "summary": "Delete a tariff and its assignments; sessions keep their price",
            "responses": {"204": {"description": "deleted"}, "404": PROBLEM},
        },
    },
    "/api/v1/tariffs/{tariff_id}/assignments": {
        "parameters": [path_param("tariff_id")],
        "get": {
            "x-required-role": "viewer",
            "summary": "Where a tariff applies",
            "responses": {
                "200": json_content(ref("TariffAssignments"), "assignments"),
                "404": PROBLEM,
            },
        },
        "put": {
            "x-required-role": "admin",
            "summary": "Replace where a tariff applies (stations, sites, id-token groups, "
            "default); sessions already started keep their tariff",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("TariffAssignments")}},
            },
            "responses": {
                "200": json_content(ref("TariffAssignments"), "assignments"),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        },
    },
}
