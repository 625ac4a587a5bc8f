"""Authorization of every operation, read from the OpenAPI document a running node serves: a new
route that is not declared there, or declared without a role, cannot skip authorization."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from http_api.app import create_api
from http_api.roles import Role
from tests.server_fixtures import Running

METHODS = ("get", "put", "post", "delete", "patch")
CALLERS: list[Role | None] = [None, Role.VIEWER, Role.OPERATOR, Role.ADMIN]


def _concrete(path: str) -> str:
    """A path template with every parameter filled (a value no route treats specially)."""
    return re.sub(r"\{[^}]+\}", "matrix-x", path)


async def _status(session: aiohttp.ClientSession, method: str, url: str) -> int:
    body: Any = {} if method in ("put", "post", "patch") else None
    async with session.request(method.upper(), url, json=body, params={"timeout": "0.05"}) as r:
        await r.read()
        return r.status


async def test_every_operation_answers_each_role_as_declared(server: Running) -> None:
    status, document = await server.get("/api/v1/openapi.json")
    assert status == 200
    tokens = {role: await server.add_user(f"matrix-{role.value}", role.value) for role in Role}
    checked = 0
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            is_open = operation.get("security") == []
            declared = operation.get("x-required-role")
            assert is_open or declared in [r.value for r in Role], (method, path)
            needed = None if is_open else Role(declared)
            open_answers = set()
            for caller in CALLERS:
                token = tokens[caller] if caller is not None else None
                async with server.client(token) as session:
                    got = await _status(session, method, server.api_url + _concrete(path))
                what = (method.upper(), path, caller)
                if needed is None:
                    # Never refused for want of a role: no 401, and the same answer whoever
                    # calls (the upload endpoint refuses a URL without a valid secret with 403
                    # itself, whatever the caller's credential).
                    assert got != 401, what
                    open_answers.add(got)
                    assert len(open_answers) == 1, (what, open_answers)
                elif caller is None:
                    assert got == 401, what
                elif not caller.allows(needed):
                    assert got == 403, what
                else:
                    assert got not in (401, 403), what
                checked += 1
    assert checked >= 4 * 23  # the operations of this issue at least


async def test_every_api_route_is_in_the_openapi_document(server: Running) -> None:
    status, document = await server.get("/api/v1/openapi.json")
    assert status == 200
    app = create_api(server.node.api_state)
    served = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None and route.method not in ("HEAD", "OPTIONS")
    }
    api = {(path, method) for path, method in served if path.startswith("/api/v1")}
    assert api, "the API serves no /api/v1 route?"
    declared = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    assert api <= declared, sorted(api - declared)
    # And the document declares nothing that is not served.
    assert declared <= served, sorted(declared - served)


async def test_a_viewer_reads_metrics(server: Running) -> None:
    token = await server.add_user("metrics-viewer", "viewer")
    async with server.client(token) as viewer, viewer.get(server.api_url + "/metrics") as r:
        assert r.status == 200
        assert "voltmesh_connected_stations" in await r.text()
