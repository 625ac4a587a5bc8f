"""Variable monitors per 2.x station (OCPP 2.0.1 N02-N08) end to end: the monitors a station
accepts are kept whichever path sent them, cleared ones go, the monitoring base and level are kept,
and multi-part monitoring reports replace what they cover; with the unhappy paths (a monitor
refused, a CALLERROR, no answer, offline, a 1.6 station, a report that never ends, a station that
reconnects in the middle of a report)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v16 import call as call16
from sqlalchemy import select

from csms.events import Event
from persistence.monitoring import monitoring_reports
from tests.ocpp_charger import charger16
from tests.ocpp_charger2 import Charger21, Charger201, charger2
from tests.raw_charger import CallErrorReply, RawCharger
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually
from tests.v2_calls import boot_payload, call2, ts

VERSIONS = ["ocpp2.0.1", "ocpp2.1"]
HEARTBEAT = {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}
AVAILABILITY = {"component": "EVSE", "evse_id": 1, "variable": "AvailabilityState"}


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    return server_on_each_db


def _monitors_path(station: str) -> str:
    return f"/api/v1/stations/{station}/monitors"


async def _monitors(server: Running, station: str) -> dict[int, dict[str, Any]]:
    status, page = await server.get(_monitors_path(station))
    assert status == 200, page
    assert page["next"] is None
    return {m["id"]: m for m in page["items"]}


def _changes(server: Running, station: str) -> list[dict[str, Any]]:
    events: list[Event] = server.node.events.recent()
    return [e.data for e in events if e.type == "monitor.changed" and e.station_id == station]


def _reported(
    monitor_id: int,
    monitor_type: str,
    *,
    component: dict[str, Any],
    variable: str,
    version: str,
    value: float = 1.0,
) -> dict[str, Any]:
    """A MonitoringDataType of one monitor, as a station reports it."""
    monitor: dict[str, Any] = {
        "id": monitor_id,
        "transaction": False,
        "value": value,
        "type": monitor_type,
        "severity": 7,
    }
    if version == "ocpp2.1":
        monitor["eventNotificationType"] = "CustomMonitor"
    return {"component": component, "variable": {"name": variable}, "variableMonitoring": [monitor]}


async def _report_part(
    cp: Charger201 | Charger21,
    request_id: int,
    seq_no: int,
    monitors: list[dict[str, Any]],
    *,
    tbc: bool,
) -> None:
    payload: dict[str, Any] = {"requestId": request_id, "seqNo": seq_no, "generatedAt": ts()}
    if monitors:
        payload["monitor"] = monitors
    if tbc:
        payload["tbc"] = True
    assert await call2(cp, "NotifyMonitoringReport", payload) == {}


@pytest.mark.parametrize("version", VERSIONS)
async def test_accepted_monitors_are_kept_replaced_and_cleared(
    server: Running, version: str
) -> None:
    station = f"CS-MON-{version}"
    async with charger2(server.ocpp_url, station, version) as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, body = await server.post(
            _monitors_path(station),
            {
                "monitors": [
                    {**HEARTBEAT, "type": "UpperThreshold", "value": 600, "severity": 5},
                    {
                        **AVAILABILITY,
                        "type": "Delta",
                        "value": 1,
                        "severity": 3,
                        "transaction": True,
                    },
                    {
                        "component": "Nothing",
                        "variable": "Here",
                        "type": "Delta",
                        "value": 1,
                        "severity": 9,
                    },
                ]
            },
        )
        assert status == 200, body
        assert [r["status"] for r in body["results"]] == [
            "Accepted",
            "Accepted",
            "UnknownComponent",
        ]
        assert body["accepted"] == 2
        heartbeat_id, availability_id = (r["id"] for r in body["results"][:2])
        assert set(cp.monitors) == {heartbeat_id, availability_id}
        assert body["results"][1]["evse_id"] == 1

        kept = await _monitors(server, station)
        assert set(kept) == {heartbeat_id, availability_id}
        heartbeat = kept[heartbeat_id]
        assert (heartbeat["component"], heartbeat["variable"], heartbeat["evse_id"]) == (
            "OCPPCommCtrlr",
            "HeartbeatInterval",
            None,
        )
        assert (heartbeat["type"], heartbeat["value"], heartbeat["severity"]) == (
            "UpperThreshold",
            600.0,
            5,
        )
        assert heartbeat["transaction"] is False
        assert heartbeat["source"] == "operator"
        availability = kept[availability_id]
        assert (availability["component"], availability["evse_id"]) == ("EVSE", 1)
        assert availability["transaction"] is True
        assert availability["type"] == "Delta"

        # The same id replaces the monitor (2.0.1 N04: an id is given only to replace one).
        status, body = await server.post(
            _monitors_path(station),
            {
                "monitors": [
                    {
                        **HEARTBEAT,
                        "id": heartbeat_id,
                        "type": "LowerThreshold",
                        "value": 30,
                        "severity": 2,
                    }
                ]
            },
        )
        assert status == 200, body
        assert body["results"][0]["id"] == heartbeat_id
        kept = await _monitors(server, station)
        assert len(kept) == 2
        assert (kept[heartbeat_id]["type"], kept[heartbeat_id]["value"]) == ("LowerThreshold", 30.0)

        # Cleared: 204, gone from the station and from the store.
        assert await server.delete(f"{_monitors_path(station)}/{heartbeat_id}") == 204
        assert cp.calls("ClearVariableMonitoring")[-1] == {"id": [heartbeat_id]}
        assert set(await _monitors(server, station)) == {availability_id}
        # Again: the station has none of this id.
        status, problem = await _delete(server, station, heartbeat_id)
        assert status == 404, problem
        assert problem["station_status"] == "NotFound"

        # A monitor set through the raw command endpoint is kept too (the observer of answers).
        status, body = await server.command(
            station,
            "SetVariableMonitoring",
            {
                "setMonitoringData": [
                    {
                        "value": 120,
                        "type": "Periodic",
                        "severity": 8,
                        "component": {"name": "SampledDataCtrlr"},
                        "variable": {"name": "TxUpdatedInterval"},
                    }
                ]
            },
        )
        assert status == 200, body
        periodic_id = body["response"]["setMonitoringResult"][0]["id"]
        kept = await _monitors(server, station)
        assert set(kept) == {availability_id, periodic_id}
        assert kept[periodic_id]["type"] == "Periodic"
        # And one cleared through it goes.
        status, body = await server.command(
            station, "ClearVariableMonitoring", {"id": [periodic_id, 999]}
        )
        assert status == 200, body
        assert set(await _monitors(server, station)) == {availability_id}

    changes = _changes(server, station)
    assert {
        "cause": "SetVariableMonitoring",
        "set": [heartbeat_id, availability_id],
        "removed": [],
    } in changes
    assert {"cause": "ClearVariableMonitoring", "set": [], "removed": [heartbeat_id]} in changes
    # The station is gone: what it holds is still shown.
    assert set(await _monitors(server, station)) == {availability_id}


async def _delete(server: Running, station: str, monitor_id: int) -> tuple[int, Any]:
    async with server.http.delete(f"{server.api_url}{_monitors_path(station)}/{monitor_id}") as r:
        return r.status, await r.json(content_type=None)


async def test_only_the_accepted_are_kept_whatever_order_the_results_come_in(
    server: Running,
) -> None:
    station = "CS-MON-REJECTED"
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        cp.overrides["SetVariableMonitoring"] = {
            "setMonitoringResult": [
                # The second monitor's result first.
                {
                    "status": "Accepted",
                    "id": 42,
                    "type": "Delta",
                    "severity": 3,
                    "component": {"name": "EVSE", "evse": {"id": 1}},
                    "variable": {"name": "AvailabilityState"},
                },
                {
                    "status": "Rejected",
                    "statusInfo": {"reasonCode": "TooMany"},
                    "type": "UpperThreshold",
                    "severity": 5,
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                },
            ]
        }
        status, body = await server.post(
            _monitors_path(station),
            {
                "monitors": [
                    {**HEARTBEAT, "type": "UpperThreshold", "value": 600, "severity": 5},
                    {**AVAILABILITY, "type": "Delta", "value": 2.5, "severity": 3},
                ]
            },
        )
        assert status == 200, body
        assert [r["status"] for r in body["results"]] == ["Accepted", "Rejected"]
        assert body["results"][1]["status_info"] == {"reasonCode": "TooMany"}
        assert body["accepted"] == 1
        kept = await _monitors(server, station)
        assert list(kept) == [42]
        assert (kept[42]["component"], kept[42]["value"]) == ("EVSE", 2.5)


async def test_monitoring_base_and_level(server: Running) -> None:
    station = "CS-MON-BASE"
    path = f"/api/v1/stations/{station}/monitoring"
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, view = await server.get(path)
        assert status == 200, view
        assert (view["base"], view["level"]) == (None, None)

        status, view = await server.put(path, {"base": "All", "level": 4})
        assert status == 200, view
        assert (view["base"], view["level"]) == ("All", 4)
        assert view["results"]["base"]["status"] == "Accepted"
        assert cp.calls("SetMonitoringBase") == [{"monitoring_base": "All"}]
        assert cp.calls("SetMonitoringLevel") == [{"severity": 4}]
        status, view = await server.get(path)
        assert (view["base"], view["level"]) == ("All", 4)

        # HardWiredOnly clears every custom monitor (2.0.1 N03.FR.05).
        # The body may be the list itself.
        status, body = await server.post(
            _monitors_path(station),
            [{**HEARTBEAT, "type": "UpperThreshold", "value": 600, "severity": 5}],
        )
        assert status == 200, body
        assert len(await _monitors(server, station)) == 1
        status, view = await server.put(path, {"base": "HardWiredOnly"})
        assert status == 200, view
        assert view["base"] == "HardWiredOnly"
        assert await _monitors(server, station) == {}

        # Refused: 409 with the station's status; what it refused is not kept.
        cp.overrides["SetMonitoringLevel"] = {"status": "Rejected"}
        status, problem = await server.put(path, {"level": 9})
        assert status == 409, problem
        assert problem["results"]["level"]["status"] == "Rejected"
        assert "level Rejected" in problem["detail"]
        status, view = await server.get(path)
        assert view["level"] == 4

        # Bad bodies are refused before anything is sent.
        sent = len(cp.received)
        for body in ({}, {"level": 10}, {"level": True}, {"base": "Some"}, {"base": "All", "x": 1}):
            status, problem = await server.put(path, body)
            assert status == 400, (body, problem)
        assert len(cp.received) == sent

        # Through the raw command endpoint: kept as well (the observers of answers).
        del cp.overrides["SetMonitoringLevel"]
        status, body = await server.command(station, "SetMonitoringLevel", {"severity": 6})
        assert status == 200, body
        status, view = await server.get(path)
        assert view["level"] == 6

    # An offline station shows what it accepted.
    status, view = await server.get(path)
    assert (view["base"], view["level"]) == ("HardWiredOnly", 6)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_multi_part_report_replaces_what_it_covers(server: Running, version: str) -> None:
    station = f"CS-MON-REPORT-{version}"
    evse1 = {"name": "EVSE", "evse": {"id": 1}}
    comm = {"name": "OCPPCommCtrlr"}
    async with charger2(server.ocpp_url, station, version) as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, body = await server.post(
            _monitors_path(station),
            {"monitors": [{**HEARTBEAT, "type": "UpperThreshold", "value": 600, "severity": 5}]},
        )
        assert status == 200, body
        set_by_operator = body["results"][0]["id"]

        cp.overrides["GetMonitoringReport"] = {"status": "Accepted"}
        status, answer = await server.post(f"{_monitors_path(station)}/report")
        assert status == 202, answer
        assert answer["status"] == "Accepted"
        request_id = answer["request_id"]
        assert cp.calls("GetMonitoringReport")[-1] == {"request_id": request_id}
        status, report = await server.get(f"{_monitors_path(station)}/report")
        assert (report["request_id"], report["status"], report["parts"]) == (
            request_id,
            "receiving",
            0,
        )

        await _report_part(
            cp,
            request_id,
            0,
            [
                _reported(
                    10,
                    "UpperThreshold",
                    component=comm,
                    variable="HeartbeatInterval",
                    version=version,
                ),
                _reported(
                    11, "Delta", component=evse1, variable="AvailabilityState", version=version
                ),
            ],
            tbc=True,
        )
        # Kept as it arrives; nothing is removed before the report is complete.
        assert set(await _monitors(server, station)) == {set_by_operator, 10, 11}
        await _report_part(
            cp,
            request_id,
            1,
            [
                _reported(
                    12,
                    "Periodic",
                    component=comm,
                    variable="HeartbeatInterval",
                    version=version,
                    value=60,
                )
            ],
            tbc=False,
        )
        kept = await _monitors(server, station)
        assert set(kept) == {10, 11, 12}
        assert {m["source"] for m in kept.values()} == {"report"}
        assert kept[11]["evse_id"] == 1
        assert kept[12]["value"] == 60.0
        expected_type = "CustomMonitor" if version == "ocpp2.1" else None
        assert kept[10]["event_notification_type"] == expected_type
        status, report = await server.get(f"{_monitors_path(station)}/report")
        assert (report["status"], report["parts"], report["kept"], report["removed"]) == (
            "complete",
            2,
            3,
            1,
        )

        # A report of periodic monitors only replaces the periodic ones.
        status, answer = await server.post(
            f"{_monitors_path(station)}/report", {"monitoring_criteria": ["PeriodicMonitoring"]}
        )
        assert status == 202, answer
        assert cp.calls("GetMonitoringReport")[-1]["monitoring_criteria"] == ["PeriodicMonitoring"]
        await _report_part(
            cp,
            answer["request_id"],
            0,
            [
                _reported(
                    13,
                    "PeriodicClockAligned",
                    component=comm,
                    variable="HeartbeatInterval",
                    version=version,
                )
            ],
            tbc=False,
        )
        assert set(await _monitors(server, station)) == {10, 11, 13}

        # EmptyResultSet: the station has no monitor of what was asked, and none of it is kept.
        cp.overrides["GetMonitoringReport"] = {"status": "EmptyResultSet"}
        status, answer = await server.post(
            f"{_monitors_path(station)}/report",
            {"component_variables": [{"component": "OCPPCommCtrlr"}]},
        )
        assert status == 200, answer
        assert answer["status"] == "EmptyResultSet"
        assert cp.calls("GetMonitoringReport")[-1]["component_variable"] == [
            {"component": {"name": "OCPPCommCtrlr"}}
        ]
        assert set(await _monitors(server, station)) == {11}

        # Refused: 409 with the station's status.
        cp.overrides["GetMonitoringReport"] = {"status": "NotSupported"}
        status, problem = await server.post(f"{_monitors_path(station)}/report", {})
        assert status == 409, problem
        assert problem["station_status"] == "NotSupported"
    changes = _changes(server, station)
    assert any(c.get("request_id") == request_id and c["status"] == "complete" for c in changes)


async def test_a_report_that_never_ends_is_bounded_and_superseded(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("persistence.monitoring.MAX_KEPT_PER_STATION", 4)
    station = "CS-MON-ENDLESS"
    comm = {"name": "OCPPCommCtrlr"}
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, body = await server.post(
            _monitors_path(station),
            {"monitors": [{**HEARTBEAT, "type": "UpperThreshold", "value": 600, "severity": 5}]},
        )
        set_by_operator = body["results"][0]["id"]
        cp.overrides["GetMonitoringReport"] = {"status": "Accepted"}
        status, answer = await server.post(f"{_monitors_path(station)}/report")
        endless = answer["request_id"]
        for seq_no in range(3):
            await _report_part(
                cp,
                endless,
                seq_no,
                [
                    _reported(
                        100 + 2 * seq_no + k,
                        "Delta",
                        component=comm,
                        variable="HeartbeatInterval",
                        version="ocpp2.0.1",
                    )
                    for k in range(2)
                ],
                tbc=True,
            )
        # At most 4 kept per station: the operator's and 3 of the report; the rest dropped.
        kept = await _monitors(server, station)
        assert set(kept) == {set_by_operator, 100, 101, 102}
        status, report = await server.get(f"{_monitors_path(station)}/report")
        assert (report["status"], report["parts"], report["kept"], report["dropped"]) == (
            "receiving",
            3,
            3,
            3,
        )
        # A known monitor is still updated when the store is full.
        await _report_part(
            cp,
            endless,
            3,
            [
                _reported(
                    100,
                    "Delta",
                    component=comm,
                    variable="HeartbeatInterval",
                    version="ocpp2.0.1",
                    value=9,
                )
            ],
            tbc=True,
        )
        assert (await _monitors(server, station))[100]["value"] == 9.0

        # A new request supersedes it: its late last part keeps what it lists, removes nothing.
        status, answer = await server.post(f"{_monitors_path(station)}/report")
        newer = answer["request_id"]
        await _report_part(cp, endless, 4, [], tbc=False)
        assert set(await _monitors(server, station)) == {set_by_operator, 100, 101, 102}
        status, report = await server.get(f"{_monitors_path(station)}/report")
        assert (report["request_id"], report["status"]) == (newer, "receiving")

        # Only the latest reports' progress is kept.
        monkeypatch.setattr("persistence.monitoring.REPORTS_KEPT", 1)
        status, answer = await server.post(f"{_monitors_path(station)}/report")
        newest = answer["request_id"]
        async with server.node.engine.connect() as conn:
            kept_reports = (
                await conn.execute(
                    select(monitoring_reports.c.request_id).where(
                        monitoring_reports.c.station_id == station
                    )
                )
            ).all()
        assert [r[0] for r in kept_reports] == [newest]


async def test_a_station_that_reconnects_in_the_middle_of_a_report(server: Running) -> None:
    station = "CS-MON-RECONNECT"
    comm = {"name": "OCPPCommCtrlr"}
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        await server.post(
            _monitors_path(station),
            {"monitors": [{**HEARTBEAT, "type": "UpperThreshold", "value": 600, "severity": 5}]},
        )
        cp.overrides["GetMonitoringReport"] = {"status": "Accepted"}
        status, answer = await server.post(f"{_monitors_path(station)}/report")
        request_id = answer["request_id"]
        await _report_part(
            cp,
            request_id,
            0,
            [
                _reported(
                    20, "Delta", component=comm, variable="HeartbeatInterval", version="ocpp2.0.1"
                )
            ],
            tbc=True,
        )
    await eventually(lambda: _not_connected(server, station), what="disconnected")
    async with charger2(server.ocpp_url, station) as cp:
        await _report_part(
            cp,
            request_id,
            1,
            [
                _reported(
                    21, "Delta", component=comm, variable="HeartbeatInterval", version="ocpp2.0.1"
                )
            ],
            tbc=False,
        )
        assert set(await _monitors(server, station)) == {20, 21}
        status, report = await server.get(f"{_monitors_path(station)}/report")
        assert (report["status"], report["parts"]) == ("complete", 2)


async def _not_connected(server: Running, station: str) -> bool:
    return not await server.is_connected(station)


BOOT_V2 = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}


async def test_callerror_no_answer_offline_and_1_6(start_server: StartServer) -> None:
    server = await start_server(command_timeout=10 * UNIT)
    station = "CS-MON-RAW"
    body = {"monitors": [{**HEARTBEAT, "type": "UpperThreshold", "value": 600, "severity": 5}]}
    # Not connected: 404; never seen: 404.
    status, problem = await server.post(_monitors_path("NOBODY"), body)
    assert status == 404, problem
    status, problem = await server.get(_monitors_path("NOBODY"))
    assert status == 404, problem
    await server.put(f"/api/v1/stations/{station}", {})
    status, problem = await server.post(_monitors_path(station), body)
    assert status == 404, problem
    assert "not connected" in problem["detail"]

    charger = await RawCharger.connect(f"{server.ocpp_url}/{station}", subprotocols=["ocpp2.0.1"])
    try:
        assert (await charger.call("BootNotification", BOOT_V2))["status"] == "Accepted"

        async def refuse(payload: dict[str, Any]) -> dict[str, Any]:
            raise CallErrorReply("", "NotSupported", "no monitoring here")

        charger.handlers["SetVariableMonitoring"] = refuse
        status, problem = await server.post(_monitors_path(station), body)
        assert status == 502, problem
        assert problem["code"] == "NotSupported"

        never = asyncio.Event()

        async def silent(payload: dict[str, Any]) -> dict[str, Any]:
            await never.wait()
            return {}

        charger.handlers["SetVariableMonitoring"] = silent
        charger.handlers["ClearVariableMonitoring"] = silent
        status, problem = await server.post(_monitors_path(station), body)
        assert status == 504, problem
        assert await _monitors(server, station) == {}
        status, problem = await _delete(server, station, 3)
        assert status == 504, problem

        # Malformed requests are refused before anything is sent.
        sent = len(charger.received_calls)
        bodies: list[dict[str, Any]] = [
            {},
            {"monitors": []},
            {"monitors": [{**HEARTBEAT, "type": "Sometimes", "value": 1, "severity": 5}]},
            {"monitors": [{**HEARTBEAT, "type": "Delta", "value": 1, "severity": 10}]},
            {"monitors": [{**HEARTBEAT, "type": "Delta", "value": "1", "severity": 1}]},
            {"monitors": [{**HEARTBEAT, "type": "Delta", "value": 1, "severity": 1, "colour": 1}]},
            {"monitors": [{"variable": "X", "type": "Delta", "value": 1, "severity": 1}]},
            {
                "monitors": [
                    {**HEARTBEAT, "connector_id": 1, "type": "Delta", "value": 1, "severity": 1}
                ]
            },
        ]
        for bad in bodies:
            status, problem = await server.post(_monitors_path(station), bad)
            assert status == 400, (bad, problem)
        async with server.http.delete(f"{server.api_url}{_monitors_path(station)}/one") as r:
            assert r.status == 400
        status, problem = await server.post(
            f"{_monitors_path(station)}/report", {"monitoring_criteria": ["Everything"]}
        )
        assert status == 400, problem
        assert len(charger.received_calls) == sent
    finally:
        never.set()
        await charger.close()

    # A 1.6 station has no variable monitoring: 409 that says so, nothing sent.
    station16 = "CP-MON-16"
    async with charger16(server.ocpp_url, station16) as cp16:
        boot = await cp16.call(
            call16.BootNotification(charge_point_model="M", charge_point_vendor="V")
        )
        assert boot.status == "Accepted"
        for method, path, payload in (
            ("post", _monitors_path(station16), body),
            ("post", f"{_monitors_path(station16)}/report", {}),
            ("put", f"/api/v1/stations/{station16}/monitoring", {"level": 3}),
        ):
            status, problem = await getattr(server, method)(path, payload)
            assert status == 409, (path, problem)
            assert "OCPP 1.6" in problem["detail"]
        status, problem = await _delete(server, station16, 1)
        assert status == 409, problem
        status, page = await server.get(_monitors_path(station16))
        assert (status, page) == (200, {"items": [], "next": None})


async def test_a_request_id_used_again_starts_a_new_report(server: Running) -> None:
    """The raw command endpoint lets an operator ask with the same requestId every time: the
    second report replaces what the first listed, not only what was known before both."""
    station = "CS-MON-SAME-ID"
    comm = {"name": "OCPPCommCtrlr"}
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        cp.overrides["GetMonitoringReport"] = {"status": "Accepted"}
        for listed in ([30, 31], [30]):
            status, body = await server.command(station, "GetMonitoringReport", {"requestId": 7})
            assert status == 200, body
            monitors = [
                _reported(
                    i, "Delta", component=comm, variable="HeartbeatInterval", version="ocpp2.0.1"
                )
                for i in listed
            ]
            await _report_part(cp, 7, 0, monitors, tbc=False)
            assert set(await _monitors(server, station)) == set(listed)
        status, report = await server.get(f"{_monitors_path(station)}/report")
        assert (report["request_id"], report["status"], report["parts"], report["removed"]) == (
            7,
            "complete",
            1,
            1,
        )


async def test_reports_nobody_asked_for_are_kept_but_bounded(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A station may send parts under request ids nobody here asked for, without end: their
    monitors are kept (they are the station's), the progress of only the latest few."""
    monkeypatch.setattr("persistence.monitoring.REPORTS_KEPT", 2)
    station = "CS-MON-UNASKED"
    comm = {"name": "OCPPCommCtrlr"}
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        for request_id in range(1, 6):
            monitor = _reported(
                40 + request_id,
                "Delta",
                component=comm,
                variable="HeartbeatInterval",
                version="ocpp2.0.1",
            )
            await _report_part(cp, request_id, 0, [monitor], tbc=False)
        assert set(await _monitors(server, station)) == {41, 42, 43, 44, 45}
        async with server.node.engine.connect() as conn:
            kept = (
                await conn.execute(
                    select(monitoring_reports.c.request_id).where(
                        monitoring_reports.c.station_id == station
                    )
                )
            ).all()
        assert sorted(r[0] for r in kept) == [4, 5]
        status, report = await server.get(f"{_monitors_path(station)}/report")
        assert (report["request_id"], report["requested_at"]) == (5, None)

        # An operator's request of the same id, well after those parts: a report of its own.
        monkeypatch.setattr("persistence.monitoring.EARLY_PARTS_WITHIN", timedelta(0))
        cp.overrides["GetMonitoringReport"] = {"status": "Accepted"}
        status, body = await server.command(station, "GetMonitoringReport", {"requestId": 5})
        assert status == 200, body
        status, report = await server.get(f"{_monitors_path(station)}/report")
        assert (report["request_id"], report["status"], report["parts"]) == (5, "receiving", 0)
        monitor = _reported(
            45, "Delta", component=comm, variable="HeartbeatInterval", version="ocpp2.0.1"
        )
        await _report_part(cp, 5, 0, [monitor], tbc=False)
        assert set(await _monitors(server, station)) == {45}
        status, report = await server.get(f"{_monitors_path(station)}/report")
        assert (report["status"], report["parts"], report["removed"]) == ("complete", 1, 4)


