"""Operator authentication and authorization of every request but health and documentation.

A request carries ``Authorization: Bearer <credential>``: an access token from
``POST /api/v1/auth/token`` (a user acting in its role as the store has it now) or the service
credential ``VOLTMESH_API_TOKEN`` (admin). The role an operation needs is the ``x-required-role``
its OpenAPI operation declares (``http_api.openapi.required_role``): a route the document does not
declare needs admin. No valid credential: 401 with ``WWW-Authenticate: Bearer`` (RFC 6750 section
3); a role without the right: 403.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from http_api.openapi import required_role
from http_api.problems import problem_response
from http_api.roles import SERVICE_ACTOR, Principal, Role
from http_api.state import API_STATE, ApiState
from http_api.tokens import InvalidToken, password_fingerprint, verify_token
from persistence import users

log = logging.getLogger("voltmesh.api.auth")

PRINCIPAL = web.RequestKey("principal", Principal)
"""Who the request acts as, once authenticated (absent on open routes and refused requests)."""


def bearer_of(request: web.Request) -> str | None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip()
    return given if scheme.lower() == "bearer" and given else None


async def authenticate(state: ApiState, credential: str) -> Principal | None:
    """The principal a bearer credential stands for, or None. Secrets are compared in constant
    time."""
    if state.api_token is not None and hmac.compare_digest(
        credential.encode(), state.api_token.encode()
    ):
        return Principal(SERVICE_ACTOR, Role.ADMIN)
    try:
        claims = verify_token(state.token_secret, credential)
    except InvalidToken:
        return None
    user = await users.get_user(state.reads, claims.subject)
    if user is None or not hmac.compare_digest(
        password_fingerprint(user.password_hash).encode(), claims.fingerprint.encode()
    ):
        # Deleted, or its password changed since the token was issued.
        return None
    try:
        return Principal(user.name, Role(user.role))
    except ValueError:
        return None


def _operation(request: web.Request) -> tuple[str | None, str]:
    resource = request.match_info.route.resource
    method = "get" if request.method == "HEAD" else request.method.lower()
    return (resource.canonical if resource is not None else None), method


@web.middleware
async def authorize(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    path, method = _operation(request)
    # Unknown paths and methods need admin too, so that a 404 tells an outsider nothing.
    needed = required_role(path, method) if path is not None else Role.ADMIN
    if needed is None:
        return await handler(request)
    state = request.app[API_STATE]
    credential = bearer_of(request)
    principal = await authenticate(state, credential) if credential is not None else None
    if principal is None:
        if credential is not None:
            log.info(
                "refused an invalid or expired bearer credential from %s for %s %s",
                request.remote,
                request.method,
                request.path,
            )
        response = problem_response(401, "Unauthorized", "a valid bearer credential is required")
        challenge = 'Bearer realm="voltmesh"'
        if credential is not None:
            challenge += ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
        return response
    request[PRINCIPAL] = principal
    if not principal.role.allows(needed):
        return problem_response(
            403,
            "Forbidden",
            f"role {principal.role.value} may not do this; it needs {needed.value}",
        )
    return await handler(request)
