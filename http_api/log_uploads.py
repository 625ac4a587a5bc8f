"""Log requests, and the upload endpoint stations send their logs to."""

from __future__ import annotations

from typing import Any

from aiohttp import web

routes = web.RouteTableDef()

PATHS: dict[str, Any] = {}
"""OpenAPI operations of this resource (each declares its ``x-required-role``)."""
SCHEMAS: dict[str, Any] = {}
"""OpenAPI schemas of this resource."""
