"""The sites resource: create, replace, read, list, delete, and what it refuses."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.server_fixtures import Running

DEPOT = {
    "name": "Depot A",
    "limit": {"unit": "A", "value": 250.0, "phases": 3},
    "min_current": 6.0,
    "schedule": [{"start": "22:00", "value": 250.0}, {"start": "18:00", "value": 120.0}],
    "members": [
        {"station_id": "CP1", "evse_id": None, "priority": 0},
        {"station_id": "CP2", "evse_id": 2, "priority": 1},
    ],
}


async def test_create_read_replace_list_delete(server_on_each_db: Running) -> None:
    server = server_on_each_db
    status, created = await server.put("/api/v1/sites/depot-a", DEPOT)
    assert status == 201, created
    assert created["id"] == "depot-a"
    assert created["limit"] == {"unit": "A", "value": 250.0, "phases": 3}
    # Sorted by start time, as the day runs.
    assert created["schedule"] == [
        {"start": "18:00", "value": 120.0},
        {"start": "22:00", "value": 250.0},
    ]
    assert created["members"] == DEPOT["members"]
    assert created["limit_now"] in (120.0, 250.0)
    assert (await server.get("/api/v1/sites/depot-a")) == (200, created)

    replaced_body = {**DEPOT, "limit": {"unit": "W", "value": 100_000.0}, "schedule": None}
    status, replaced = await server.put("/api/v1/sites/depot-a", replaced_body)
    assert status == 200, replaced
    assert replaced["limit"] == {"unit": "W", "value": 100_000.0, "phases": 3}
    assert replaced["schedule"] is None
    assert replaced["created_at"] == created["created_at"]

    for name in ("b", "c"):
        status, _ = await server.put(f"/api/v1/sites/depot-{name}", {**DEPOT, "members": []})
        assert status == 201
    status, first = await server.get("/api/v1/sites?limit=2")
    assert [s["id"] for s in first["items"]] == ["depot-a", "depot-b"]
    status, second = await server.get(f"/api/v1/sites?limit=2&cursor={first['next']}")
    assert [s["id"] for s in second["items"]] == ["depot-c"]
    assert second["next"] is None

    status, empty = await server.get("/api/v1/sites/depot-a/allocation")
    assert status == 200
    assert empty["sessions"] == [] and empty["allocated"] == 0
    assert empty["limit"] == {"unit": "W", "value": 100_000.0, "phases": 3}

    assert await server.delete("/api/v1/sites/depot-a") == 204
    assert (await server.get("/api/v1/sites/depot-a"))[0] == 404
    assert (await server.get("/api/v1/sites/depot-a/allocation"))[0] == 404
    assert await server.delete("/api/v1/sites/depot-a") == 404


async def test_an_evse_belongs_to_one_site(server_on_each_db: Running) -> None:
    server = server_on_each_db
    assert (await server.put("/api/v1/sites/one", DEPOT))[0] == 201
    # CP1 as a whole is in "one": neither it nor one of its EVSEs can join another site.
    for member in ({"station_id": "CP1", "evse_id": 3}, {"station_id": "CP2", "evse_id": None}):
        status, problem = await server.put("/api/v1/sites/two", {**DEPOT, "members": [member]})
        assert status == 409, problem
        assert "one" in problem["detail"]
    # Another EVSE of CP2 may.
    status, _ = await server.put(
        "/api/v1/sites/two", {**DEPOT, "members": [{"station_id": "CP2", "evse_id": 1}]}
    )
    assert status == 201
    assert (await server.get("/api/v1/sites/two"))[1]["members"][0]["priority"] == 0


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"limit": None}, "limit"),
        ({"limit": {"unit": "kW", "value": 1}}, "limit.unit"),
        ({"limit": {"unit": "A", "value": -1}}, "limit.value"),
        ({"limit": {"unit": "A", "value": "many"}}, "limit.value"),
        ({"limit": {"unit": "A", "value": 10, "phases": 4}}, "limit.phases"),
        ({"limit": {"unit": "A", "value": 10, "volts": 230}}, "volts"),
        ({"min_current": -1}, "min_current"),
        ({"schedule": [{"start": "24:00", "value": 1}]}, "schedule[0].start"),
        ({"schedule": [{"start": "7:00", "value": 1}]}, "schedule[0].start"),
        ({"schedule": [{"start": "07:00", "value": 1}, {"start": "07:00", "value": 2}]}, "07:00"),
        ({"schedule": [{"start": "07:00"}]}, "schedule[0]"),
        ({"members": [{"station_id": ""}]}, "members[0].station_id"),
        ({"members": [{"station_id": "CP1", "evse_id": 0}]}, "members[0].evse_id"),
        ({"members": [{"station_id": "CP1", "priority": 1.5}]}, "members[0].priority"),
        (
            {"members": [{"station_id": "CP1"}, {"station_id": "CP1", "evse_id": 1}]},
            "listed twice",
        ),
        ({"color": "red"}, "color"),
    ],
)
async def test_bad_sites_are_refused_with_what_is_wrong(
    server: Running, change: dict[str, Any], named: str
) -> None:
    body = {**DEPOT, **change}
    if change.get("limit", "") is None:
        del body["limit"]
    status, problem = await server.put("/api/v1/sites/bad", body)
    assert status == 400, problem
    assert named in problem["detail"]
    assert (await server.get("/api/v1/sites/bad"))[0] == 404


async def test_not_json_and_not_an_object(server: Running) -> None:
    async with server.http.put(server.api_url + "/api/v1/sites/x", data=b"{") as r:
        assert r.status == 400
    status, _ = await server.put("/api/v1/sites/x", [1, 2])
    assert status == 400
    status, problem = await server.put("/api/v1/sites/" + "x" * 65, DEPOT)
    assert status == 400 and "64" in problem["detail"]
    status, problem = await server.get("/api/v1/sites?station_id=CP1")
    assert status == 400


async def test_two_sites_saved_at_once_cannot_share_an_evse(server_on_each_db: Running) -> None:
    server = server_on_each_db
    body = {**DEPOT, "members": [{"station_id": "CP9", "evse_id": 1}]}
    results = await asyncio.gather(
        server.put("/api/v1/sites/left", body), server.put("/api/v1/sites/right", body)
    )
    assert sorted(status for status, _ in results) == [201, 409], results
    status, listing = await server.get("/api/v1/sites")
    assert [len(s["members"]) for s in listing["items"]] == [1]


async def test_a_station_and_its_evse_saved_at_once_in_two_sites(
    server_on_each_db: Running,
) -> None:
    server = server_on_each_db
    whole = {**DEPOT, "members": [{"station_id": "CP8", "evse_id": None}]}
    one_evse = {**DEPOT, "members": [{"station_id": "CP8", "evse_id": 2}]}
    for _ in range(3):
        results = await asyncio.gather(
            server.put("/api/v1/sites/whole", whole), server.put("/api/v1/sites/evse", one_evse)
        )
        assert sorted(status for status, _ in results) == [201, 409], results
        status, listing = await server.get("/api/v1/sites")
        assert [len(s["members"]) for s in listing["items"]] == [1], listing
        for site_id in ("whole", "evse"):
            await server.delete(f"/api/v1/sites/{site_id}")
