"""A headless Chromium driven through Selenium, from async tests.

Every WebDriver call blocks, and the node under test runs in the test's own event loop: the calls
go through ``asyncio.to_thread`` so that the node keeps serving the page while the test waits.
The browser is Debian's ``/usr/bin/chromium`` with its ``chromedriver``, offline (no first-run,
component or sync traffic: this machine's network is closed) and with a fresh profile each time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from tests.timing import UNIT, eventually

CHROMIUM = Path(os.environ.get("VOLTMESH_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("VOLTMESH_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))

DESKTOP = (1280, 900)
PHONE = (390, 844)
"""CSS pixels of a common phone (iPhone 12 to 15)."""

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=en-US",
]


def require_chromium() -> None:
    """Skip when Chromium is not installed (fail under CI, which installs it: ``.ci/run``)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = f"not installed: {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def start_chromium(profile: Path, size: tuple[int, int]) -> webdriver.Chrome:
    """A headless Chromium whose viewport is ``size`` CSS pixels (blocking: call it in a
    thread); ``stop_chromium`` ends it."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        # The viewport itself, not the window: a phone is 390 CSS pixels wide, with touch.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size == PHONE},
        )
    except Exception:
        driver.quit()
        raise
    return driver


def stop_chromium(driver: webdriver.Chrome, profile: Path) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """One browser tab, driven from async code."""

    def __init__(self, driver: webdriver.Chrome, shots: Path) -> None:
        self.driver = driver
        self.shots = shots
        self.taken: list[Path] = []

    async def open(self, url: str) -> None:
        await asyncio.to_thread(self.driver.get, url)

    async def js(self, script: str, *args: Any) -> Any:
        return await asyncio.to_thread(self.driver.execute_script, script, *args)

    async def until(
        self, script: str, *args: Any, within: float = 100 * UNIT, what: str | None = None
    ) -> Any:
        """Run ``script`` (a function body that returns) until it returns something true."""
        return await eventually(lambda: self.js(script, *args), within=within, what=what or script)

    async def text(self, css: str) -> str | None:
        text: str | None = await self.js(
            "const el = document.querySelector(arguments[0]); return el && el.innerText;", css
        )
        return text

    async def element(self, css: str) -> WebElement:
        await self.until("return document.querySelector(arguments[0]) !== null", css, what=css)
        found: WebElement = await asyncio.to_thread(self.driver.find_element, By.CSS_SELECTOR, css)
        return found

    async def click(self, css: str) -> None:
        """A real click (WebDriver moves the pointer there): the element must be visible."""
        element = await self.element(css)
        await asyncio.to_thread(element.click)

    async def type(self, css: str, text: str) -> None:
        element = await self.element(css)
        await asyncio.to_thread(element.clear)
        await asyncio.to_thread(element.send_keys, text)

    async def block(self, *patterns: str) -> None:
        """Requests to URLs matching these patterns fail, as when a proxy on the way refuses
        them (Chromium's own blocking, through the DevTools protocol)."""
        await asyncio.to_thread(self.driver.execute_cdp_cmd, "Network.enable", {})
        await asyncio.to_thread(
            self.driver.execute_cdp_cmd, "Network.setBlockedURLs", {"urls": list(patterns)}
        )

    async def shot(self, name: str) -> Path:
        path = self.shots / f"{len(self.taken) + 1:02d}-{name}.png"
        await asyncio.to_thread(self.driver.save_screenshot, str(path))
        self.taken.append(path)
        return path

    async def script_errors(self) -> list[str]:
        """Uncaught errors and console.error lines of the page (failed requests aside: a 401 or
        an absent event stream is the page's business, and it shows it)."""
        entries = await asyncio.to_thread(self.driver.get_log, "browser")
        return [
            e["message"]
            for e in entries
            if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]
        ]
