"""The dashboard's pages of the areas beyond the core, in a real headless Chromium against a node on
loopback with real chargers: the sites and their division of the limit following the stream, a
station's charging profiles, composite schedule, reservations, firmware updates and log requests,
and the cost of running and finished transactions, on a desktop and on a phone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.v16 import call

from tests.browser.browser import PHONE, Page
from tests.browser.conftest import OpenPage
from tests.browser.test_dashboard import POLLED_WITHIN, boot, log_in, now, update_bound
from tests.ocpp_charger import charger16
from tests.ocpp_charger2 import Charger201, charger201
from tests.server_fixtures import Running
from tests.timing import UNIT
from tests.v2_calls import boot_payload, call2, energy, transaction_event

SITE_CARD = 'document.querySelector(`section.site[data-site="${CSS.escape(arguments[0])}"]`)'
SETTLED_WITHIN = 200 * UNIT
"""A site's division reaches the page once its stations answered the profiles (two round trips
of the charger, then the stream)."""


async def no_horizontal_scroll(page: Page, what: str) -> None:
    overflow = await page.js(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{what}: {overflow} px wider than the screen"
    # Nor does a card scroll sideways (a card clips what is wider than itself).
    wide = await page.js(
        "return [...document.querySelectorAll('main .card')]"
        ".filter(c => c.scrollWidth > c.clientWidth + 1)"
        ".map(c => c.id || c.dataset.site || c.querySelector('h2')?.innerText)"
    )
    assert wide == [], f"{what}: these cards scroll sideways: {wide}"


async def shot_at(page: Page, css: str, name: str) -> None:
    """A screenshot with the element ``css`` at the top of the screen."""
    await page.js("document.querySelector(arguments[0]).scrollIntoView({block: 'start'})", css)
    await page.shot(name)


async def boot2(cp: Charger201, evses: int = 1) -> None:
    await call2(cp, "BootNotification", boot_payload())
    for evse in range(1, evses + 1):
        await call2(
            cp,
            "StatusNotification",
            {"timestamp": now(), "connectorStatus": "Available", "evseId": evse, "connectorId": 1},
        )


async def start2(server: Running, cp: Charger201, tag: str, tx: str, evse: int = 1) -> None:
    status, _ = await server.put(
        f"/api/v1/id-tags/{tag}", {"status": "Accepted", "type": "ISO14443"}
    )
    assert status in (200, 201)
    started = await call2(
        cp,
        "TransactionEvent",
        transaction_event(
            "Started",
            0,
            tx,
            minutes=0,
            trigger="Authorized",
            meter=[energy(0, 0, "Transaction.Begin")],
            idToken={"idToken": tag, "type": "ISO14443"},
            evse={"id": evse, "connectorId": 1},
            info={"chargingState": "Charging"},
        ),
    )
    assert started["idTokenInfo"]["status"] == "Accepted"


async def stop2(cp: Charger201, tx: str, wh: float, seq_no: int = 2) -> dict[str, Any]:
    return await call2(
        cp,
        "TransactionEvent",
        transaction_event(
            "Ended",
            seq_no,
            tx,
            minutes=10,
            trigger="EVDeparted",
            meter=[energy(wh, 10, "Transaction.End")],
            info={"stoppedReason": "EVDisconnected"},
        ),
    )


def depot(limit: float, *stations: str) -> dict[str, Any]:
    return {
        "name": "Depot A",
        "limit": {"unit": "A", "value": limit, "phases": 3},
        "min_current": 6.0,
        "members": [{"station_id": s, "evse_id": None, "priority": 0} for s in stations],
    }


def shares_shown(site_id: str, expected: dict[str, str]) -> str:
    """A script: whether the site's card shows exactly these stations with these accepted
    shares."""
    wanted = json.dumps(sorted(expected.items()), separators=(",", ":"))
    return (
        f"const card = document.querySelector('section.site[data-site={json.dumps(site_id)}]');"
        "if (!card) return false;"
        "const seen = [...card.querySelectorAll('table.sessions tbody tr')].map(r =>"
        " [r.dataset.station, r.dataset.status === 'accepted'"
        " ? r.querySelector('.accepted').innerText : r.dataset.status]).sort();"
        f"return JSON.stringify(seen) === {json.dumps(wanted)};"
    )


async def test_sites_show_the_division_of_the_limit_live(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("vera", "viewer", "vera-password-0123")
    page = await browser()
    await log_in(page, server.api_url, "vera", "vera-password-0123")
    await update_bound(page)
    await page.click("a[data-nav=sites]")
    await page.until(
        "return document.querySelector('main .note')?.innerText.startsWith('No site yet')",
        what="no site yet",
    )
    await page.shot("sites-none")
    # Sites created while the page is open appear without a reload (site.changed).
    status, body = await server.put("/api/v1/sites/depot", depot(40.0, "S-A", "S-B"))
    assert status == 201, body
    status, body = await server.put(
        "/api/v1/sites/yard",
        {
            "name": "Yard (night tariff)",
            "limit": {"unit": "W", "value": 50000.0, "phases": 3},
            "schedule": [
                {"start": "00:00", "value": 22000.0},
                {"start": "23:59", "value": 22000.0},
            ],
        },
    )
    assert status == 201, body
    await page.until(
        f"return {SITE_CARD}?.querySelector('.empty')?.innerText === 'No session is charging here.'",
        "depot",
        what="the depot, no session yet",
    )
    # A W site in force by its schedule: 22 kW, not the 50 kW of its limit.
    assert await page.text('section.site[data-site="yard"] .limit-now') == "22.0 kW (3 phases)"
    assert await page.text('section.site[data-site="yard"] .meter-text') == "0 W of 22.0 kW (0 %)"
    await page.js("window.notReloaded = true")
    await page.shot("sites-empty")

    async with charger201(server.ocpp_url, "S-A") as a, charger201(server.ocpp_url, "S-B") as b:
        await boot2(a)
        await boot2(b)
        await start2(server, a, "TAG-SA", "tx-sa")
        await page.until(
            shares_shown("depot", {"S-A": "40.0 A"}),
            within=SETTLED_WITHIN,
            what="one session with the whole limit",
        )
        await start2(server, b, "TAG-SB", "tx-sb")
        await page.until(
            shares_shown("depot", {"S-A": "20.0 A", "S-B": "20.0 A"}),
            within=SETTLED_WITHIN,
            what="two sessions sharing the limit",
        )
        assert await page.text('section.site[data-site="depot"] .meter-text') == (
            "40.0 A of 40.0 A (100 %)"
        )
        assert (
            await page.js(
                "return document.querySelector('section.site[data-site=\"depot\"] .meter-fill')"
                ".style.width"
            )
            == "100%"
        )
        await page.shot("sites-two-sessions")

        # A lower limit reaches the page through the stream, without a reload.
        status, _ = await server.put("/api/v1/sites/depot", depot(30.0, "S-A", "S-B"))
        assert status == 200
        await page.until(
            shares_shown("depot", {"S-A": "15.0 A", "S-B": "15.0 A"}),
            within=SETTLED_WITHIN,
            what="the lower limit shared out",
        )
        assert await page.text('section.site[data-site="depot"] .limit-now') == (
            "30.0 A per phase \u00d7 3"
        )
        await stop2(a, "tx-sa", 1000)
        await page.until(
            shares_shown("depot", {"S-B": "30.0 A"}),
            within=SETTLED_WITHIN,
            what="the ended session's share given back",
        )
        assert await page.js("return window.notReloaded === true")
        await page.shot("sites-after-an-end")

        phone = await browser(size=PHONE)
        await log_in(phone, server.api_url, "vera", "vera-password-0123")
        await phone.open(server.api_url + "/#/sites")
        await phone.until(shares_shown("depot", {"S-B": "30.0 A"}), what="the depot on a phone")
        await no_horizontal_scroll(phone, "sites")
        await phone.shot("phone-sites")


async def test_without_the_event_stream_the_sites_page_polls(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("vera", "viewer", "vera-password-0123")
    status, body = await server.put("/api/v1/sites/polled", depot(32.0, "P-A"))
    assert status == 201, body
    page = await browser()
    await page.block("*/api/v1/events*")
    await log_in(page, server.api_url, "vera", "vera-password-0123")
    await page.until(
        "return document.getElementById('live').className === 'live polling'",
        what="the page polling",
    )
    await page.click("a[data-nav=sites]")
    await page.element('section.site[data-site="polled"] .empty')
    async with charger201(server.ocpp_url, "P-A") as cp:
        await boot2(cp)
        await start2(server, cp, "TAG-PA", "tx-pa")
        await page.until(
            shares_shown("polled", {"P-A": "32.0 A"}),
            within=SETTLED_WITHIN + POLLED_WITHIN,
            what="the share, polled",
        )
        await page.shot("sites-polled")


async def test_stations_that_refuse_their_share_show_the_site_over_its_limit(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("vera", "viewer", "vera-password-0123")
    status, body = await server.put("/api/v1/sites/tight", depot(40.0, "R-A", "R-B"))
    assert status == 201, body
    page = await browser()
    await log_in(page, server.api_url, "vera", "vera-password-0123")
    await page.open(server.api_url + "/#/sites")
    async with charger201(server.ocpp_url, "R-A") as a:
        # Set before anything else can run: the site's TxDefaultProfile comes as they connect.
        a.overrides["SetChargingProfile"] = {"status": "Rejected"}
        async with charger201(server.ocpp_url, "R-B") as b:
            b.overrides["SetChargingProfile"] = {"status": "Rejected"}
            await refused_everything(server, page, a, b)


async def refused_everything(server: Running, page: Page, a: Charger201, b: Charger201) -> None:
    """Two sessions on a site of 40 A whose stations refuse every profile."""
    for cp in (a, b):
        await boot2(cp)
    await start2(server, a, "TAG-RA", "tx-ra")
    await start2(server, b, "TAG-RB", "tx-rb")
    # Nothing accepted: each counts as drawing 32 A per phase, 64 A against 40 A.
    await page.until(
        shares_shown("tight", {"R-A": "rejected", "R-B": "rejected"}),
        within=SETTLED_WITHIN,
        what="both profiles refused",
    )
    await page.until(
        "return document.querySelector('section.site[data-site=\"tight\"] .meter-text')"
        "?.innerText === '64.0 A of 40.0 A (160 %): over the limit'",
        what="the site over its limit",
    )
    assert await page.js(
        "return document.querySelector('section.site[data-site=\"tight\"] .meter')"
        ".classList.contains('over')"
    )
    await page.shot("sites-over-the-limit")


def in_minutes(minutes: float) -> str:
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


DAILY = {
    "evse_id": 0,
    "stack_level": 1,
    "purpose": "TxDefaultProfile",
    "kind": "Recurring",
    "recurrency": "Daily",
    "schedules": [
        {
            "start": "2026-01-01T00:00:00Z",
            "unit": "A",
            "periods": [
                {"start_period": 0, "limit": 16},
                {"start_period": 7 * 3600, "limit": 24},
                {"start_period": 18 * 3600, "limit": 10},
            ],
        }
    ],
}
STATION_MAX = {
    "evse_id": 0,
    "stack_level": 0,
    "purpose": "ChargingStationMaxProfile",
    "kind": "Absolute",
    "schedules": [
        {
            "start": "2026-01-01T00:00:00Z",
            "unit": "A",
            "periods": [{"start_period": 0, "limit": 20}],
        }
    ],
}


def cell(section: str, row: str, column: str) -> str:
    return (
        f"return [...document.querySelectorAll('#{section} tr[{row}] td')]"
        f".find(td => td.dataset.label === '{column}')?.innerText"
    )


async def test_a_station_page_shows_its_profiles_reservations_firmware_and_logs(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("vera", "viewer", "vera-password-0123")
    page = await browser()
    await log_in(page, server.api_url, "vera", "vera-password-0123")
    within = await update_bound(page)
    async with charger201(server.ocpp_url, "CS-AREAS") as cp:
        await boot2(cp, evses=2)
        await page.open(server.api_url + "/#/stations/CS-AREAS")
        for section, text in [
            ("charging-profiles", "The station holds no profile voltmesh sent."),
            ("reservations", "No reservation."),
            ("maintenance", "No firmware update sent."),
            ("maintenance", "No log requested."),
        ]:
            await page.until(
                "return [...document.querySelectorAll(`#${arguments[0]} .empty`)]"
                ".some(p => p.innerText === arguments[1])",
                section,
                text,
                what=f"{section}: {text}",
            )
        # No profile kept: voltmesh computes no limit, the charger answers its own 32 A.
        await page.until(
            "return document.querySelector('#charging-profiles svg.schedule path.step.station')"
            " && !document.querySelector('#charging-profiles svg.schedule path.step.computed')",
            what="the charger's composite schedule alone",
        )
        await shot_at(page, "#charging-profiles", "station-areas-empty")
        await page.js("window.notReloaded = true")

        status, body = await server.post("/api/v1/stations/CS-AREAS/charging-profiles", DAILY)
        assert status == 201, body
        daily_id = body["id"]
        status, body = await server.post("/api/v1/stations/CS-AREAS/charging-profiles", STATION_MAX)
        assert status == 201, body
        # Each period from its time of day (the operator's time zone: the browser's).
        daily = [(16, 0), (24, 7), (10, 18)]
        expected = (
            "["
            + ", ".join(
                f"`{limit}.0 A from ${{new Date(Date.UTC(2026, 0, 1, {hour}))"
                ".toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'})}`"
                for limit, hour in daily
            )
            + "].join('\\n')"
        )
        await page.until(
            cell("charging-profiles", f'data-profile="{daily_id}"', "Limit") + f" === {expected}",
            within=within,
            what="the daily profile, live",
        )
        assert await page.js(cell("charging-profiles", f'data-profile="{daily_id}"', "Kind")) == (
            "Recurring Daily"
        )
        # The composite schedule: voltmesh's own, and the charger's answer beside it.
        await page.until(
            "return document.querySelector('#charging-profiles svg.schedule path.step.computed')"
            " && document.querySelector('#charging-profiles svg.schedule path.step.station')",
            within=within + 100 * UNIT,
            what="the composite schedule chart",
        )
        label = await page.js(
            "return document.querySelector('#charging-profiles svg.schedule')"
            ".getAttribute('aria-label')"
        )
        assert label.startswith("computed by voltmesh: "), label
        assert "10 A" in label and "16 A" in label and "20 A" in label, label
        assert "the charger's answer: 32 A" in label, label

        status, body = await server.post(
            "/api/v1/stations/CS-AREAS/reservations",
            # Tomorrow, at any time of day: the expiry shows its date, the widest form of the cell.
            {"id_token": "TAG-RES", "expires_at": in_minutes(25 * 60), "evse_id": 2},
        )
        assert status == 201, body
        reservation = body["id"]
        await page.until(
            cell("reservations", f'data-reservation="{reservation}"', "Status") + " === 'Active'",
            within=within,
            what="the reservation, live",
        )
        assert (
            await page.js(cell("reservations", f'data-reservation="{reservation}"', "Token"))
            == "TAG-RES"
        )

        status, body = await server.post(
            "/api/v1/stations/CS-AREAS/firmware-updates",
            {"location": "https://firmware.example.com/vm-2-2.1.0-with-a-long-name.bin"},
        )
        assert status == 201, body
        update, request_id = body["id"], body["request_id"]
        await page.until(
            cell("maintenance", f'data-update="{update}"', "Status") + " === 'Accepted'",
            within=within,
            what="the firmware update, accepted",
        )
        await call2(
            cp, "FirmwareStatusNotification", {"status": "Downloading", "requestId": request_id}
        )
        await page.until(
            cell("maintenance", f'data-update="{update}"', "Status") + " === 'Downloading'",
            within=within,
            what="the firmware update downloading, live",
        )

        status, body = await server.post(
            "/api/v1/stations/CS-AREAS/log-requests", {"log_type": "DiagnosticsLog"}
        )
        assert status == 201, body
        log_id, log_request = body["id"], body["request_id"]
        await call2(
            cp, "LogStatusNotification", {"status": "UploadFailure", "requestId": log_request}
        )
        await page.until(
            cell("maintenance", f'data-log="{log_id}"', "Status") + " === 'UploadFailure'",
            within=within,
            what="the failed log upload, live",
        )
        assert (
            await page.js(
                "return document.querySelector(`#maintenance tr[data-log] .chip`).className"
            )
            == "chip faulted"
        )
        assert await page.js("return window.notReloaded === true")
        await no_horizontal_scroll(page, "a station page with every area")
        await shot_at(page, "#charging-profiles", "station-areas")

        phone = await browser(size=PHONE)
        await log_in(phone, server.api_url, "vera", "vera-password-0123")
        await phone.open(server.api_url + "/#/stations/CS-AREAS")
        await phone.until(
            "return document.querySelector('#charging-profiles svg.schedule path.step')"
            " && document.querySelector('#maintenance tr[data-log]')",
            within=100 * UNIT,
            what="the station's areas on a phone",
        )
        await no_horizontal_scroll(phone, "a station page on a phone")
        await phone.shot("phone-station-areas")
        await shot_at(phone, "#charging-profiles", "phone-station-profiles")
        await shot_at(phone, "#charging-profiles .composite", "phone-station-composite")
        await shot_at(phone, "#reservations", "phone-station-reservations")
        await shot_at(phone, "#maintenance", "phone-station-maintenance")


TARIFF = {
    "name": "Standard AC",
    "currency": "EUR",
    "energy_price": "0.40",
    "session_fee": "1.00",
    "tax_rate": "19",
}


def tx_cell(table: str, tx: str, column: str) -> str:
    return (
        f"return [...document.querySelectorAll('table.{table} tr[data-transaction=\"{tx}\"] td')]"
        f".find(td => td.dataset.label === '{column}')?.innerText"
    )


async def test_transactions_show_their_running_and_final_cost(
    server: Running, browser: OpenPage
) -> None:
    await server.add_user("vera", "viewer", "vera-password-0123")
    status, body = await server.put("/api/v1/tariffs/standard", TARIFF)
    assert status == 201, body
    status, body = await server.put("/api/v1/tariffs/standard/assignments", {"default": True})
    assert status == 200, body
    status, _ = await server.put("/api/v1/id-tags/TAG-16", {"status": "Accepted"})
    assert status == 201
    page = await browser()
    await log_in(page, server.api_url, "vera", "vera-password-0123")
    within = await update_bound(page)
    await page.click("a[data-nav=transactions]")
    await page.element("table.active, section.card p.muted")
    async with (
        charger201(server.ocpp_url, "CS-COST") as cp,
        charger16(server.ocpp_url, "CP-COST") as cp16,
    ):
        # 2.x: the running cost follows each TransactionEvent through the stream.
        await boot2(cp)
        await start2(server, cp, "TAG-2X", "tx-cost")
        tx = "CS-COST,tx-cost"
        await page.until(
            tx_cell("active", tx, "Cost so far") + " === '1.19 EUR'",
            within=within + 50 * UNIT,
            what="the session fee with its tax",
        )
        await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Updated",
                1,
                "tx-cost",
                minutes=5,
                trigger="MeterValuePeriodic",
                meter=[energy(2500, 5)],
            ),
        )
        await page.until(
            tx_cell("active", tx, "Cost so far") + " === '2.38 EUR'",
            within=within,
            what="the running cost after 2.5 kWh, live",
        )
        title = await page.js(
            f"return document.querySelector('table.active tr[data-transaction=\"{tx}\"] td.cost')"
            ".title"
        )
        assert title == "energy 1.00 + fee 1.00 = net 2.00, tax 0.38 (EUR; tariff standard)"

        # 1.6: priced on the transaction view.
        await boot(cp16)
        start = await cp16.call(
            call.StartTransaction(connector_id=1, id_tag="TAG-16", meter_start=0, timestamp=now())
        )
        tx16 = str(start.transaction_id)
        await page.until(
            tx_cell("active", tx16, "Cost so far") + " === '1.19 EUR'",
            within=within + 50 * UNIT,
            what="the 1.6 session's cost",
        )
        await page.shot("transactions-running-cost")
        # And on the connector of its station's page.
        await page.open(server.api_url + "/#/stations/CS-COST")
        await page.until(
            "return document.querySelector('.connector[data-evse=\"1\"] .cost')?.innerText"
            " === '2.38 EUR'",
            what="the running cost on the station page",
        )
        await page.open(server.api_url + "/#/transactions")
        await page.element("table.active")

        ended = await stop2(cp, "tx-cost", 5000)
        assert ended["totalCost"] == 3.57
        await cp16.call(
            call.StopTransaction(
                meter_stop=1000, timestamp=now(), transaction_id=start.transaction_id
            )
        )
        await page.until(
            tx_cell("recent", tx, "Cost") + " === '3.57 EUR'",
            within=within + 50 * UNIT,
            what="the final cost of the 2.x session",
        )
        await page.until(
            tx_cell("recent", tx16, "Cost") + " === '1.67 EUR'",
            within=within + 50 * UNIT,
            what="the final cost of the 1.6 session",
        )
        await page.shot("transactions-final-cost")

        phone = await browser(size=PHONE)
        await log_in(phone, server.api_url, "vera", "vera-password-0123")
        await phone.open(server.api_url + "/#/transactions")
        await phone.until(tx_cell("recent", tx, "Cost") + " === '3.57 EUR'", what="on a phone")
        await no_horizontal_scroll(phone, "transactions with cost")
        await phone.shot("phone-transactions-cost")


async def test_a_16_station_that_implements_none_of_it_shows_what_failed(
    server: Running, browser: OpenPage
) -> None:
    """The ``ocpp`` package's 1.6 charger answers UpdateFirmware, GetLog, GetDiagnostics and
    GetCompositeSchedule with a CALLERROR (NotImplemented): the page says so."""
    await server.add_user("vera", "viewer", "vera-password-0123")
    page = await browser(size=PHONE)
    await log_in(page, server.api_url, "vera", "vera-password-0123")
    async with charger16(server.ocpp_url, "CP-OLD") as cp:
        await boot(cp)
        status, body = await server.post(
            "/api/v1/stations/CP-OLD/firmware-updates",
            {"location": "ftp://firmware.example.com/old.bin"},
        )
        assert status == 502, body
        update = body["firmware_update_id"]
        status, body = await server.post(
            "/api/v1/stations/CP-OLD/log-requests", {"log_type": "DiagnosticsLog"}
        )
        assert status == 502, body
        log_id = body["log_request_id"]
        await page.open(server.api_url + "/#/stations/CP-OLD")
        await page.until(
            cell("maintenance", f'data-update="{update}"', "Status") + "?.startsWith('NotSent')",
            what="the update not sent",
        )
        detail = await page.js(cell("maintenance", f'data-update="{update}"', "Status"))
        assert "\n" in detail, detail  # the reason below the status
        await page.until(
            cell("maintenance", f'data-log="{log_id}"', "Status") + "?.startsWith('NotSent')",
            what="the log request not sent",
        )
        await page.until(
            "return document.querySelector('#charging-profiles .small-note')?.innerText"
            '.startsWith("Without the charger\'s answer: ")',
            within=100 * UNIT,
            what="the composite schedule without the charger's answer",
        )
        assert await page.text("#charging-profiles .composite") == (
            "No profile limits it over the next 24 h."
        )
        await no_horizontal_scroll(page, "a 1.6 station's page")
        await shot_at(page, "#charging-profiles", "phone-16-station-profiles")
        await shot_at(page, "#maintenance", "phone-16-station-maintenance")