async def test_parts_that_come_before_the_answer_to_the_request(server: Running) -> None:
    """A station that sends its report before it answers GetMonitoringReport: the report is
    still the one requested, complete with its parts."""
    station = "CS-MON-EARLY"
    charger = await RawCharger.connect(f"{server.ocpp_url}/{station}", subprotocols=["ocpp2.0.1"])
    try:
        assert (await charger.call("BootNotification", BOOT_V2))["status"] == "Accepted"

        async def report_first(payload: dict[str, Any]) -> dict[str, Any]:
            part = {
                "requestId": payload["requestId"],
                "seqNo": 0,
                "generatedAt": ts(),
                "monitor": [
                    _reported(
                        50,
                        "Delta",
                        component={"name": "OCPPCommCtrlr"},
                        variable="HeartbeatInterval",
                        version="ocpp2.0.1",
                    )
                ],
            }
            assert await charger.call("NotifyMonitoringReport", part) == {}
            return {"status": "Accepted"}

        charger.handlers["GetMonitoringReport"] = report_first
        status, answer = await server.post(f"{_monitors_path(station)}/report")
        assert status == 202, answer
        assert set(await _monitors(server, station)) == {50}
        status, report = await server.get(f"{_monitors_path(station)}/report")
        assert (report["request_id"], report["status"], report["parts"], report["kept"]) == (
            answer["request_id"],
            "complete",
            1,
            1,
        )
        assert report["requested_at"] is not None
    finally:
        await charger.close()


