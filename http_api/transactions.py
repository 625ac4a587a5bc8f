"""``/api/v1/transactions``: sessions with their energy and meter values."""

from __future__ import annotations

from aiohttp import web

from http_api.pagination import bool_param, int_param, page_params
from http_api.problems import ApiProblem, json_response
from http_api.state import API_STATE
from http_api.views import transaction_view
from persistence import repositories as repo

routes = web.RouteTableDef()


@routes.get("/api/v1/transactions")
async def list_transactions(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    limit, cursor = page_params(request)
    page = await repo.list_transactions(
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
    tx = await repo.get_transaction(state.reads, transaction_id)
    if tx is None:
        raise ApiProblem(404, "Not Found", "no such transaction")
    samples = await repo.transaction_meter_values(state.reads, transaction_id)
    events = None
    if tx.protocol != "ocpp1.6":
        events = await repo.transaction_events_of(state.reads, transaction_id)
    return json_response(transaction_view(tx, samples, events))
