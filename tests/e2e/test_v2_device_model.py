"""The device model of 2.x stations: GetBaseReport fills it through NotifyReport parts, GetVariables
and SetVariables results and NotifyEvent keep it current, the REST API filters and pages it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.ocpp_charger2 import charger2
from tests.server_fixtures import Running
from tests.timing import UNIT
from tests.v2_calls import boot_payload, call2, ts


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    return server_on_each_db


def _by_name(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(v["component"], v["variable"]): v for v in items}


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_base_report_parts_fill_the_device_model(server: Running, version: str) -> None:
    async with charger2(server.ocpp_url, "CS-DM", version, report_part_size=3) as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, body = await server.command(
            "CS-DM", "GetBaseReport", {"requestId": 11, "reportBase": "FullInventory"}
        )
        assert status == 200, body
        assert body["response"]["status"] == "Accepted"
        await asyncio.wait_for(cp.report_sent.wait(), 100 * UNIT)
        parts = [sent for sent, _ in cp.report_results]
        assert [p["seqNo"] for p in parts] == [0, 1, 2]
        assert [p["tbc"] for p in parts] == [True, True, False]
        status, page = await server.get("/api/v1/stations/CS-DM/variables")
        assert status == 200
        stored = _by_name(page["items"])
        assert len(stored) == len(cp.variables) == 8
        heartbeat = stored["OCPPCommCtrlr", "HeartbeatInterval"]
        assert heartbeat["value"] == "300"
        assert heartbeat["mutability"] == "ReadWrite"
        assert heartbeat["attribute_type"] == "Actual"
        assert heartbeat["characteristics"]["dataType"] == "integer"
        assert heartbeat["source"] == "NotifyReport"
        connector = stored["Connector", "ConnectorType"]
        assert (connector["evse_id"], connector["connector_id"]) == (1, 1)
        instance = stored["DeviceDataCtrlr", "ItemsPerMessage"]
        assert instance["variable_instance"] == "GetVariables"

        # Filters and pages.
        status, page = await server.get("/api/v1/stations/CS-DM/variables?component=EVSE")
        assert [(v["component"], v["variable"]) for v in page["items"]] == [
            ("EVSE", "AvailabilityState")
        ]
        status, page = await server.get("/api/v1/stations/CS-DM/variables?evse_id=1")
        assert {v["component"] for v in page["items"]} == {"EVSE", "Connector"}
        status, page = await server.get(
            "/api/v1/stations/CS-DM/variables?variable=HeartbeatInterval&attribute_type=Actual"
        )
        assert len(page["items"]) == 1
        seen: list[tuple[str, str]] = []
        path = "/api/v1/stations/CS-DM/variables?limit=3"
        while True:
            status, page = await server.get(path)
            seen.extend((v["component"], v["variable"]) for v in page["items"])
            if page["next"] is None:
                break
            path = f"/api/v1/stations/CS-DM/variables?limit=3&cursor={page['next']}"
        assert sorted(seen) == sorted(stored)
        assert seen == sorted(seen)

        # SetVariables: an accepted value is stored, a rejected one is not.
        status, body = await server.command(
            "CS-DM",
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "attributeValue": "120",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    },
                    {
                        "attributeValue": "VM-3",
                        "component": {"name": "ChargingStation"},
                        "variable": {"name": "Model"},
                    },
                ]
            },
        )
        assert status == 200, body
        results = [r["attributeStatus"] for r in body["response"]["setVariableResult"]]
        assert results == ["Accepted", "Rejected"]
        status, page = await server.get("/api/v1/stations/CS-DM/variables")
        stored = _by_name(page["items"])
        assert stored["OCPPCommCtrlr", "HeartbeatInterval"]["value"] == "120"
        assert stored["OCPPCommCtrlr", "HeartbeatInterval"]["source"] == "SetVariables"
        # What the report said of the variable stays.
        assert stored["OCPPCommCtrlr", "HeartbeatInterval"]["mutability"] == "ReadWrite"
        assert stored["ChargingStation", "Model"]["value"] == "VM-2"

        # GetVariables: the station's answer is the new truth.
        cp.find("SampledDataCtrlr", "TxUpdatedInterval").value = "15"  # type: ignore[union-attr]
        status, body = await server.command(
            "CS-DM",
            "GetVariables",
            {
                "getVariableData": [
                    {
                        "component": {"name": "SampledDataCtrlr"},
                        "variable": {"name": "TxUpdatedInterval"},
                    },
                    {"component": {"name": "Nothing"}, "variable": {"name": "Here"}},
                ]
            },
        )
        assert status == 200, body
        status, page = await server.get(
            "/api/v1/stations/CS-DM/variables?component=SampledDataCtrlr"
        )
        assert page["items"][0]["value"] == "15"
        assert page["items"][0]["source"] == "GetVariables"
        status, page = await server.get("/api/v1/stations/CS-DM/variables?component=Nothing")
        assert page["items"] == []

        # NotifyEvent: an actual value that changed at the station.
        await call2(
            cp,
            "NotifyEvent",
            {
                "generatedAt": ts(),
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": ts(),
                        "trigger": "Delta",
                        "actualValue": "Faulted",
                        "eventNotificationType": "HardWiredNotification",
                        "component": {"name": "EVSE", "evse": {"id": 1}},
                        "variable": {"name": "AvailabilityState"},
                    }
                ],
            },
        )
        status, page = await server.get("/api/v1/stations/CS-DM/variables?component=EVSE")
        assert page["items"][0]["value"] == "Faulted"
        assert page["items"][0]["source"] == "NotifyEvent"
        assert page["items"][0]["mutability"] == "ReadOnly"


async def test_variables_of_unknown_station_and_bad_filters(server: Running) -> None:
    status, _ = await server.get("/api/v1/stations/NOBODY/variables")
    assert status == 404
    await server.put("/api/v1/stations/CS-EMPTY", {})
    status, page = await server.get("/api/v1/stations/CS-EMPTY/variables")
    assert (status, page) == (200, {"items": [], "next": None})
    status, problem = await server.get("/api/v1/stations/CS-EMPTY/variables?evse_id=one")
    assert status == 400
    status, problem = await server.get("/api/v1/stations/CS-EMPTY/variables?cursor=bogus")
    assert status == 400