async def test_a_clear_result_for_a_monitor_not_asked_about_changes_nothing(
    server: Running,
) -> None:
    station = "CS-MON-STRAY-CLEAR"
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, body = await server.post(
            _monitors_path(station),
            [
                {**HEARTBEAT, "type": "UpperThreshold", "value": 600, "severity": 5},
                {**AVAILABILITY, "type": "Delta", "value": 1, "severity": 3},
            ],
        )
        assert status == 200, body
        first, second = (r["id"] for r in body["results"])
        cp.overrides["ClearVariableMonitoring"] = {
            "clearMonitoringResult": [
                {"id": first, "status": "Accepted"},
                {"id": second, "status": "Accepted"},
            ]
        }
        assert await server.delete(f"{_monitors_path(station)}/{first}") == 204
        assert set(await _monitors(server, station)) == {second}
        # Refused (a hard-wired monitor, say): 409 with the status, and the monitor stays.
        cp.overrides["ClearVariableMonitoring"] = {
            "clearMonitoringResult": [
                {"id": second, "status": "Rejected", "statusInfo": {"reasonCode": "HardWired"}}
            ]
        }
        status, problem = await _delete(server, station, second)
        assert status == 409, problem
        assert (problem["station_status"], problem["status_info"]) == (
            "Rejected",
            {"reasonCode": "HardWired"},
        )
        assert set(await _monitors(server, station)) == {second}


