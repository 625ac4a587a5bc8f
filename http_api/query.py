"""Query parameters that an operation does not declare are refused.

The OpenAPI document lists the query parameters of each operation (``http_api.openapi``), and that
list is what the server accepts: ``GET /api/v1/transactions?statoin_id=CP-1`` gets a 400 that names
``statoin_id`` instead of every transaction, unfiltered. A parameter a handler reads must therefore
be declared in the document, which keeps the document true.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from http_api.openapi import DOCUMENT, PATHS
from http_api.problems import problem_response

API_PREFIX = "/api/v1/"
_PARAMETER_REF = "#/components/parameters/"


def _query_names(parameters: Iterable[Any]) -> set[str]:
    names = set()
    for parameter in parameters:
        ref = parameter.get("$ref", "")
        if ref.startswith(_PARAMETER_REF):
            parameter = DOCUMENT["components"].get("parameters", {})[ref[len(_PARAMETER_REF) :]]
        if parameter.get("in") == "query":
            names.add(parameter["name"])
    return names


def declared_query_parameters(path: str, method: str) -> set[str]:
    """The query parameters the document declares for an operation (its aiohttp canonical path
    and lower-case method), its path item's included; none for an operation it does not declare."""
    item = PATHS.get(path) or {}
    operation = item.get(method) or {}
    return _query_names(item.get("parameters", ())) | _query_names(operation.get("parameters", ()))


@web.middleware
async def refuse_unknown_query(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """After authorization, so that an outsider learns nothing of an operation's parameters."""
    resource = request.match_info.route.resource
    if not request.query or resource is None or not resource.canonical.startswith(API_PREFIX):
        # Not the operator API, or no route (aiohttp answers 404/405).
        return await handler(request)
    method = "get" if request.method == "HEAD" else request.method.lower()
    declared = declared_query_parameters(resource.canonical, method)
    unknown = sorted(set(request.query) - declared)
    if not unknown:
        return await handler(request)
    names = ", ".join(repr(name) for name in unknown)
    takes = ", ".join(sorted(declared)) or "no query parameters"
    plural = "s" if len(unknown) > 1 else ""
    return problem_response(
        400,
        "Bad Request",
        f"unknown query parameter{plural} {names}: "
        f"{request.method} {resource.canonical} takes {takes}",
        unknown_parameters=unknown,
    )
