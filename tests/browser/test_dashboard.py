"""The operator dashboard in a real headless Chromium, against a node on loopback and real OCPP 1.6
chargers: login, the fleet coming alive, a remote start from the page reaching the charger, status
changes without a reload, and the phone-sized layout."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from ocpp.v16 import call
from ocpp.v201 import call as call201

from tests.browser.browser import PHONE, Page
from tests.browser.conftest import OpenPage
from tests.browser.relay import CuttableRelay
from tests.ocpp_charger import Charger16, charger16
from tests.ocpp_charger2 import charger201
from tests.server_fixtures import Running
from tests.timing import UNIT

ONLINE_WITHIN = 40 * UNIT
"""A charger that connects shows online within 2 s."""
STREAMED_WITHIN = 20 * UNIT
"""An event of the stream shows within 1 s."""
POLLED_WITHIN = 50 * UNIT
"""Without the stream, the next 2-s poll shows it (and its requests take their time)."""

ROW = 'document.querySelector(`tr[data-station="${CSS.escape(arguments[0])}"]`)'


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def log_in(page: Page, base_url: str, name: str, password: str) -> None:
    await page.open(base_url + "/")
    await page.type("#username", name)
    await page.type("#password", password)
    await page.click("form.login button[type=submit]")
    await page.until(
        "return !document.getElementById('top').hidden"
        " && document.querySelector('main h1')?.innerText === 'Fleet'",
        what="the fleet page after logging in",
    )


async def update_bound(page: Page) -> float:
    """How soon a change must show: within 1 s over the event stream, within a poll otherwise."""
    mode = await page.until(
        "const mode = document.getElementById('live').className;"
        "return !mode.includes('connecting') && mode",
        what="the live feed settling",
    )
    return STREAMED_WITHIN if "live live" in mode else POLLED_WITHIN


async def timed(page: Page, script: str, *args: object, within: float, what: str) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await page.until(script, *args, within=within, what=what)
    return loop.time() - started


async def boot(cp: Charger16) -> None:
    await cp.call(
        call.BootNotification(charge_point_model="Wallbox 22", charge_point_vendor="Volt")
    )
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
    await cp.call(call.StatusNotification(connector_id=2, error_code="NoError", status="Available"))


async def test_log_in_see_the_fleet_and_log_out(server: Running, browser: OpenPage) -> None:
    await server.add_user("vera", "viewer", "vera-password-0123")
    page = await browser()
    await page.open(server.api_url + "/")
    await page.element("#username")
    await page.shot("login")
    await page.type("#username", "vera")
    await page.type("#password", "not her password")
    await page.click("form.login button[type=submit]")
    await page.until(
        "return document.querySelector('.login .error:not([hidden])')?.innerText",
        what="the refusal",
    )
    assert "Wrong user name or password" in (await page.text(".login .error") or "")

    await log_in(page, server.api_url, "vera", "vera-password-0123")
    assert await page.text("#user") == "vera (viewer)"
    assert await page.js("return sessionStorage.getItem('voltmesh.session') !== null")
    await page.shot("fleet-empty")

    # A token the node no longer accepts (its user deleted) sends back to the login page.
    assert await server.delete("/api/v1/users/vera") == 204
    await page.click("a[data-nav=transactions]")
    await page.until(
        "return location.hash.startsWith('#/login') && document.getElementById('username')",
        what="back to the login page after a 401",
    )
    assert await page.js("return sessionStorage.getItem('voltmesh.session')") is None

    await server.add_user("olga", "operator", "olga-password-0123")
    await log_in(page, server.api_url, "olga", "olga-password-0123")
    await page.click("#logout")
    await page.until("return location.hash === '#/login'", what="logged out")
    assert await page.js("return sessionStorage.getItem('voltmesh.session')") is None


async def test_a_charger_shows_online_and_its_status_changes_live(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("vera", "viewer", "vera-password-0123")
    page = await browser()
    await log_in(page, server.api_url, "vera", "vera-password-0123")
    within = await update_bound(page)
    # Set once: a reload of the page would lose it.
    await page.js("window.notReloaded = true")
    async with charger16(server.ocpp_url, "CP-B1") as cp:
        took = await timed(
            page,
            f"return {ROW}?.dataset.state === 'online'",
            "CP-B1",
            within=ONLINE_WITHIN,
            what="CP-B1 online in the fleet table",
        )
        print(f"CP-B1 showed online {took:.2f} s after it connected")
        await boot(cp)
        await page.until(
            f"return {ROW}?.innerText.includes('Wallbox 22')", "CP-B1", what="its model"
        )
        assert await page.text(".tile.online .count") == "1"

        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        took = await timed(
            page,
            f"return {ROW}?.dataset.state === 'charging'",
            "CP-B1",
            within=within,
            what="CP-B1 charging",
        )
        print(f"Charging showed {took:.2f} s after the StatusNotification")
        assert await page.text(".tile.charging .count") == "1"

        await cp.call(
            call.StatusNotification(connector_id=2, error_code="GroundFailure", status="Faulted")
        )
        await timed(
            page,
            f"return {ROW}?.dataset.state === 'faulted'",
            "CP-B1",
            within=within,
            what="CP-B1 faulted",
        )
        assert await page.text(".tile.faulted .count") == "1"
        await page.shot("fleet-live")

        # The filter box narrows the table.
        await page.type("#station-filter", "no-such-station")
        await page.until(f"return {ROW} === null", "CP-B1", what="filtered out")
        await page.type("#station-filter", "wallbox")
        await page.until(f"return {ROW} !== null", "CP-B1", what="filtered in")

        # The station page follows its connectors live too.
        await page.click('tr[data-station="CP-B1"] a')
        await page.until(
            "return document.querySelector('.connector[data-evse=\"2\"]')?.dataset.status === 'Faulted'",
            what="the faulted connector on the station page",
        )
        await cp.call(
            call.StatusNotification(connector_id=2, error_code="NoError", status="Available")
        )
        await timed(
            page,
            "return document.querySelector('.connector[data-evse=\"2\"]')?.dataset.status === 'Available'",
            within=within,
            what="connector 2 available again",
        )
        # A viewer reads; the commands need an operator.
        assert await page.js("return document.querySelector('[data-command=reset]').disabled")
        await page.shot("station-viewer")
        assert await page.js("return window.notReloaded === true")

    await page.until(
        "return document.querySelector('.station-head .badge')?.innerText === 'Offline'",
        within=within + ONLINE_WITHIN,
        what="CP-B1 offline once it disconnected",
    )


async def test_remote_start_from_the_page_reaches_the_charger(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("olga", "operator", "olga-password-0123")
    status, _ = await server.put("/api/v1/id-tags/TAG-WEB", {"status": "Accepted"})
    assert status == 201
    page = await browser()
    await log_in(page, server.api_url, "olga", "olga-password-0123")
    within = await update_bound(page)
    async with charger16(server.ocpp_url, "CP-R1") as cp:
        await boot(cp)
        await page.open(server.api_url + "/#/stations/CP-R1")
        await page.until(
            "const b = document.querySelector('[data-command=\"remote-start\"]'); return b && !b.disabled",
            what="the remote start button, enabled",
        )
        await page.click('[data-command="remote-start"]')
        await page.element("#command-dialog[open] #command-idTag")
        await page.type("#command-idTag", "TAG-WEB")
        await page.shot("remote-start-confirm")
        await page.click("#command-dialog button[name=send]")
        await page.until(
            "return document.querySelector('#command-dialog .answer.ok')?.innerText.includes('Accepted')",
            what="the charger's answer in the dialog",
        )
        assert ("RemoteStartTransaction", {"connector_id": 1, "id_tag": "TAG-WEB"}) in cp.received
        await page.shot("remote-start-answer")
        await page.click("#command-dialog button[name=send]")  # Close
        assert "Accepted" in (await page.text(".last-answer") or "")

        # The charger starts as asked; the transaction shows with its power and energy.
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-WEB", meter_start=1000, timestamp=now()
            )
        )
        tx = start.transaction_id
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {
                                "value": "2250",
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                        ],
                    }
                ],
            )
        )
        await page.until(
            "return document.querySelector('.connector[data-evse=\"1\"] .energy')?.innerText === '1.25 kWh'",
            within=within + ONLINE_WITHIN,
            what="the transaction's energy on the station page",
        )
        await page.shot("station-charging")

        await page.click("a[data-nav=transactions]")
        row = f'tr[data-transaction="{tx}"]'
        await page.until(
            f"const row = document.querySelector('table.active {row}');"
            "return row && row.querySelector('.energy').innerText === '1.25 kWh'"
            " && row.querySelector('.power').innerText === '7.4 kW'",
            within=within + ONLINE_WITHIN,
            what="the running transaction with its power and energy",
        )
        assert await page.js("return document.querySelectorAll('svg.chart rect.bar').length") == 24
        await page.shot("transactions-running")

        # And a remote stop from its station page.
        await page.open(server.api_url + "/#/stations/CP-R1")
        await page.until(
            "const b = document.querySelector('[data-command=\"remote-stop\"]'); return b && !b.disabled",
            what="the remote stop button",
        )
        await page.click('[data-command="remote-stop"]')
        await page.element("#command-dialog[open] #command-transactionId")
        await page.click("#command-dialog button[name=send]")
        await page.until(
            "return document.querySelector('#command-dialog .answer.ok')?.innerText.includes('Accepted')",
            what="the remote stop answered",
        )
        assert ("RemoteStopTransaction", {"transaction_id": tx}) in cp.received
        await cp.call(
            call.StopTransaction(
                meter_stop=4000, timestamp=now(), transaction_id=tx, reason="Remote"
            )
        )
        await page.click("#command-dialog button[name=send]")
        await page.click("a[data-nav=transactions]")
        await page.until(
            f"return document.querySelector('table.recent {row}')?.innerText.includes('3.00 kWh')",
            within=within + ONLINE_WITHIN,
            what="the finished transaction with its energy",
        )
        await page.shot("transactions-finished")


async def test_without_the_event_stream_the_page_polls_every_2_s(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("olga", "operator", "olga-password-0123")
    # A start with an unknown token is refused, and its transaction closed at once.
    status, _ = await server.put("/api/v1/id-tags/POLL", {"status": "Accepted"})
    assert status == 201
    page = await browser()
    await page.block("*/api/v1/events*")
    await log_in(page, server.api_url, "olga", "olga-password-0123")
    await page.until(
        "return document.getElementById('live').className === 'live polling'",
        what="the page polling",
    )
    async with charger16(server.ocpp_url, "CP-P1") as cp:
        took = await timed(
            page,
            f"return {ROW}?.dataset.state === 'online'",
            "CP-P1",
            within=POLLED_WITHIN,
            what="CP-P1 online, polled",
        )
        print(f"polled: CP-P1 showed online {took:.2f} s after it connected")
        await boot(cp)
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        took = await timed(
            page,
            f"return {ROW}?.dataset.state === 'charging'",
            "CP-P1",
            within=POLLED_WITHIN,
            what="CP-P1 charging, polled",
        )
        print(f"polled: Charging showed {took:.2f} s after the StatusNotification")
        start = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="POLL", meter_start=0, timestamp=now())
        )
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=start.transaction_id,
                meter_value=[
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {
                                "value": "500",
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                            {"value": "11", "measurand": "Power.Active.Import", "unit": "kW"},
                        ],
                    }
                ],
            )
        )
        await page.click("a[data-nav=transactions]")
        await page.until(
            f"const row = document.querySelector('table.active tr[data-transaction=\"{start.transaction_id}\"]');"
            "return row && row.querySelector('.power').innerText === '11.0 kW'"
            " && row.querySelector('.energy').innerText === '0.50 kWh'",
            within=2 * POLLED_WITHIN,
            what="power and energy read from the REST API",
        )
        await page.shot("transactions-polled")


async def test_after_a_network_break_the_stream_resumes_where_it_was(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("olga", "operator", "olga-password-0123")
    relay = CuttableRelay(int(server.api_url.rsplit(":", 1)[1]))
    url = await relay.start()
    try:
        page = await browser()
        await log_in(page, url, "olga", "olga-password-0123")
        await page.until(
            "return document.getElementById('live').className === 'live live'", what="live"
        )
        async with charger16(server.ocpp_url, "CP-N1") as cp:
            await boot(cp)
            await page.open(url + "/#/stations/CP-N1")
            await page.element(".connector[data-evse='2']")
            relay.cut()
            # Published while the page's stream is down: only a replay brings it to the page's
            # live activity (a reload of the views from the REST API does not list events).
            await cp.call(
                call.StatusNotification(
                    connector_id=2, error_code="GroundFailure", status="Faulted"
                )
            )
            await page.until(
                "return [...document.querySelectorAll('td.kind')].some("
                "td => td.innerText === 'status.connector'"
                " && td.nextElementSibling.innerText.includes('Faulted'))",
                within=ONLINE_WITHIN + POLLED_WITHIN,
                what="the missed status event, replayed",
            )
            await page.until(
                "return document.getElementById('live').className === 'live live'",
                what="live again",
            )
            await page.shot("station-resumed")
        resumed = re.search(
            rb"GET /api/v1/events [^\r\n]*\r\n(?:[^\r\n]+\r\n)*?last-event-id: *\d+\r\n",
            bytes(relay.sent),
            re.IGNORECASE,
        )
        assert resumed, "the stream was not resumed with Last-Event-ID"
    finally:
        await relay.close()


async def _no_horizontal_scroll(page: Page, what: str) -> None:
    overflow = await page.js(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{what}: {overflow} px wider than the phone's screen"


async def test_the_phone_sized_layout_has_no_horizontal_scroll(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("olga", "operator", "olga-password-0123")
    status, _ = await server.put("/api/v1/id-tags/PHONE", {"status": "Accepted"})
    assert status == 201
    page = await browser(size=PHONE)
    await page.open(server.api_url + "/")
    await page.element("#username")
    # The page's viewport meta makes the layout as wide as the phone.
    assert await page.js("return window.innerWidth") == PHONE[0]
    await _no_horizontal_scroll(page, "login")
    await page.shot("phone-login")
    await log_in(page, server.api_url, "olga", "olga-password-0123")
    # A long station id and a transaction: the widest things these pages show.
    station = "CP-PHONE-with-a-rather-long-identifier-012345678"
    async with charger16(server.ocpp_url, station) as cp:
        await boot(cp)
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        start = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="PHONE", meter_start=0, timestamp=now())
        )
        await page.until(f"return {ROW}?.dataset.state === 'charging'", station, what="charging")
        await _no_horizontal_scroll(page, "fleet")
        await page.shot("phone-fleet")

        await page.click(f'tr[data-station="{station}"] a')
        await page.element(".connector")
        await page.until(
            "return document.querySelector('.config table, .config-empty, section.card h2')"
        )
        await _no_horizontal_scroll(page, "station")
        await page.shot("phone-station")
        await page.click('[data-command="availability"]')
        await page.element("#command-dialog[open]")
        await _no_horizontal_scroll(page, "command dialog")
        await page.shot("phone-command")
        await page.click("#command-dialog button[name=cancel]")

        await page.click("a[data-nav=transactions]")
        await page.until(
            f"return document.querySelector('table.active tr[data-transaction=\"{start.transaction_id}\"]')",
            what="the transaction",
        )
        await _no_horizontal_scroll(page, "transactions")
        await page.shot("phone-transactions")


async def test_a_2x_station_page_shows_its_device_model_and_sends_2x_commands(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("olga", "operator", "olga-password-0123")
    page = await browser()
    await log_in(page, server.api_url, "olga", "olga-password-0123")
    async with charger201(server.ocpp_url, "CS-2X") as cp:
        await cp.call(
            call201.BootNotification(
                charging_station={"model": "DC 150", "vendor_name": "Volt"}, reason="PowerUp"
            )
        )
        await cp.call(
            call201.StatusNotification(
                timestamp=now(), connector_status="Available", evse_id=1, connector_id=1
            )
        )
        status, body = await server.command(
            "CS-2X", "GetBaseReport", {"requestId": 5, "reportBase": "FullInventory"}
        )
        assert status == 200, body
        await asyncio.wait_for(cp.report_sent.wait(), 100 * UNIT)

        await page.open(server.api_url + "/#/stations/CS-2X")
        await page.until(
            "return [...document.querySelectorAll('table.config td')]"
            ".some(td => td.innerText === 'HeartbeatInterval')",
            what="the device model",
        )
        assert await page.text(".connector[data-evse='1'] .connector-head") == "EVSE 1\nAvailable"
        await page.click('[data-command="remote-start"]')
        await page.element("#command-dialog[open] #command-idToken")
        await page.js(
            "const select = document.getElementById('command-evseId');"
            "select.value = '1'; select.dispatchEvent(new Event('change'));"
        )
        await page.type("#command-idToken", "TAG-2X")
        await page.click("#command-dialog button[name=send]")
        await page.until(
            "return document.querySelector('#command-dialog .answer')?.innerText.includes('Answer')",
            what="the charger's answer",
        )
        await page.shot("station-2x")
        await _no_horizontal_scroll(page, "a 2.x station page on a desktop")
        (sent,) = cp.calls("RequestStartTransaction")
        assert sent["id_token"] == {"id_token": "TAG-2X", "type": "Central"}
        assert sent["evse_id"] == 1
        assert isinstance(sent["remote_start_id"], int)
