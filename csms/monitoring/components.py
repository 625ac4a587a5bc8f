"""The device model's addresses (OCPP 2.x part 1, section 4: ComponentType, EVSEType, VariableType)
as the flat columns monitors are kept in, and back.

Names and instances are case-insensitive (2.0.1 ComponentType.name, VariableType.name): two
addresses are the same when they differ only in case."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COMPONENT_COLUMNS = ("component", "component_instance", "evse_id", "connector_id")
VARIABLE_COLUMNS = ("variable", "variable_instance")


def component_columns(component: Mapping[str, Any]) -> dict[str, Any]:
    """A ComponentType as columns."""
    evse = component.get("evse") or {}
    return {
        "component": component["name"],
        "component_instance": component.get("instance"),
        "evse_id": evse.get("id"),
        "connector_id": evse.get("connectorId"),
    }


def variable_columns(variable: Mapping[str, Any]) -> dict[str, Any]:
    """A VariableType as columns."""
    return {"variable": variable["name"], "variable_instance": variable.get("instance")}


def component_type(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ComponentType of a row's component columns."""
    component: dict[str, Any] = {"name": row["component"]}
    if row.get("component_instance") is not None:
        component["instance"] = row["component_instance"]
    if row.get("evse_id") is not None:
        evse: dict[str, Any] = {"id": row["evse_id"]}
        if row.get("connector_id") is not None:
            evse["connectorId"] = row["connector_id"]
        component["evse"] = evse
    return component


def variable_type(row: Mapping[str, Any]) -> dict[str, Any]:
    """The VariableType of a row's variable columns."""
    variable: dict[str, Any] = {"name": row["variable"]}
    if row.get("variable_instance") is not None:
        variable["instance"] = row["variable_instance"]
    return variable


def _folded(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def same_columns(a: Mapping[str, Any], b: Mapping[str, Any], columns: tuple[str, ...]) -> bool:
    """Whether ``a`` and ``b`` name the same thing in ``columns`` (names without regard to case)."""
    return all(_folded(a.get(c)) == _folded(b.get(c)) for c in columns)
