"""What a report covers (2.0.1 N02 monitoring criteria and component variables, O04 display
message filters), which request item a SetVariableMonitoring result answers, and when a report
that never ends is shown stalled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from csms.monitoring.bounds import fits_int32, require_int32
from csms.monitoring.monitors import accepted_monitor, reported_monitors
from csms.monitoring.scope import display_message_in_scope, monitor_in_scope, paired_results
from csms.payloads.fields import PayloadError
from http_api.monitoring import REPORT_STALLED_AFTER, report_view
from transport.errors import ErrorCode

EVSE1 = {"name": "EVSE", "evse": {"id": 1}}


def _monitor(type_: str = "Delta", **columns: Any) -> dict[str, Any]:
    row = {
        "monitor_id": 1,
        "component": "EVSE",
        "component_instance": None,
        "evse_id": 1,
        "connector_id": None,
        "variable": "AvailabilityState",
        "variable_instance": None,
        "type": type_,
    }
    return {**row, **columns}


@pytest.mark.parametrize(
    ("criteria", "covered"),
    [
        (None, True),
        ({}, True),
        ({"monitoringCriteria": ["DeltaMonitoring"]}, True),
        ({"monitoringCriteria": ["ThresholdMonitoring", "PeriodicMonitoring"]}, False),
        ({"componentVariable": [{"component": EVSE1}]}, True),
        # Names are case-insensitive.
        ({"componentVariable": [{"component": {"name": "evse", "evse": {"id": 1}}}]}, True),
        ({"componentVariable": [{"component": {"name": "EVSE", "evse": {"id": 2}}}]}, False),
        # A station-wide component is not the EVSE's.
        ({"componentVariable": [{"component": {"name": "EVSE"}}]}, False),
        (
            {
                "componentVariable": [
                    {"component": EVSE1, "variable": {"name": "availabilitystate"}}
                ]
            },
            True,
        ),
        ({"componentVariable": [{"component": EVSE1, "variable": {"name": "Power"}}]}, False),
        (
            {
                "monitoringCriteria": ["DeltaMonitoring"],
                "componentVariable": [{"component": {"name": "Other"}}, {"component": EVSE1}],
            },
            True,
        ),
        (
            {
                "monitoringCriteria": ["ThresholdMonitoring"],
                "componentVariable": [{"component": EVSE1}],
            },
            False,
        ),
    ],
)
def test_what_a_monitoring_report_covers(criteria: dict[str, Any] | None, covered: bool) -> None:
    assert monitor_in_scope(_monitor(), criteria) is covered


@pytest.mark.parametrize(
    ("monitor_type", "criterion"),
    [
        ("UpperThreshold", "ThresholdMonitoring"),
        ("LowerThreshold", "ThresholdMonitoring"),
        ("Delta", "DeltaMonitoring"),
        ("TargetDelta", "DeltaMonitoring"),
        ("Periodic", "PeriodicMonitoring"),
        ("PeriodicClockAligned", "PeriodicMonitoring"),
    ],
)
def test_each_monitor_type_has_its_criterion(monitor_type: str, criterion: str) -> None:
    others = {"ThresholdMonitoring", "DeltaMonitoring", "PeriodicMonitoring"} - {criterion}
    assert monitor_in_scope(_monitor(monitor_type), {"monitoringCriteria": [criterion]})
    assert not monitor_in_scope(_monitor(monitor_type), {"monitoringCriteria": sorted(others)})


@pytest.mark.parametrize(
    ("criteria", "covered"),
    [
        (None, True),
        ({}, True),
        ({"id": [3, 4]}, True),
        ({"id": [5]}, False),
        ({"priority": "InFront"}, True),
        ({"priority": "AlwaysFront"}, False),
        ({"state": "Idle"}, True),
        ({"state": "Charging"}, False),
        ({"id": [3], "priority": "InFront", "state": "Idle"}, True),
        ({"id": [3], "priority": "NormalCycle"}, False),
    ],
)
def test_what_a_display_message_report_covers(
    criteria: dict[str, Any] | None, covered: bool
) -> None:
    row = {"message_id": 3, "priority": "InFront", "state": "Idle"}
    assert display_message_in_scope(row, criteria) is covered


def _item(component: dict[str, Any], variable: str, type_: str, severity: int) -> dict[str, Any]:
    return {
        "component": component,
        "variable": {"name": variable},
        "type": type_,
        "severity": severity,
        "value": 1,
    }


def _result(item: dict[str, Any], status: str, monitor_id: int | None = None) -> dict[str, Any]:
    result = {k: item[k] for k in ("component", "variable", "type", "severity")}
    result["status"] = status
    if monitor_id is not None:
        result["id"] = monitor_id
    return result


def test_results_pair_in_order_or_by_what_they_repeat() -> None:
    a = _item(EVSE1, "AvailabilityState", "Delta", 3)
    b = _item({"name": "OCPPCommCtrlr"}, "HeartbeatInterval", "UpperThreshold", 5)
    c = _item({"name": "OCPPCommCtrlr"}, "HeartbeatInterval", "UpperThreshold", 5)
    in_order = paired_results([a, b], [_result(a, "Accepted", 1), _result(b, "Rejected")])
    assert [item for item, _ in in_order] == [a, b]
    swapped = paired_results([a, b], [_result(b, "Rejected"), _result(a, "Accepted", 1)])
    assert [item for item, _ in swapped] == [b, a]
    # Two identical requests: each result answers one of them.
    twins = paired_results([b, c], [_result(b, "Accepted", 1), _result(c, "Accepted", 2)])
    assert [id(item) for item, _ in twins] == [id(b), id(c)]
    # A result that answers nothing that was asked.
    stray = _result(_item({"name": "X"}, "Y", "Delta", 1), "Accepted", 9)
    assert paired_results([a], [stray]) == [(None, stray)]


def test_an_accepted_monitor_is_kept_under_the_stations_id() -> None:
    item = {**_item(EVSE1, "AvailabilityState", "Delta", 3), "transaction": True}
    row = accepted_monitor(item, _result(item, "Accepted", 12))
    assert row is not None
    assert (row["monitor_id"], row["evse_id"], row["transaction_only"], row["source"]) == (
        12,
        1,
        True,
        "operator",
    )
    # No id in the result: the one the request replaced; none at all: nothing to keep.
    assert accepted_monitor({**item, "id": 4}, _result(item, "Accepted"))["monitor_id"] == 4  # type: ignore[index]
    assert accepted_monitor(item, _result(item, "Accepted")) is None


def test_reported_monitors_flatten_each_variables_monitors() -> None:
    rows = reported_monitors(
        [
            {
                "component": {"name": "Connector", "evse": {"id": 2, "connectorId": 1}},
                "variable": {"name": "Temperature", "instance": "Plug"},
                "variableMonitoring": [
                    {
                        "id": 1,
                        "transaction": False,
                        "value": 80,
                        "type": "UpperThreshold",
                        "severity": 2,
                    },
                    {"id": 2, "transaction": True, "value": 5, "type": "Delta", "severity": 6},
                ],
            }
        ]
    )
    assert [(r["monitor_id"], r["connector_id"], r["variable_instance"]) for r in rows] == [
        (1, 1, "Plug"),
        (2, 1, "Plug"),
    ]
    assert rows[0]["value"] == 80.0


def test_a_report_that_hears_nothing_for_a_while_is_shown_stalled() -> None:
    start = datetime(2026, 12, 1, 10, tzinfo=UTC)
    row = {
        "request_id": 5,
        "status": "receiving",
        "criteria": {},
        "parts": 1,
        "kept": 3,
        "dropped": 0,
        "removed": 0,
        "requested_at": start,
        "last_part_at": start + timedelta(seconds=10),
        "completed_at": None,
    }
    soon = start + timedelta(seconds=20)
    late = start + timedelta(seconds=11) + REPORT_STALLED_AFTER
    assert report_view(row, soon)["status"] == "receiving"
    assert report_view(row, late)["status"] == "stalled"
    assert report_view({**row, "status": "complete"}, late)["status"] == "complete"
    assert report_view({**row, "last_part_at": None}, late)["status"] == "stalled"


@pytest.mark.parametrize(
    ("value", "fits"),
    [
        (None, True),
        (0, True),
        (2**31 - 1, True),
        (-(2**31), True),
        (2**31, False),
        (-(2**31) - 1, False),
        (True, False),
        (1.0, False),
    ],
)
def test_what_a_32_bit_column_holds(value: Any, fits: bool) -> None:
    assert fits_int32(value) is fits
    if fits:
        require_int32("monitor", {"id": value})
    else:
        with pytest.raises(PayloadError) as raised:
            require_int32("monitor", {"id": value})
        assert raised.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
        assert "monitor.id" in str(raised.value)
