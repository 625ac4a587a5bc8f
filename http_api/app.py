"""The operator API application: routes, middlewares and typed state."""

from __future__ import annotations

from aiohttp import web

from http_api import commands, health, id_tags, openapi, stations, transactions
from http_api.auth import bearer_auth
from http_api.problems import problem_middleware
from http_api.state import API_STATE, ApiState

MAX_BODY_BYTES = 1 << 20


def create_api(state: ApiState) -> web.Application:
    app = web.Application(
        middlewares=[problem_middleware, bearer_auth], client_max_size=MAX_BODY_BYTES
    )
    app[API_STATE] = state
    for module in (health, openapi, stations, transactions, id_tags, commands):
        app.router.add_routes(module.routes)
    return app
