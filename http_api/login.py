"""``POST /api/v1/auth/token``: an operator logs in with a user name and password.

Wrong credentials: 401, logged with the peer address and the user name tried (never the password).
Repeated failures per user name and per peer address are throttled (``http_api.throttle``): 429
with ``Retry-After`` while a key waits, whatever the password.
"""

from __future__ import annotations

import asyncio
import logging
import math

from aiohttp import web

from http_api.auth import PRINCIPAL
from http_api.problems import ApiProblem, json_response, problem_response, read_json, read_object
from http_api.roles import Principal, Role
from http_api.state import API_STATE
from http_api.tokens import issue_token, password_fingerprint
from persistence import users
from transport.security import hash_password, verify_password

log = logging.getLogger("voltmesh.api.auth")

routes = web.RouteTableDef()

ATTEMPTED_USER = web.RequestKey("attempted_user", str)
"""The user name a login tried (for the audit log, also when it failed)."""

# Checked when the user does not exist, so that the answer takes as long as for a wrong password
# and does not tell which names exist.
_DECOY_HASH = hash_password("voltmesh-decoy-password")


@routes.post("/api/v1/auth/token")
async def issue(request: web.Request) -> web.Response:
    body = read_object(await read_json(request))
    username, password = body.get("username"), body.get("password")
    if set(body) - {"username", "password"} or not isinstance(username, str):
        raise ApiProblem(400, "Bad Request", 'body is {"username": str, "password": str}')
    if not isinstance(password, str) or not 0 < len(username) <= 64:
        raise ApiProblem(400, "Bad Request", 'body is {"username": str, "password": str}')
    request[ATTEMPTED_USER] = username
    state = request.app[API_STATE]
    throttle = state.login_throttle
    keys = throttle.keys(username, request.remote)
    wait = throttle.retry_after(keys)
    if wait is not None:
        log.warning(
            "login for %r from %s refused: too many failures (retry in %.0f s)",
            username,
            request.remote,
            wait,
        )
        response = problem_response(
            429, "Too Many Requests", "too many failed logins; try again later"
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    user = await users.get_user(state.reads, username)
    encoded = user.password_hash if user is not None else _DECOY_HASH
    # scrypt takes tens of milliseconds: off the event loop that serves the chargers.
    matches = await asyncio.to_thread(verify_password, password, encoded)
    if user is None or not matches:
        throttle.failed(keys)
        log.warning("failed login for %r from %s", username, request.remote)
        response = problem_response(401, "Unauthorized", "wrong user name or password")
        response.headers["WWW-Authenticate"] = 'Bearer realm="voltmesh"'
        return response
    throttle.succeeded(username)
    role = Role(user.role)
    request[PRINCIPAL] = Principal(user.name, role)
    token = issue_token(
        state.token_secret,
        user.name,
        password_fingerprint(user.password_hash),
        role.value,
        state.token_ttl,
    )
    log.info("%r (%s) logged in from %s", user.name, role.value, request.remote)
    return json_response(
        {"access_token": token, "token_type": "Bearer", "expires_in": state.token_ttl}
    )
