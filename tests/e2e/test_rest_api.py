"""The REST API's contract: auth, problems, pagination, validation, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.server_fixtures import Running, StartServer


async def test_service_token_guards_all_but_health(start_server: StartServer) -> None:
    server = await start_server(api_token="t0ken")
    async with server.client(None) as anonymous:
        for path in ("/healthz", "/readyz", "/api/v1/openapi.json"):
            async with anonymous.get(server.api_url + path) as r:
                assert r.status == 200, path
        for path in ("/api/v1/stations", "/metrics", "/api/v1/nothing-here"):
            async with anonymous.get(server.api_url + path) as r:
                assert r.status == 401, path
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
                assert (await r.json(content_type=None))["title"] == "Unauthorized"
    async with server.client("wrong") as wrong, wrong.get(server.api_url + "/api/v1/stations") as r:
        assert r.status == 401
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    async with server.client("t0ken") as service:
        async with service.get(server.api_url + "/api/v1/stations") as r:
            assert r.status == 200
        async with service.get(server.api_url + "/metrics") as r:
            assert r.status == 200


async def test_problems_for_bad_requests(server: Running) -> None:
    cases: list[tuple[str, str, Any, int]] = [
        ("GET", "/api/v1/stations/none", None, 404),
        ("GET", "/api/v1/transactions/none", None, 404),
        ("GET", "/api/v1/id-tags/none", None, 404),
        ("GET", "/api/v1/stations?limit=0", None, 400),
        ("GET", "/api/v1/stations?limit=x", None, 400),
        ("GET", "/api/v1/stations?cursor=%%%", None, 400),
        ("GET", "/api/v1/transactions?active=maybe", None, 400),
        ("PUT", "/api/v1/stations/S", {"allowed": "yes"}, 400),
        ("PUT", "/api/v1/stations/S", {"colour": "red"}, 400),
        ("PUT", "/api/v1/stations/S", {"password": "short"}, 400),
        ("PUT", "/api/v1/stations/S", [1], 400),
        ("PUT", "/api/v1/id-tags/T", {"status": "Maybe"}, 400),
        ("PUT", "/api/v1/id-tags/T", {"expiry_date": "tomorrow"}, 400),
        ("PUT", "/api/v1/id-tags/T", {"status": "ConcurrentTx"}, 400),
        ("DELETE", "/api/v1/id-tags/none", None, 404),
        ("DELETE", "/api/v1/stations/none", None, 404),
        ("GET", "/api/v1/nothing-here", None, 404),
    ]
    for method, path, body, expected in cases:
        async with server.http.request(method, server.api_url + path, json=body) as r:
            assert r.status == expected, (method, path, await r.text())
            assert r.headers["Content-Type"] == "application/problem+json"
            problem = await r.json(content_type=None)
            assert problem["status"] == expected and problem["detail"]


async def test_id_tag_crud_and_pagination(server: Running) -> None:
    for i in range(5):
        status, _ = await server.put(f"/api/v1/id-tags/T{i}", {"status": "Accepted"})
        assert status == 201
    status, tag = await server.put(
        "/api/v1/id-tags/T1",
        {"status": "Blocked", "expiry_date": "2030-01-01T00:00:00Z", "parent_id_tag": "G"},
    )
    assert status == 200
    assert tag == {
        "id_tag": "T1",
        "type": None,
        "status": "Blocked",
        "expiry_date": "2030-01-01T00:00:00Z",
        "parent_id_tag": "G",
        "evse_ids": None,
    }
    seen: list[str] = []
    cursor = None
    while True:
        path = "/api/v1/id-tags?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = await server.get(path)
        seen += [t["id_tag"] for t in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"T{i}" for i in range(5)]
    assert await server.delete("/api/v1/id-tags/T0") == 204
    assert (await server.get("/api/v1/id-tags/T0"))[0] == 404


async def test_id_tags_are_what_every_version_can_carry(server: Running) -> None:
    """A stored tag is sent in SendLocalList and Authorize answers: one that a station's schema
    refuses (2.0.1 IdTokenType: idToken at most 36 characters, type an IdTokenEnumType) would fail
    every local list it is in. An expiry without an offset would depend on the server's zone."""
    refused: list[tuple[str, dict[str, Any], str]] = [
        ("T", {"type": "Bogus"}, "type"),
        ("T", {"type": "iso14443"}, "type"),
        ("X" * 37, {}, "36"),
        ("X" * 255, {}, "36"),
        ("T", {"parent_id_tag": "G" * 37}, "parent_id_tag"),
        ("T", {"parent_id_tag": ""}, "parent_id_tag"),
        ("T", {"evse_ids": [2**40]}, "evse_ids"),
        ("T", {"evse_ids": [2**31]}, "evse_ids"),
        ("T", {"evse_ids": [0]}, "evse_ids"),
        ("T", {"expiry_date": "2030-01-01T00:00:00"}, "expiry_date"),
        ("T", {"expiry_date": "2030-01-01"}, "expiry_date"),
    ]
    for tag, body, named in refused:
        status, problem = await server.put(f"/api/v1/id-tags/{tag}", {"status": "Accepted", **body})
        assert status == 400, (tag, body, problem)
        assert named in problem["detail"], (body, problem)
        assert (await server.get(f"/api/v1/id-tags/{tag}"))[0] == 404
    # At the limits: kept as given.
    for token_type in ("Central", "eMAID", "ISO14443", "KeyCode", "MacAddress", "VIN"):
        status, tag = await server.put(f"/api/v1/id-tags/T-{token_type}", {"type": token_type})
        assert status == 201 and tag["type"] == token_type, tag
    status, tag = await server.put(
        "/api/v1/id-tags/" + "x" * 36,
        {
            "parent_id_tag": "G" * 36,
            "evse_ids": [1, 2**31 - 1],
            "expiry_date": "2030-01-01T02:00:00+02:00",
        },
    )
    assert status == 201, tag
    assert tag["id_tag"] == "X" * 36 and tag["parent_id_tag"] == "G" * 36
    assert tag["evse_ids"] == [1, 2**31 - 1]
    assert tag["expiry_date"] == "2030-01-01T00:00:00Z"


