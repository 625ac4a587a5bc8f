"""Fixtures of the dashboard tests: a node on loopback and a headless Chromium pointed at it.

Screenshots of every test are kept in its ``tmp_path`` and copied to one folder, named at the end
of the run (``VOLTMESH_DASHBOARD_SHOTS``, default ``<pytest base temp>/dashboard-shots``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.browser.browser import (
    DESKTOP,
    Page,
    require_chromium,
    start_chromium,
    stop_chromium,
)
from tests.server_fixtures import server, start_server

__all__ = ["server", "start_server"]

_shot_folders: list[Path] = []


def _shots_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("VOLTMESH_DASHBOARD_SHOTS")
    if chosen:
        return Path(chosen)
    return tmp_path_factory.getbasetemp() / "dashboard-shots"


OpenPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def browser(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpenPage]:
    """Factory: ``page = await browser(size=PHONE)``; every page is closed at the end, its
    screenshots copied out, and its uncaught script errors fail the test."""
    require_chromium()
    shots = tmp_path / "shots"
    shots.mkdir()
    pages: list[Page] = []
    async with AsyncExitStack() as stack:

        async def open_page(size: tuple[int, int] = DESKTOP) -> Page:
            profile = tmp_path / f"chromium-profile-{len(pages)}"
            driver = await asyncio.to_thread(start_chromium, profile, size)
            stack.push_async_callback(asyncio.to_thread, stop_chromium, driver, profile)
            page = Page(driver, shots)
            pages.append(page)
            return page

        yield open_page
        errors = [error for page in pages for error in await page.script_errors()]
    target = _shots_root(tmp_path_factory) / request.node.name
    if any(shots.iterdir()):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(shots, target)
        _shot_folders.append(target)
    assert errors == [], errors


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _shot_folders:
        folder = _shot_folders[0].parent
        terminalreporter.write_line(f"dashboard screenshots: {folder}")
