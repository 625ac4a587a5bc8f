"""``/api/v1/tariffs``: tariffs and their assignments, read and written by operators, and refused
with a clear message when wrong."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.server_fixtures import Running

STANDARD: dict[str, Any] = {
    "name": "Standard AC",
    "currency": "EUR",
    "energy_price": "0.39",
    "session_fee": 1,
    "idle_price": 0.1,
    "idle_grace_minutes": 30,
    "tax_rate": 19,
    "text": "0.39 EUR/kWh, 1 EUR per session",
}


async def test_tariffs_are_created_read_replaced_and_deleted(server: Running) -> None:
    status, created = await server.post("/api/v1/tariffs", STANDARD)
    assert status == 201, created
    tariff_id = created["id"]
    assert created["energy_price"] == "0.39"
    assert created["session_fee"] == "1"
    assert created["idle_price"] == "0.1"
    assert created["tax_rate"] == "19"
    assert created["charging_time_price"] is None
    assert created["cost_update_minutes"] == 5
    assert created["assignments"] == {
        "tariff_id": tariff_id,
        "stations": [],
        "sites": [],
        "id_token_groups": [],
        "default": False,
    }

    status, named = await server.put(
        "/api/v1/tariffs/night", {**STANDARD, "name": "Night", "energy_price": "0.29"}
    )
    assert status == 201, named
    status, page = await server.get("/api/v1/tariffs", params={"limit": "1"})
    assert status == 200
    assert len(page["items"]) == 1
    status, rest = await server.get("/api/v1/tariffs", params={"cursor": page["next"]})
    assert {t["id"] for t in page["items"] + rest["items"]} == {tariff_id, "night"}

    status, replaced = await server.put(
        f"/api/v1/tariffs/{tariff_id}",
        {**STANDARD, "energy_price": 0.45, "valid_from": "2026-01-01T00:00:00+01:00"},
    )
    assert status == 200, replaced
    assert replaced["energy_price"] == "0.45"
    assert replaced["valid_from"] == "2025-12-31T23:00:00Z"
    status, read = await server.get(f"/api/v1/tariffs/{tariff_id}")
    assert status == 200
    assert read["energy_price"] == "0.45"

    assert await server.delete(f"/api/v1/tariffs/{tariff_id}") == 204
    status, _ = await server.get(f"/api/v1/tariffs/{tariff_id}")
    assert status == 404
    assert await server.delete(f"/api/v1/tariffs/{tariff_id}") == 404


async def test_assignments_replace_where_a_tariff_applies(server: Running) -> None:
    status, _ = await server.put("/api/v1/stations/CS-T1", {"allowed": True})
    assert status == 201
    status, _ = await server.put("/api/v1/stations/CS-T2", {"allowed": True})
    assert status == 201
    status, _ = await server.put("/api/v1/tariffs/std", STANDARD)
    assert status == 201
    path = "/api/v1/tariffs/std/assignments"
    status, body = await server.put(
        path, {"stations": ["CS-T1", "CS-T2"], "id_token_groups": ["fleet-a"], "default": True}
    )
    assert status == 200, body
    assert body == {
        "tariff_id": "std",
        "stations": ["CS-T1", "CS-T2"],
        "sites": [],
        "id_token_groups": ["FLEET-A"],
        "default": True,
    }
    status, body = await server.put(path, {"stations": ["CS-T2"]})
    assert status == 200
    assert (body["stations"], body["id_token_groups"], body["default"]) == (["CS-T2"], [], False)
    status, read = await server.get(path)
    assert read == body
    status, tariff = await server.get("/api/v1/tariffs/std")
    assert tariff["assignments"] == body

    for bad, detail in [
        ({"stations": ["CS-NONE"]}, "no such stations: CS-NONE"),
        ({"sites": ["nowhere"]}, "no such sites: nowhere"),
        ({"stations": "CS-T1"}, "stations must be a list"),
        ({"default": "yes"}, "default must be true or false"),
        ({"station": ["CS-T1"]}, "unknown fields: station"),
        ({"id_token_groups": [f"G{i}" for i in range(1001)]}, "at most 1000 ids"),
    ]:
        status, problem = await server.put(path, bad)
        assert status == 400, bad
        assert detail in problem["detail"], problem
    status, _ = await server.put("/api/v1/tariffs/none/assignments", {"default": True})
    assert status == 404
    # Nothing of the refused requests was applied.
    status, read = await server.get(path)
    assert read == body


async def test_a_bad_tariff_is_refused_with_what_is_wrong(server: Running) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({**STANDARD, "currency": "EURO"}, "currency"),
        ({**STANDARD, "currency": "eur"}, "currency"),
        ({**STANDARD, "energy_price": -1}, "energy_price must be a finite number >= 0"),
        ({**STANDARD, "energy_price": "cheap"}, "energy_price must be a decimal number"),
        ({**STANDARD, "energy_price": True}, "energy_price must be a decimal number"),
        ({**STANDARD, "energy_price": "0.1234567"}, "at most 12 digits and 6 decimals"),
        ({**STANDARD, "tax_rate": 120}, "tax_rate must be at most 100"),
        ({**STANDARD, "idle_grace_minutes": 1.5}, "idle_grace_minutes"),
        ({**STANDARD, "cost_update_minutes": -1}, "cost_update_minutes"),
        (
            {
                **STANDARD,
                "valid_from": "2026-02-01T00:00:00Z",
                "valid_to": "2026-01-01T00:00:00Z",
            },
            "valid_to must be after valid_from",
        ),
        ({**STANDARD, "valid_to": "soon"}, "valid_to must be an RFC 3339 date-time"),
        ({"name": "Free", "currency": "EUR"}, "at least one of"),
        ({**STANDARD, "price": 1}, "unknown fields: price"),
        ({k: v for k, v in STANDARD.items() if k != "name"}, "name is required"),
    ]
    for body, detail in cases:
        status, problem = await server.post("/api/v1/tariffs", body)
        assert status == 400, body
        assert detail in problem["detail"], (body, problem)
    status, problem = await server.put("/api/v1/tariffs/bad%20id", STANDARD)
    assert status == 400
    assert "tariff id" in problem["detail"]
    status, page = await server.get("/api/v1/tariffs")
    assert page["items"] == []


async def test_two_operators_creating_one_tariff_at_once_get_a_creation_and_a_replacement(
    server_on_each_db: Running,
) -> None:
    """On SQLite and PostgreSQL: one insert decides, whatever the interleaving."""
    server = server_on_each_db
    bodies = [{**STANDARD, "name": f"Race {i}"} for i in range(4)]
    answers = await asyncio.gather(*(server.put("/api/v1/tariffs/race", b) for b in bodies))
    assert sorted(status for status, _ in answers) == [200, 200, 200, 201], answers
    status, stored = await server.get("/api/v1/tariffs/race")
    assert status == 200
    assert stored["name"] in {b["name"] for b in bodies}
    assert stored["created_at"] <= stored["updated_at"]
