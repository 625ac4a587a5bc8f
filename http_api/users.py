"""``/api/v1/users``: operator accounts (admins only). Passwords go in, never out."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from http_api.accounts import AccountError, check_name, check_password, check_role
from http_api.pagination import page_params
from http_api.problems import ApiProblem, json_response, read_json, read_object
from http_api.roles import Role
from http_api.state import API_STATE, ApiState
from persistence import users
from persistence.users import UserRecord
from transport.security import hash_password

routes = web.RouteTableDef()


def user_view(user: UserRecord) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


@routes.get("/api/v1/users")
async def list_users(request: web.Request) -> web.Response:
    limit, cursor = page_params(request)
    page = await users.list_users(request.app[API_STATE].reads, limit=limit, after=cursor)
    return json_response({"items": [user_view(u) for u in page.items], "next": page.next})


async def _existing(state: ApiState, name: str) -> UserRecord:
    user = await users.get_user(state.reads, name)
    if user is None:
        raise ApiProblem(404, "Not Found", "no such user")
    return user


@routes.get("/api/v1/users/{name}")
async def get_user(request: web.Request) -> web.Response:
    return json_response(
        user_view(await _existing(request.app[API_STATE], request.match_info["name"]))
    )


async def _keeps_an_admin(state: ApiState, user: UserRecord) -> None:
    """Refuse to remove the last admin account: the deployment would have no one to manage it
    but the service credential."""
    if user.role == Role.ADMIN and await users.count_users(state.reads, role=Role.ADMIN) <= 1:
        raise ApiProblem(409, "Conflict", "this is the last admin account")


@routes.put("/api/v1/users/{name}")
async def put_user(request: web.Request) -> web.Response:
    """``{"password": str, "role": str}``: both to create; either to change."""
    state = request.app[API_STATE]
    name = request.match_info["name"]
    body = read_object(await read_json(request))
    unknown = set(body) - {"password", "role"}
    if unknown:
        raise ApiProblem(400, "Bad Request", f"unknown fields: {', '.join(sorted(unknown))}")
    try:
        check_name(name)
        role = check_role(body["role"]) if "role" in body else None
        password = check_password(body["password"]) if "password" in body else None
    except AccountError as exc:
        raise ApiProblem(400, "Bad Request", str(exc)) from None
    existing = await users.get_user(state.reads, name)
    if existing is None and (role is None or password is None):
        raise ApiProblem(400, "Bad Request", "a new user needs a password and a role")
    if existing is not None and role is not None and role != Role.ADMIN:
        await _keeps_an_admin(state, existing)
    password_hash = await asyncio.to_thread(hash_password, password) if password else None
    try:
        created = await users.put_user(
            state.engine,
            name,
            role=role.value if role is not None else None,
            password_hash=password_hash,
        )
    except LookupError:
        raise ApiProblem(404, "Not Found", "no such user") from None
    stored = await _existing(state, name)
    return json_response(user_view(stored), status=201 if created else 200)


@routes.delete("/api/v1/users/{name}")
async def delete_user(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    await _keeps_an_admin(state, await _existing(state, request.match_info["name"]))
    if not await users.delete_user(state.engine, request.match_info["name"]):
        raise ApiProblem(404, "Not Found", "no such user")
    return web.Response(status=204)