@pytest.mark.parametrize(
    "monitor",
    [
        {"id": 2**31, "transaction": False, "value": 1, "type": "Delta", "severity": 1},
        {"id": 1, "transaction": False, "value": 1, "type": "Delta", "severity": 2**40},
    ],
)
async def test_an_integer_out_of_range_is_refused_and_the_station_goes_on(
    server: Running, monitor: dict[str, Any]
) -> None:
    """The schemas leave integers unbounded; the store's columns are 32-bit."""
    station = "CS-MON-HUGE"
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        comm = {"name": "OCPPCommCtrlr"}
        too_big: dict[str, Any] = {
            "component": comm,
            "variable": {"name": "HeartbeatInterval"},
            "variableMonitoring": [monitor],
        }
        for payload in (
            {"requestId": 1, "seqNo": 0, "generatedAt": ts(), "monitor": [too_big]},
            {"requestId": 2**31, "seqNo": 0, "generatedAt": ts()},
            {
                "requestId": 1,
                "seqNo": 0,
                "generatedAt": ts(),
                "monitor": [
                    {
                        **too_big,
                        "component": {"name": "EVSE", "evse": {"id": 2**31}},
                        "variableMonitoring": [
                            {
                                "id": 1,
                                "transaction": False,
                                "value": 1,
                                "type": "Delta",
                                "severity": 1,
                            }
                        ],
                    }
                ],
            },
        ):
            with pytest.raises(PropertyConstraintViolationError):
                await call2(cp, "NotifyMonitoringReport", payload)
        # Served as before: the next part is kept.
        valid = _reported(
            3, "Delta", component=comm, variable="HeartbeatInterval", version="ocpp2.0.1"
        )
        await _report_part(cp, 1, 1, [valid], tbc=False)
        assert set(await _monitors(server, station)) == {3}


