"""What operators read back: a station's stored events, lists bounded by since/until, transactions
as CSV, and query parameters no operation declares refused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import yarl
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from http_api import transactions as transactions_api
from persistence.pages import encode_cursor
from tests.ocpp_charger import charger16
from tests.ocpp_charger2 import charger201
from tests.server_fixtures import Running
from tests.timing import eventually

CSV_HEADER = [
    "id",
    "station_id",
    "evse_id",
    "connector_id",
    "id_token",
    "start_time",
    "stop_time",
    "energy_kwh",
    "stop_reason",
    "status",
    "currency",
    "cost_energy",
    "cost_time",
    "cost_fee",
    "cost_idle",
    "cost_net",
    "cost_tax",
    "cost_total",
    "tariff_id",
]
NO_COST = dict.fromkeys(CSV_HEADER[CSV_HEADER.index("currency") :], "")
"""The cost cells of a transaction without a tariff."""


@pytest.fixture
def db_server(server_on_each_db: Running) -> Running:
    """A node on SQLite, then on PostgreSQL: the queries of both stores."""
    return server_on_each_db


def ts(minutes: float) -> str:
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    return (base + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def problem(server: Running, path: str, **kwargs: Any) -> dict[str, Any]:
    """The problem document of a request that must be refused with 400."""
    async with server.http.get(server.api_url + path, **kwargs) as r:
        body = await r.json(content_type=None)
        assert r.status == 400, (path, body)
        assert r.headers["Content-Type"] == "application/problem+json"
        detail: dict[str, Any] = body
        return detail


async def all_pages(server: Running, path: str, limit: int) -> list[dict[str, Any]]:
    """Every item of a list, read ``limit`` at a time through its cursors."""
    items: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": str(limit)}
    while True:
        status, page = await server.get(path, params=params)
        assert status == 200, page
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        if page["next"] is None:
            return items
        params["cursor"] = page["next"]


async def test_a_stations_events_newest_first_by_type_and_time(db_server: Running) -> None:
    server = db_server
    station = "CS-EVENTS"
    events_path = f"/api/v1/stations/{station}/events"
    async with charger201(server.ocpp_url, station) as cp:
        boot = await cp.call(
            call201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )
        assert boot.status == "Accepted"
        await cp.call(call201.SecurityEventNotification(type="FirmwareUpdated", timestamp=ts(0)))
        await cp.call(call201.FirmwareStatusNotification(status="Downloading", request_id=7))
        status, answer = await server.command(station, "ClearCache")
        assert status == 200, answer
        await cp.call(call201.LogStatusNotification(status="Uploading", request_id=8))
        # Another connection claims the station's id (profile 0: nothing to authenticate).
        async with charger201(server.ocpp_url, station) as claimant:
            await claimant.call(call201.Heartbeat())
            events = await eventually(
                lambda: _kinds_of(server, events_path, "ConnectionReplaced"),
                what="the replacement stored",
            )
    # The connection history: both sockets opened, the claimant's closed (the first one was
    # replaced, which is its end).
    await eventually(
        lambda: _kinds_of(server, events_path, "Disconnected"), what="the close stored"
    )

    status, page = await server.get(events_path)
    assert status == 200, page
    assert page["next"] is None
    listed = page["items"]
    history = [e for e in listed if e["type"] in ("Connected", "Disconnected")]
    assert sorted(e["type"] for e in history) == ["Connected", "Connected", "Disconnected"]
    assert listed[0]["type"] == "Disconnected" and listed[-1]["type"] == "Connected"
    assert {e["payload"]["remote"] for e in history} == {"127.0.0.1"}
    others = [e for e in listed if e not in history]
    assert [e["type"] for e in others] == [
        "ConnectionReplaced",
        "LogStatusNotification",
        "Command:ClearCache",
        "FirmwareStatusNotification",
        "SecurityEventNotification",
    ]
    assert events == others[:1]
    ids = [e["id"] for e in listed]
    assert ids == sorted(ids, reverse=True)
    times = [at(e["at"]) for e in listed]
    assert times == sorted(times, reverse=True)
    assert all(e["at"].endswith("Z") for e in listed)
    security = others[-1]
    assert set(security) == {"id", "type", "at", "payload"}
    assert security["payload"] == {"type": "FirmwareUpdated", "timestamp": ts(0)}
    assert others[2]["payload"] == {"request": {}, "response": {"status": "Accepted"}}
    assert others[0]["payload"]["previous_remote"] == "127.0.0.1"

    # Pages of two, through the cursors: the same events, once each.
    assert await all_pages(server, events_path, 2) == listed

    # type: exact kinds and prefixes, comma-separated.
    status, page = await server.get(events_path, params={"type": "SecurityEventNotification"})
    assert [e["type"] for e in page["items"]] == ["SecurityEventNotification"]
    status, page = await server.get(
        events_path, params={"type": "Command:*, FirmwareStatusNotification"}
    )
    assert [e["type"] for e in page["items"]] == [
        "Command:ClearCache",
        "FirmwareStatusNotification",
    ]
    status, page = await server.get(events_path, params={"type": "*Notification*"})
    assert page["items"] == []  # "*" only at the end is a wildcard
    status, page = await server.get(events_path, params={"type": "Command_*"})
    assert page["items"] == []  # "_" is itself, not LIKE's any-character

    # since (inclusive) and until (exclusive), by the time received, in any offset.
    command = others[2]
    middle = at(command["at"])
    status, page = await server.get(events_path, params={"since": command["at"]})
    assert page["items"] == [e for e in listed if at(e["at"]) >= middle]
    status, page = await server.get(events_path, params={"until": command["at"]})
    assert page["items"] == [e for e in listed if at(e["at"]) < middle]
    in_paris = middle.astimezone(timezone(timedelta(hours=1)))
    status, page = await server.get(
        events_path,
        params={"since": in_paris.isoformat(), "until": listed[0]["at"], "type": "Command:*"},
    )
    assert [e["type"] for e in page["items"]] == ["Command:ClearCache"]

    status, body = await server.get("/api/v1/stations/CS-NOBODY/events")
    assert status == 404, body


async def _kinds_of(server: Running, path: str, kind: str) -> list[dict[str, Any]]:
    status, page = await server.get(path, params={"type": kind})
    assert status == 200, page
    items: list[dict[str, Any]] = page["items"]
    return items


async def test_since_and_until_are_validated(server: Running) -> None:
    status, _ = await server.put("/api/v1/stations/CS-RANGE", {"allowed": True})
    assert status == 201
    for path in ("/api/v1/transactions", "/api/v1/stations/CS-RANGE/events"):
        for name in ("since", "until"):
            for bad in ("yesterday", "2026-11-01", "2026-11-01T12:00:00", "2026-13-01T00:00:00Z"):
                detail = (await problem(server, path, params={name: bad}))["detail"]
                assert name in detail and "RFC 3339" in detail, detail
        detail = (
            await problem(
                server,
                path,
                params={"since": "2026-11-01T12:00:00Z", "until": "2026-11-01T11:00:00Z"},
            )
        )["detail"]
        assert detail == "until must be later than since"
        # A "+" left unencoded in a query string arrives as a space (sent here as written).
        raw = f"{server.api_url}{path}?since=2026-11-01T12:00:00+01:00"
        async with server.http.get(yarl.URL(raw, encoded=True)) as r:
            assert r.status == 400
            assert "%2B" in (await r.json(content_type=None))["detail"]
        status, body = await server.get(
            path, params={"since": "2026-11-01T12:00:00.1234567+01:00", "until": ""}
        )
        assert status == 200, body
        # Valid RFC 3339, out of range in UTC: refused, never a 500.
        for edge in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
            detail = (await problem(server, path, params={"since": edge}))["detail"]
            assert "since" in detail, detail
        # A crafted cursor is a 400, whatever digits it holds.
        for cursor in ("\u00b2", "9" * 30):
            status, body = await server.get(path, params={"cursor": encode_cursor(cursor)})
            assert status == 400, (cursor, body)


async def _session(cp: Any, tag: str, start: float, meter_start: int) -> int:
    started = await cp.call(
        call16.StartTransaction(
            connector_id=1, id_tag=tag, meter_start=meter_start, timestamp=ts(start)
        )
    )
    transaction_id: int = started.transaction_id
    return transaction_id


async def test_transactions_by_start_time_and_as_csv(
    db_server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = db_server
    for tag in ("TAG-A", "TAG-B", "TAG-C"):
        status, _ = await server.put(f"/api/v1/id-tags/{tag}", {"status": "Accepted"})
        assert status == 201
    async with charger16(server.ocpp_url, "CS-CSV") as cp:
        boot = await cp.call(
            call16.BootNotification(charge_point_model="M", charge_point_vendor="V")
        )
        assert boot.status == "Accepted"
        first = await _session(cp, "TAG-A", 0, 1000)
        await cp.call(
            call16.StopTransaction(
                meter_stop=13345, timestamp=ts(40), transaction_id=first, reason="EVDisconnected"
            )
        )
        second = await _session(cp, "TAG-B", 60, 20000)
        await cp.call(
            call16.StopTransaction(
                meter_stop=20001, timestamp=ts(61), transaction_id=second, reason="Local"
            )
        )
        third = await _session(cp, "TAG-C", 120, 500)

    # since/until by start time (the list itself is newest first).
    listing = "/api/v1/transactions"
    status, page = await server.get(listing, params={"since": ts(60)})
    assert [t["id"] for t in page["items"]] == [str(third), str(second)]
    status, page = await server.get(listing, params={"until": ts(60)})
    assert [t["id"] for t in page["items"]] == [str(first)]
    status, page = await server.get(
        listing, params={"since": ts(30), "until": ts(90), "station_id": "CS-CSV"}
    )
    assert [t["id"] for t in page["items"]] == [str(second)]
    status, page = await server.get(listing, params={"since": "2026-11-01T13:00:00+01:00"})
    assert [t["id"] for t in page["items"]] == [str(third), str(second), str(first)]

    # The export reads pages of one row here: every page is in it, once.
    monkeypatch.setattr(transactions_api, "CSV_PAGE", 1)
    headers = {"Accept": "text/csv"}
    async with server.http.get(server.api_url + listing, headers=headers) as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"].startswith("text/csv")
        assert r.headers["Content-Disposition"].startswith("attachment")
        text = await r.text()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == CSV_HEADER
    records = [dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]]
    assert [r["id"] for r in records] == [str(third), str(second), str(first)]
    done = records[2]
    assert done == {
        "id": str(first),
        "station_id": "CS-CSV",
        "evse_id": "1",
        "connector_id": "1",
        "id_token": "TAG-A",
        "start_time": "2026-11-01T12:00:00Z",
        "stop_time": "2026-11-01T12:40:00Z",
        "energy_kwh": "12.345",
        "stop_reason": "EVDisconnected",
        "status": "stopped",
        **NO_COST,
    }
    assert records[1]["energy_kwh"] == "0.001"
    assert records[0]["stop_time"] == ""
    assert records[0]["status"] == "active"
    assert records[0]["energy_kwh"] == "0.000"

    # The same filters apply; a preference for JSON keeps JSON.
    async with server.http.get(
        server.api_url + listing, headers=headers, params={"since": ts(30), "active": "false"}
    ) as r:
        rows = list(csv.reader(io.StringIO(await r.text(), newline="")))
    assert [row[0] for row in rows] == ["id", str(second)]
    async with server.http.get(
        server.api_url + listing, headers={"Accept": "application/json, text/csv;q=0.5"}
    ) as r:
        assert r.headers["Content-Type"].startswith("application/json")
    async with server.http.get(server.api_url + listing, headers={"Accept": "text/csv, */*"}) as r:
        assert r.headers["Content-Type"].startswith("text/csv")
    detail = (await problem(server, listing, headers=headers, params={"limit": "2"}))["detail"]
    assert "limit and cursor" in detail


async def test_an_undeclared_query_parameter_is_refused_by_name(server: Running) -> None:
    status, _ = await server.put("/api/v1/stations/CS-Q", {"allowed": True})
    assert status == 201
    for path, params in [
        ("/api/v1/stations", {"limit": "5", "colour": "red"}),
        ("/api/v1/stations/CS-Q", {"colour": "red"}),
        ("/api/v1/stations/CS-Q/events", {"kind": "red"}),
        ("/api/v1/stations/CS-Q/variables", {"component": "EVSE", "colour": "red"}),
        ("/api/v1/transactions", {"statoin_id": "CS-Q"}),
        ("/api/v1/transactions/1", {"colour": "red"}),
        ("/api/v1/id-tags", {"colour": "red"}),
        ("/api/v1/audit", {"colour": "red"}),
        ("/api/v1/nodes", {"colour": "red"}),
        ("/api/v1/openapi.json", {"colour": "red"}),
    ]:
        body = await problem(server, path, params=params)
        (unknown,) = set(params) - {"limit", "component"}
        assert repr(unknown) in body["detail"], body
        assert body["unknown_parameters"] == [unknown]
    # Writes too, before anything is done; the timeout of a command is declared.
    async with server.http.put(
        server.api_url + "/api/v1/id-tags/T-Q", params={"dry_run": "1"}, json={}
    ) as r:
        assert r.status == 400
        assert "'dry_run'" in (await r.json(content_type=None))["detail"]
    status, _ = await server.get("/api/v1/id-tags/T-Q")
    assert status == 404
    status, body = await server.command(
        "CS-Q", "Reset", {"type": "Immediate"}, params={"timeout": "1"}
    )
    assert status == 404, body  # declared: it reaches the handler (and the station is offline)
    status, body = await server.command(
        "CS-Q", "Reset", {"type": "Immediate"}, params={"timeout": "1", "wait": "1"}
    )
    assert status == 400 and "'wait'" in body["detail"], body
    # Declared parameters still pass.
    for path, params in [
        ("/api/v1/stations", {"limit": "5"}),
        ("/api/v1/stations/CS-Q/events", {"type": "Command:*", "since": ts(0)}),
        ("/api/v1/transactions", {"station_id": "CS-Q", "active": "true", "until": ts(0)}),
        ("/api/v1/audit", {"actor": "api-token", "station_id": "CS-Q"}),
    ]:
        status, body = await server.get(path, params=params)
        assert status == 200, (path, body)


async def test_every_operation_refuses_an_undeclared_parameter(server: Running) -> None:
    """Read from the document: no operation of /api/v1 lets an unknown parameter through, and an
    outsider is refused before being told anything about the parameters."""
    status, document = await server.get("/api/v1/openapi.json")
    assert status == 200
    checked = 0
    async with server.client(None) as anonymous:
        for path, item in document["paths"].items():
            if not path.startswith("/api/v1/"):
                continue
            url = server.api_url + path.replace("{", "").replace("}", "")
            for method in ("get", "put", "post", "delete", "patch"):
                operation = item.get(method)
                if operation is None:
                    continue
                params = {"zz_undeclared": "1"}
                async with server.http.request(method.upper(), url, params=params, json={}) as r:
                    body = await r.json(content_type=None)
                    assert r.status == 400, (method, path, body)
                    assert "'zz_undeclared'" in body["detail"]
                if operation.get("security") != []:
                    async with anonymous.request(method.upper(), url, params=params) as r:
                        assert r.status == 401, (method, path)
                checked += 1
    assert checked >= 20


async def test_a_charger_cannot_plant_a_formula_in_the_csv(server: Running) -> None:
    """An id tag is the charger's own text, stored as sent even when Invalid; in the export a
    cell that starts like a spreadsheet formula is made inert."""
    async with charger16(server.ocpp_url, "CS-FORMULA") as cp:
        await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await _session(cp, "=HYPERLINK(1)", 0, 0)
    async with server.http.get(
        server.api_url + "/api/v1/transactions", headers={"Accept": "text/csv"}
    ) as r:
        assert r.status == 200
        rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert [row["id_token"] for row in rows] == ["'=HYPERLINK(1)"]
