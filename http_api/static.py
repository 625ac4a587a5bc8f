"""The operator dashboard: ``GET /`` and its files under ``GET /dashboard/{name}``.

The files hold no data of the deployment (every figure the page shows comes from ``/api/v1`` with
the operator's bearer token), so these routes are open, as the OpenAPI document declares. They are
read once, at import, from the package's ``dashboard/`` folder: a fixed set of names, so no request
path ever reaches the file system. The page's scripts may talk only to this origin (the
Content-Security-Policy), which keeps a token in session storage out of reach of injected markup.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from http_api.problems import ApiProblem

routes = web.RouteTableDef()

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboard"

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_SERVED_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(html|js|css|svg)$")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets(folder: Path) -> dict[str, Asset]:
    """Every servable file of ``folder`` by name (no subfolders: the names are the whole path)."""
    assets: dict[str, Asset] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and _SERVED_NAME.match(path.name):
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:20]
            assets[path.name] = Asset(body, _CONTENT_TYPES[path.suffix], f'"{digest}"')
    return assets


ASSETS = load_assets(DASHBOARD_DIR)


def _serve(request: web.Request, name: str) -> web.Response:
    asset = ASSETS.get(name)
    if asset is None:
        raise ApiProblem(404, "Not Found", "no such dashboard file")
    # Revalidated on every load: an upgraded node serves its new scripts at once, and an
    # unchanged file costs a 304.
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, headers={**headers, "Content-Type": asset.content_type})


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return _serve(request, "index.html")


@routes.get("/dashboard/{name}")
async def dashboard_file(request: web.Request) -> web.Response:
    return _serve(request, request.match_info["name"])
