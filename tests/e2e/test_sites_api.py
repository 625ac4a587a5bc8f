"""The sites resource: create, replace, read, list, delete, and what it refuses."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from persistence import stations
from persistence.records import RegistrationStatus
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


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"members": [{"station_id": "CP 1"}]}, "members[0].station_id"),
        ({"members": [{"station_id": "CP/1"}]}, "members[0].station_id"),
        ({"members": [{"station_id": "CPé"}]}, "members[0].station_id"),
        ({"members": [{"station_id": "C" * 49}]}, "members[0].station_id"),
        ({"members": [{"station_id": "CP1", "evse_id": 2**31}]}, "members[0].evse_id"),
        ({"members": [{"station_id": "CP1", "evse_id": 2**40}]}, "members[0].evse_id"),
        ({"limit": {"unit": "A", "value": 5.9}, "schedule": None}, "min_current"),
        ({"limit": {"unit": "A", "value": 0}, "schedule": None}, "min_current"),
        # 6 A x 230 V x 3 phases = 4140 W.
        ({"limit": {"unit": "W", "value": 4139}, "schedule": None}, "4140 W"),
        ({"limit": {"unit": "W", "value": 1379, "phases": 1}, "schedule": None}, "1380 W"),
        # With a schedule, limit.value is never in force: its highest value is what counts.
        (
            {"limit": {"unit": "A", "value": 100}, "schedule": [{"start": "00:00", "value": 5}]},
            "highest value of its schedule",
        ),
    ],
)
async def test_sites_no_session_could_use_are_refused(
    server: Running, change: dict[str, Any], named: str
) -> None:
    status, problem = await server.put("/api/v1/sites/bad", {**DEPOT, **change})
    assert status == 400, problem
    assert named in problem["detail"]
    assert (await server.get("/api/v1/sites/bad"))[0] == 404


@pytest.mark.parametrize("site_id", ["a%20b", "%C3%A9", "a%2Fb", "a:b", "a~b"])
async def test_site_ids_keep_to_letters_digits_and_dot_underscore_dash(
    server: Running, site_id: str
) -> None:
    status, problem = await server.put(f"/api/v1/sites/{site_id}", DEPOT)
    assert status == 400, problem
    assert "A-Z a-z 0-9 . _ -" in problem["detail"]
    assert (await server.get("/api/v1/sites"))[1]["items"] == []


async def test_sites_at_their_limits_are_kept_and_past_them_refused(server: Running) -> None:
    site_id = "Depot_A.2-" + "x" * 54
    body = {
        **DEPOT,
        "limit": {"unit": "W", "value": 4140, "phases": 3},
        "schedule": [{"start": "00:00", "value": 0}, {"start": "06:00", "value": 4140}],
        "members": [
            {"station_id": "S" * 48, "evse_id": 2**31 - 1, "priority": 0},
            {"station_id": "x*y=z+w|v@u.t_s:-", "evse_id": None, "priority": 0},
        ],
    }
    status, site = await server.put(f"/api/v1/sites/{site_id}", body)
    assert status == 201, site
    assert site["members"] == body["members"]
    status, site = await server.put(
        "/api/v1/sites/amps",
        {**DEPOT, "limit": {"unit": "A", "value": 6}, "schedule": None, "members": []},
    )
    assert status == 201, site
    # No minimum: a limit of 0 (the site switched off) is fine.
    status, site = await server.put(
        "/api/v1/sites/off",
        {**DEPOT, "limit": {"unit": "A", "value": 0}, "min_current": 0, "schedule": None},
    )
    assert status == 201, site
    # One past each limit.
    past: list[tuple[str, dict[str, Any]]] = [
        (site_id + "x", body),
        ("past", {**body, "members": [{"station_id": "S" * 49}]}),
        ("past", {**body, "members": [{"station_id": "S", "evse_id": 2**31}]}),
        ("past", {**body, "schedule": [{"start": "06:00", "value": 4139}]}),
        ("past", {**body, "limit": {"unit": "W", "value": 4139}, "schedule": None}),
    ]
    for past_id, past_body in past:
        status, problem = await server.put(f"/api/v1/sites/{past_id}", past_body)
        assert status == 400, (past_body, problem)


async def test_a_member_registered_by_an_earlier_release_keeps_its_id(server: Running) -> None:
    """Earlier releases registered ids of up to 64 characters (with "~"): such a station may be
    a member; the same id of a station that does not exist may not."""
    legacy = "OLD~" + "9" * 60
    body = {**DEPOT, "members": [{"station_id": legacy, "evse_id": None, "priority": 0}]}
    status, problem = await server.put("/api/v1/sites/legacy", body)
    assert status == 400 and "members[0].station_id" in problem["detail"], problem
    await stations.put_station(
        server.node.api_state.engine,
        legacy,
        registration=RegistrationStatus.ACCEPTED,
        password_hash=None,
        keep_password=False,
        lenient=False,
    )
    status, site = await server.put("/api/v1/sites/legacy", body)
    assert status == 201, site
