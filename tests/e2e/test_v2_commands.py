"""Every CSMS-initiated action of OCPP 2.0.1 and 2.1 through the REST API, against a real charger
(``tests.ocpp_charger2``), and the commands the API refuses before anything is sent.

One node serves the whole module (in the module's event loop), and each test connects a charger of
its own, under a station id of its own: a node per test would make the module several times slower.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from ocpp import v21, v201
from ocpp.charge_point import camel_to_snake_case

from csms.station.command_log import COMMAND_EVENT_PREFIX
from persistence.events import station_events_of
from persistence.reads import EngineReads
from tests import server_fixtures
from tests.ocpp_charger2 import Charger21, Charger201, charger2
from tests.server_fixtures import Running
from tests.timing import eventually
from tests.v2_requests import ID_TOKEN, REQUESTS
from transport.errors import ErrorCode, SchemaViolation, wire_code
from transport.schemas import schemas_for
from transport.versions import OcppVersion

CASES = [(version, action) for version, table in REQUESTS.items() for action in sorted(table)]


# The async tests run in the loop of the module-scoped node.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """One node on loopback port 0 for the whole module."""
    async with server_fixtures.node_on_loopback(tmp_path_factory.mktemp("v2-commands")) as running:
        yield running


def _boot(cp: Charger201 | Charger21) -> Any:
    station = {"model": "M", "vendor_name": "V"}
    if isinstance(cp, Charger21):
        return v21.call.BootNotification(charging_station=station, reason="PowerUp")
    return v201.call.BootNotification(charging_station=station, reason="PowerUp")


async def _accepted(cp: Charger201 | Charger21) -> None:
    result = await cp.call(_boot(cp), suppress=False)
    assert result.status == "Accepted"


def _station(version: OcppVersion, name: str) -> str:
    """A station id of the test's own on the shared node."""
    return f"{version.name}-{name}"


async def _command_events(server: Running, station_id: str, action: str) -> list[dict[str, Any]]:
    events = await station_events_of(
        EngineReads(server.node.engine), station_id, COMMAND_EVENT_PREFIX + action
    )
    return [payload for _, payload in events]


@pytest.mark.parametrize("version", list(REQUESTS), ids=str)
def test_the_table_covers_every_csms_initiated_action(version: OcppVersion) -> None:
    """Fails when an action is added to (or dropped from) a version without its row here."""
    assert set(REQUESTS[version]) == schemas_for(version).csms_initiated


@pytest.mark.parametrize(("version", "action"), CASES, ids=[f"{v}-{a}" for v, a in CASES])
def test_each_request_of_the_table_is_valid(version: OcppVersion, action: str) -> None:
    schemas_for(version).validate_request(action, REQUESTS[version][action])


@in_module_loop
@pytest.mark.parametrize(("version", "action"), CASES, ids=[f"{v}-{a}" for v, a in CASES])
async def test_command_reaches_a_real_charger(
    node: Running, version: OcppVersion, action: str
) -> None:
    station_id = _station(version, action)
    request = REQUESTS[version][action]
    async with charger2(node.ocpp_url, station_id, version.value) as cp:
        await _accepted(cp)
        status, body = await node.command(station_id, action, request)
        assert status == 200, body
        assert body["action"] == action
        assert "schema_violation" not in body
        schemas_for(version).validate_response(action, body["response"])
        # The charger got the request as sent (the ocpp package hands it over in snake_case).
        assert cp.received == [(action, camel_to_snake_case(request))]
    # Recorded before the API answered.
    assert await _command_events(node, station_id, action) == [
        {"request": request, "response": body["response"]}
    ]


@in_module_loop
@pytest.mark.parametrize("version", list(REQUESTS), ids=str)
@pytest.mark.parametrize(
    ("payload", "rule_code"),
    [
        ({"type": "Sometimes"}, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),  # not in the enum
        ({"type": "Immediate", "when": "now"}, ErrorCode.FORMAT_VIOLATION),  # additionalProperties
        ({}, ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),  # required
        ({"type": 1}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),  # a number for a string
    ],
    ids=["enum", "additional-property", "required", "type"],
)
async def test_a_request_that_breaks_the_schema_is_refused(
    node: Running, version: OcppVersion, payload: dict[str, Any], rule_code: ErrorCode
) -> None:
    # The code is the one transport.schemas maps the broken rule to.
    with pytest.raises(SchemaViolation) as broken:
        schemas_for(version).validate_request("Reset", payload)
    assert broken.value.code is rule_code
    station_id = _station(version, f"BAD-{rule_code}")
    async with charger2(node.ocpp_url, station_id, version.value) as cp:
        await _accepted(cp)
        status, problem = await node.command(station_id, "Reset", payload)
        assert status == 400, problem
        assert problem["code"] == wire_code(rule_code, version)
        # The next command is answered, and it is all the charger got: the refused one was
        # never on the wire.
        status, _ = await node.command(station_id, "ClearCache", {})
        assert status == 200
        assert [action for action, _ in cp.received] == ["ClearCache"]
    assert await _command_events(node, station_id, "Reset") == []


@in_module_loop
@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [
        # OCPP 1.6 only
        (OcppVersion.V201, "RemoteStartTransaction", {"idTag": "TAG-1", "connectorId": 1}),
        (OcppVersion.V21, "RemoteStartTransaction", {"idTag": "TAG-1", "connectorId": 1}),
        (OcppVersion.V201, "GetConfiguration", {}),
        # OCPP 2.1 only
        (OcppVersion.V201, "GetTariffs", {"evseId": 1}),
        (OcppVersion.V201, "RequestBatterySwap", {"requestId": 1, "idToken": ID_TOKEN}),
        # charger-initiated
        (OcppVersion.V201, "BootNotification", {}),
        (OcppVersion.V21, "NotifyReport", {}),
    ],
    ids=lambda value: str(value) if not isinstance(value, dict) else "",
)
async def test_an_action_not_of_the_stations_version_is_not_supported(
    node: Running, version: OcppVersion, action: str, payload: dict[str, Any]
) -> None:
    station_id = _station(version, f"NS-{action}")
    async with charger2(node.ocpp_url, station_id, version.value) as cp:
        await _accepted(cp)
        status, problem = await node.command(station_id, action, payload)
        assert status == 400, problem
        assert problem["code"] == "NotSupported"
        status, _ = await node.command(station_id, "ClearCache", {})
        assert status == 200
        assert [received for received, _ in cp.received] == ["ClearCache"]
    assert await _command_events(node, station_id, action) == []


@in_module_loop
async def test_a_command_to_a_station_not_connected_is_not_found(node: Running) -> None:
    status, problem = await node.command("NOBODY", "Reset", {"type": "Immediate"})
    assert status == 404
    assert "not connected" in problem["detail"]
    # Nor once it has gone (when the server has seen the close, its connection is forgotten).
    async with charger2(node.ocpp_url, "GONE", "ocpp2.1") as cp:
        await _accepted(cp)

    def forgotten() -> bool:
        return "GONE" not in node.node.directory

    await eventually(forgotten)
    status, problem = await node.command("GONE", "GetTariffs", {"evseId": 1})
    assert status == 404, problem
    assert "not connected" in problem["detail"]