async def test_transactions_pagination(server_on_each_db: Running) -> None:
    server = server_on_each_db
    from tests.raw_charger import RawCharger

    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-PAGE")
    try:
        for minute in range(5):
            await charger.call(
                "StartTransaction",
                {
                    "connectorId": minute + 1,
                    "idTag": f"P{minute}",
                    "meterStart": 0,
                    "timestamp": f"2026-11-01T10:0{minute}:00Z",
                },
            )
    finally:
        await charger.close()
    ids: list[str] = []
    cursor = None
    while True:
        status, page = await server.get(
            "/api/v1/transactions?limit=2" + (f"&cursor={cursor}" if cursor else "")
        )
        assert status == 200
        ids += [t["id"] for t in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert len(ids) == 5 and len(set(ids)) == 5


async def test_openapi_document_is_valid(server: Running) -> None:
    status, document = await server.get("/api/v1/openapi.json")
    assert status == 200
    validate(document)
    assert "/api/v1/stations/{station_id}/commands/{action}" in document["paths"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_health_endpoints(server: Running, path: str) -> None:
    async with server.http.get(server.api_url + path) as r:
        assert r.status == 200


async def test_metrics_count_calls_and_violations(server: Running) -> None:
    from tests.raw_charger import RawCharger

    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-METRICS")
    try:
        await charger.call("Heartbeat", {})
        await charger.send_frame("not json")
        await charger.next_unsolicited()
        async with server.http.get(server.api_url + "/metrics") as r:
            text = await r.text()
    finally:
        await charger.close()
    assert 'voltmesh_ocpp_calls_total{action="Heartbeat",outcome="result"} 1.0' in text
    assert 'voltmesh_ocpp_protocol_violations_total{code="FormationViolation"} 1.0' in text
    assert "voltmesh_connected_stations 1.0" in text
    assert "voltmesh_writer_commits_total" in text
