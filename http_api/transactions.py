"""``/api/v1/transactions``: sessions with their energy and meter values."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from csms.station.command_log import COMMAND_EVENT_PREFIX
from http_api.pagination import bool_param, int_param, page_params
from http_api.problems import ApiProblem, json_response
from http_api.state import API_STATE, ApiState
from http_api.views import transaction_view
from persistence import events, transactions

routes = web.RouteTableDef()


@routes.get("/api/v1/transactions")
async def list_transactions(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    limit, cursor = page_params(request)
    page = await transactions.list_transactions(
        state.reads,
        station_id=request.query.get("station_id") or None,
        active=bool_param(request, "active"),
        remote_start_id=int_param(request, "remote_start_id"),
        limit=limit,
        after=cursor,
    )
    return json_response({"items": [transaction_view(t) for t in page.items], "next": page.next})


@routes.get("/api/v1/transactions/{transaction_id}")
async def get_transaction(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    transaction_id = request.match_info["transaction_id"]
    tx = await transactions.get_transaction(state.reads, transaction_id)
    if tx is None:
        raise ApiProblem(404, "Not Found", "no such transaction")
    samples = await transactions.transaction_meter_values(state.reads, transaction_id)
    view = transaction_view(tx, samples)
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
