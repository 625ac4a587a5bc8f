"""The dashboard's files as the node serves them (no browser needed): open, typed, revalidated,
confined to the package's folder, and all shipped in the wheel."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import aiohttp
from yarl import URL

from http_api.static import ASSETS, DASHBOARD_DIR
from tests.server_fixtures import Running

ROOT = Path(__file__).resolve().parents[2]


async def test_the_page_and_its_modules_are_served_without_a_credential(server: Running) -> None:
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(server.api_url + "/") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/html; charset=utf-8"
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert '<script type="module" src="/dashboard/app.js">' in await r.text()
        async with anonymous.get(server.api_url + "/dashboard/app.js") as r:
            assert r.status == 200
            # Module scripts run only when served as JavaScript.
            assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
            etag = r.headers["ETag"]
        async with anonymous.get(
            server.api_url + "/dashboard/app.js", headers={"If-None-Match": etag}
        ) as r:
            assert r.status == 304
            assert await r.read() == b""


async def test_only_the_dashboard_files_are_served(server: Running) -> None:
    async with aiohttp.ClientSession() as anonymous:
        for name in ("nothing.js", "..%2Fstatic.py", "%2E%2E", "static.py", ".hidden.js"):
            # As written: the client would otherwise resolve the dots itself.
            url = URL(server.api_url + "/dashboard/" + name, encoded=True)
            async with anonymous.get(url) as r:
                assert r.status == 404, name


def test_every_module_the_page_imports_is_served() -> None:
    imported = {"app.js", "dashboard.css", "icon.svg"}
    for name in [n for n in ASSETS if n.endswith(".js")]:
        text = (DASHBOARD_DIR / name).read_text()
        imported |= set(re.findall(r'from "\./([^"]+)"', text))
    assert imported <= set(ASSETS), sorted(imported - set(ASSETS))
    # And nothing served is dead weight.
    assert set(ASSETS) - imported == {"index.html"}


def test_the_package_data_ships_every_dashboard_file() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = settings["package-data"]["http_api"]
    for path in DASHBOARD_DIR.iterdir():
        relative = f"dashboard/{path.name}"
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
