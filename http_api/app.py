"""The operator API application: routes, middlewares and typed state."""

from __future__ import annotations

from aiohttp import web

from http_api import (
    audit,
    certificates,
    commands,
    events,
    health,
    id_tags,
    login,
    nodes,
    openapi,
    passwords,
    static,
    stations,
    transactions,
    users,
)
from http_api.access_log import access_log
from http_api.audit import audit_middleware
from http_api.auth import authorize
from http_api.openapi import AREAS
from http_api.problems import problem_middleware
from http_api.query import refuse_unknown_query
from http_api.state import API_STATE, ApiState

MAX_BODY_BYTES = 1 << 20


def create_api(state: ApiState) -> web.Application:
    # Outermost first: the access log and the audit log see the final status of every request.
    app = web.Application(
        middlewares=[
            access_log,
            audit_middleware,
            problem_middleware,
            authorize,
            refuse_unknown_query,
        ],
        client_max_size=MAX_BODY_BYTES,
    )
    app[API_STATE] = state
    for module in (health, openapi, login, users, audit, stations, transactions, id_tags, commands):
        app.router.add_routes(module.routes)
    for module in (certificates, passwords, nodes, static, events):
        app.router.add_routes(module.routes)
    for area in AREAS:
        app.router.add_routes(area.routes)
    return app
