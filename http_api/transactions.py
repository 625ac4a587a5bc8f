"""``/api/v1/transactions``: sessions with their energy, meter values and cost, as JSON pages or as
one CSV export.

The cost is that of the tariff the transaction started under (``csms.tariffs``): running while it
is active, null (and empty cells in the CSV) without a tariff."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from csms.station.command_log import COMMAND_EVENT_PREFIX
from csms.tariffs.binding import costs_of
from csms.tariffs.cost import Cost
from http_api.pagination import bool_param, int_param, page_params, time_range
from http_api.problems import ApiProblem, json_response
from http_api.state import API_STATE, ApiState
from http_api.views import transaction_view
from persistence import events, transactions
from persistence.records import TransactionRecord
from persistence.sqltypes import utcnow

routes = web.RouteTableDef()

CSV_TYPE = "text/csv"
CSV_COLUMNS = (
    "id",
    "station_id",
    "evse_id",
    "connector_id",
    "id_token",
    "start_time",
    "stop_time",
    "energy_kwh",
    "stop_reason",
    "status",
    "currency",
    "cost_energy",
    "cost_time",
    "cost_fee",
    "cost_idle",
    "cost_net",
    "cost_tax",
    "cost_total",
    "tariff_id",
)
CSV_PAGE = 1000
"""Rows read per query of an export, each page written out before the next is read: memory stays
that of one page, and the event loop gets a turn between pages (about 25 ms of work each)."""


@routes.get("/api/v1/transactions")
async def list_transactions(request: web.Request) -> web.StreamResponse:
    state = request.app[API_STATE]
    since, until = time_range(request)
    filters: dict[str, Any] = {
        "station_id": request.query.get("station_id") or None,
        "active": bool_param(request, "active"),
        "remote_start_id": int_param(request, "remote_start_id"),
        "started_since": since,
        "started_until": until,
    }
    if prefers_csv(request.headers.get("Accept", "")):
        return await _export_csv(request, state, filters)
    limit, cursor = page_params(request)
    page = await transactions.list_transactions(state.reads, limit=limit, after=cursor, **filters)
    costs = await costs_of(state.reads, page.items, utcnow())
    return json_response(
        {
            "items": [_with_cost(transaction_view(t), costs[t.id]) for t in page.items],
            "next": page.next,
        }
    )


def _with_cost(view: dict[str, Any], cost: Cost | None) -> dict[str, Any]:
    view["cost"] = None if cost is None else cost.as_json()
    return view


def _media_quality(accept: str, media_type: str) -> tuple[float, int]:
    """(q, specificity) of the most specific range of ``accept`` that covers ``media_type``
    (RFC 9110 section 12.5.1); (0, 0) when none does."""
    kind = media_type.split("/")[0]
    best = (0.0, 0)
    for part in accept.split(","):
        media_range, *params = (p.strip() for p in part.split(";"))
        specificity = {media_type: 3, f"{kind}/*": 2, "*/*": 1}.get(media_range.lower(), 0)
        if specificity <= best[1]:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = (q, specificity)
    return best


def prefers_csv(accept: str) -> bool:
    """Whether the client asks for CSV over JSON: a higher q, or the same q by a more specific
    range (``text/csv, */*``). No Accept header, or a tie: JSON."""
    csv_q, csv_specificity = _media_quality(accept, CSV_TYPE)
    json_q, json_specificity = _media_quality(accept, "application/json")
    return csv_q > 0 and (csv_q, csv_specificity) > (json_q, json_specificity)


def _csv_time(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else ""


def _kwh(wh: float | None) -> str:
    """Wh as kWh with three decimals, from the stored number's shortest decimal form, so that
    12345 Wh reads 12.345 and never 12.344999."""
    if wh is None:
        return ""
    return str((Decimal(repr(wh)) / 1000).quantize(Decimal("0.001")))


def transaction_status(tx: TransactionRecord) -> str:
    if tx.stop_time is not None:
        return "stopped"
    if tx.stale:
        return "stale"
    return "active" if tx.start_time is not None else "not_started"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A text a charger or an operator chose, made inert for spreadsheets: a cell that starts
    like a formula (``=HYPERLINK(...)`` in an id tag a charger sent) is prefixed with ``'``
    (OWASP, CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


_COST_COLUMNS = len(CSV_COLUMNS) - CSV_COLUMNS.index("currency")


def _cost_cells(cost: Cost | None) -> list[object]:
    """Amounts in the currency's minor unit, as on the bill; empty without a tariff."""
    if cost is None:
        return [""] * _COST_COLUMNS
    return [
        cost.currency,
        cost.energy,
        cost.time,
        cost.fee,
        cost.idle,
        cost.net,
        cost.tax,
        cost.total,
        _cell(cost.tariff_id),
    ]


def csv_row(tx: TransactionRecord, cost: Cost | None = None) -> list[object]:
    return [
        _cell(tx.id),
        _cell(tx.station_id),
        "" if tx.evse_id is None else tx.evse_id,
        "" if tx.connector_id is None else tx.connector_id,
        _cell(tx.id_token or ""),
        _csv_time(tx.start_time),
        _csv_time(tx.stop_time),
        _kwh(tx.energy_wh),
        _cell(tx.stop_reason or ""),
        transaction_status(tx),
        *_cost_cells(cost),
    ]


async def _export_csv(
    request: web.Request, state: ApiState, filters: dict[str, Any]
) -> web.StreamResponse:
    """Every transaction the filters select, newest first, streamed page by page. Keyset pages
    never repeat or skip a row while transactions are added meanwhile (those appear in a later
    export). The first page is read before the response starts, so a failing store gets an error
    response; a store error after it cuts the response short (no final chunk)."""
    if "limit" in request.query or "cursor" in request.query:
        raise ApiProblem(
            400,
            "Bad Request",
            "limit and cursor do not apply to a text/csv export: it holds every matching "
            "transaction",
        )
    page = await transactions.list_transactions(state.reads, limit=CSV_PAGE, after=None, **filters)
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{CSV_TYPE}; charset=utf-8; header=present",
            "Content-Disposition": 'attachment; filename="transactions.csv"',
        }
    )
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    while True:
        costs = await costs_of(state.reads, page.items, utcnow())
        writer.writerows(csv_row(tx, costs[tx.id]) for tx in page.items)
        await response.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
        if page.next is None:
            break
        page = await transactions.list_transactions(
            state.reads, limit=CSV_PAGE, after=page.next, **filters
        )
    await response.write_eof()
    return response


@routes.get("/api/v1/transactions/{transaction_id}")
async def get_transaction(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    transaction_id = request.match_info["transaction_id"]
    tx = await transactions.get_transaction(state.reads, transaction_id)
    if tx is None:
        raise ApiProblem(404, "Not Found", "no such transaction")
    samples = await transactions.transaction_meter_values(state.reads, transaction_id)
    view = _with_cost(
        transaction_view(tx, samples), (await costs_of(state.reads, [tx], utcnow()))[tx.id]
    )
    if tx.protocol != "ocpp1.6":
        view["events"] = await transactions.transaction_events_of(state.reads, transaction_id)
    if tx.remote_start_id is not None:
        view["remote_start"] = await _remote_start(state, tx.station_id, tx.remote_start_id)
    return json_response(view)


async def _remote_start(state: ApiState, station_id: str, remote_start_id: int) -> Any:
    """The RequestStartTransaction that started a 2.x transaction (by its remoteStartId), as the
    command log has it; None when it was not sent through this API."""
    found = await events.latest_station_event(
        state.reads,
        station_id,
        COMMAND_EVENT_PREFIX + "RequestStartTransaction",
        lambda p: p.get("request", {}).get("remoteStartId") == remote_start_id,
    )
    if found is None:
        return None
    payload, received_at = found
    return {
        "requested_at": received_at,
        "request": payload["request"],
        "response": payload["response"],
    }