async def test_an_answer_outside_the_schema_is_502_and_nothing_of_it_is_kept(
    server: Running,
) -> None:
    """A lenient station's broken answer gets through the codec, but no observer learns from it:
    the operator is told so rather than shown statuses nothing was kept for."""
    station = "CS-MON-LENIENT"
    status, body = await server.put(f"/api/v1/stations/{station}", {"lenient": True})
    assert status in (200, 201), body
    charger = await RawCharger.connect(f"{server.ocpp_url}/{station}", subprotocols=["ocpp2.0.1"])
    try:
        assert (await charger.call("BootNotification", BOOT_V2))["status"] == "Accepted"

        async def broken(payload: dict[str, Any]) -> dict[str, Any]:
            return {"setMonitoringResult": [{"status": "Accepted", "id": 5}]}

        charger.handlers["SetVariableMonitoring"] = broken
        status, problem = await server.post(
            _monitors_path(station),
            [{**HEARTBEAT, "type": "UpperThreshold", "value": 600, "severity": 5}],
        )
        assert status == 502, problem
        assert "outside the OCPP schema" in problem["detail"]
        assert problem["response"] == {"setMonitoringResult": [{"status": "Accepted", "id": 5}]}
        assert await _monitors(server, station) == {}
    finally:
        await charger.close()


