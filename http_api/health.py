"""Liveness, readiness and Prometheus metrics at the root of the API port."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from http_api.problems import json_response
from http_api.state import API_STATE

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    if not state.ready:
        return json_response({"status": "not ready"}, status=503)
    if state.writes_failing():
        # Nothing could be acknowledged: chargers and operators are better served elsewhere.
        return json_response({"status": "not ready", "reason": "store writes fail"}, status=503)
    return json_response({"status": "ready", "connected_stations": len(state.directory)})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest(request.app[API_STATE].metrics))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
