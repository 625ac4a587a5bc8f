"""The 2.x device model: components, variables and their attributes as a station reports them.

Filled from NotifyReport (the answer to GetBaseReport and GetReport), from the results of GetVariables
and SetVariables, and from NotifyEvent, which carries a variable's new actual value (OCPP 2.0.1 Part 2,
B05-B08, N07). One row per (component, variable, attribute type), keyed by a hash of its identity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

# OCPP 2.0.1 AttributeEnumType: an attribute without a type is the actual value.
DEFAULT_ATTRIBUTE = "Actual"
# SetVariableStatusEnumType values after which the station holds the new value.
_SET_ACCEPTED = frozenset({"Accepted", "RebootRequired"})


def variable_key(
    component: Mapping[str, Any], variable: Mapping[str, Any], attribute_type: str
) -> str:
    evse = component.get("evse") or {}
    identity = "\x1f".join(
        str(part if part is not None else "")
        for part in (
            component["name"],
            component.get("instance"),
            evse.get("id"),
            evse.get("connectorId"),
            variable["name"],
            variable.get("instance"),
            attribute_type,
        )
    )
    return hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()


def _row(
    station_id: str,
    component: Mapping[str, Any],
    variable: Mapping[str, Any],
    attribute_type: str | None,
    value: Any,
    source: str,
) -> dict[str, Any]:
    attribute = attribute_type or DEFAULT_ATTRIBUTE
    evse = component.get("evse") or {}
    return {
        "station_id": station_id,
        "variable_key": variable_key(component, variable, attribute),
        "component": component["name"],
        "component_instance": component.get("instance"),
        "evse_id": evse.get("id"),
        "connector_id": evse.get("connectorId"),
        "variable": variable["name"],
        "variable_instance": variable.get("instance"),
        "attribute_type": attribute,
        "value": None if value is None else str(value),
        "source": source,
    }


def _unique(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last row of each key: a report that names a variable twice keeps its last word."""
    return list({row["variable_key"]: row for row in rows}.values())


def report_rows(station_id: str, report_data: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """NotifyReportRequest.reportData -> full rows (values, mutability, characteristics)."""
    rows = []
    for entry in report_data:
        characteristics = entry.get("variableCharacteristics")
        for attribute in entry["variableAttribute"]:
            row = _row(
                station_id,
                entry["component"],
                entry["variable"],
                attribute.get("type"),
                attribute.get("value"),
                "NotifyReport",
            )
            # 2.0.1 VariableAttributeType defaults: ReadWrite, persistent and constant false.
            row["mutability"] = attribute.get("mutability", "ReadWrite")
            row["persistent"] = attribute.get("persistent", False)
            row["constant"] = attribute.get("constant", False)
            row["characteristics"] = dict(characteristics) if characteristics else None
            rows.append(row)
    return _unique(rows)


def get_variables_rows(station_id: str, response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """GetVariablesResponse: the values the station returned (status Accepted)."""
    return _unique(
        _row(
            station_id,
            result["component"],
            result["variable"],
            result.get("attributeType"),
            result.get("attributeValue"),
            "GetVariables",
        )
        for result in response.get("getVariableResult") or []
        if result.get("attributeStatus") == "Accepted"
    )


def set_variables_rows(
    station_id: str, request: Mapping[str, Any], response: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """SetVariables: the requested values the station accepted."""
    requested = {
        variable_key(d["component"], d["variable"], d.get("attributeType") or DEFAULT_ATTRIBUTE): d
        for d in request.get("setVariableData") or []
    }
    rows = []
    for result in response.get("setVariableResult") or []:
        if result.get("attributeStatus") not in _SET_ACCEPTED:
            continue
        key = variable_key(
            result["component"],
            result["variable"],
            result.get("attributeType") or DEFAULT_ATTRIBUTE,
        )
        data = requested.get(key)
        if data is not None:
            rows.append(
                _row(
                    station_id,
                    data["component"],
                    data["variable"],
                    data.get("attributeType"),
                    data["attributeValue"],
                    "SetVariables",
                )
            )
    return _unique(rows)


def event_rows(station_id: str, event_data: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """NotifyEventRequest.eventData: each event's actualValue is the variable's Actual value."""
    return _unique(
        _row(
            station_id,
            event["component"],
            event["variable"],
            DEFAULT_ATTRIBUTE,
            event.get("actualValue"),
            "NotifyEvent",
        )
        for event in event_data
    )