async def test_a_monitoring_base_clears_the_monitors_it_replaces(server: Running) -> None:
    """2.0.1 N03: FactoryDefault and HardWiredOnly clear every custom monitor, and HardWiredOnly
    disables the preconfigured ones too; a 2.1 report tells which is which."""
    station = "CS-MON-BASE-21"
    comm = {"name": "OCPPCommCtrlr"}
    async with charger2(server.ocpp_url, station, "ocpp2.1") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, body = await server.post(
            _monitors_path(station),
            [{**HEARTBEAT, "type": "UpperThreshold", "value": 600, "severity": 5}],
        )
        assert status == 200, body
        by_operator = body["results"][0]["id"]
        cp.overrides["GetMonitoringReport"] = {"status": "Accepted"}
        status, answer = await server.post(f"{_monitors_path(station)}/report")
        assert status == 202, answer
        origins = {60: "HardWiredMonitor", 61: "PreconfiguredMonitor", 62: "CustomMonitor"}
        reported: list[dict[str, Any]] = [
            {
                "id": monitor_id,
                "transaction": False,
                "value": 1,
                "type": "Delta",
                "severity": 4,
                "eventNotificationType": origin,
            }
            for monitor_id, origin in origins.items()
        ]
        # The operator's monitor is listed too: it stays the operator's.
        reported.append(
            {
                "id": by_operator,
                "transaction": False,
                "value": 600,
                "type": "UpperThreshold",
                "severity": 5,
                "eventNotificationType": "CustomMonitor",
            }
        )
        monitors = [
            {
                "component": comm,
                "variable": {"name": "HeartbeatInterval"},
                "variableMonitoring": reported,
            }
        ]
        await _report_part(cp, answer["request_id"], 0, monitors, tbc=False)
        kept = await _monitors(server, station)
        assert set(kept) == {by_operator, 60, 61, 62}
        assert (kept[by_operator]["source"], kept[61]["source"]) == ("operator", "report")

        path = f"/api/v1/stations/{station}/monitoring"
        status, view = await server.put(path, {"base": "All"})
        assert status == 200, view
        assert set(await _monitors(server, station)) == {by_operator, 60, 61, 62}
        status, view = await server.put(path, {"base": "FactoryDefault"})
        assert status == 200, view
        assert set(await _monitors(server, station)) == {60, 61}
        status, view = await server.put(path, {"base": "HardWiredOnly"})
        assert status == 200, view
        assert set(await _monitors(server, station)) == {60}
    changes = _changes(server, station)
    assert {
        "cause": "SetMonitoringBase",
        "base": "FactoryDefault",
        "set": [],
        "removed": sorted([by_operator, 62]),
    } in [{**c, "removed": sorted(c["removed"])} for c in changes]
