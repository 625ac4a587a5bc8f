"""Which kept rows a report request covers, and which request item each SetVariableMonitoring result
answers: pure functions of the payloads, so that the store only runs them.

A report replaces what it covers and nothing else: a GetMonitoringReport for Delta monitors of one
component says nothing of the station's other monitors (2.0.1 N02), a GetDisplayMessages for one
priority nothing of the other messages (O04).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from csms.monitoring.components import (
    COMPONENT_COLUMNS,
    VARIABLE_COLUMNS,
    component_columns,
    same_columns,
    variable_columns,
)

# MonitoringCriterionEnumType -> the MonitorEnumType values it selects (2.0.1 N02; the 2.1 target
# deltas are deltas).
CRITERION_TYPES: dict[str, frozenset[str]] = {
    "ThresholdMonitoring": frozenset({"UpperThreshold", "LowerThreshold"}),
    "DeltaMonitoring": frozenset({"Delta", "TargetDelta", "TargetDeltaRelative"}),
    "PeriodicMonitoring": frozenset({"Periodic", "PeriodicClockAligned"}),
}


def monitor_in_scope(row: Mapping[str, Any], criteria: Mapping[str, Any] | None) -> bool:
    """Whether a GetMonitoringReport with ``criteria`` (its payload without requestId) covers the
    kept monitor ``row``. No criteria: every monitor. A componentVariable without a variable covers
    every variable of the component; an instance or EVSE must be the row's exactly, so that a
    report of a station-wide component does not replace what is known of an EVSE's."""
    if criteria is None:
        return True
    kinds = criteria.get("monitoringCriteria")
    if kinds:
        types = frozenset().union(*(CRITERION_TYPES.get(k, frozenset()) for k in kinds))
        if row["type"] not in types:
            return False
    wanted = criteria.get("componentVariable")
    if not wanted:
        return True
    return any(_covers(item, row) for item in wanted)


def _covers(item: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    if not same_columns(component_columns(item["component"]), row, COMPONENT_COLUMNS):
        return False
    variable = item.get("variable")
    return variable is None or same_columns(variable_columns(variable), row, VARIABLE_COLUMNS)


def display_message_in_scope(row: Mapping[str, Any], criteria: Mapping[str, Any] | None) -> bool:
    """Whether a GetDisplayMessages with ``criteria`` (ids, priority, state) covers the kept message
    ``row``: every criterion given must hold (2.0.1 O04)."""
    if criteria is None:
        return True
    ids = criteria.get("id")
    if ids and row["message_id"] not in ids:
        return False
    priority = criteria.get("priority")
    if priority is not None and row["priority"] != priority:
        return False
    state = criteria.get("state")
    return state is None or row["state"] == state


def _answers(item: Mapping[str, Any], result: Mapping[str, Any]) -> bool:
    """Whether a SetMonitoringResult may be the answer to a SetMonitoringData (it repeats the
    component, variable, type and severity of what it answers)."""
    return (
        item["type"] == result["type"]
        and item["severity"] == result["severity"]
        and same_columns(
            component_columns(item["component"]),
            component_columns(result["component"]),
            COMPONENT_COLUMNS,
        )
        and same_columns(
            variable_columns(item["variable"]),
            variable_columns(result["variable"]),
            VARIABLE_COLUMNS,
        )
    )


def paired_results(
    items: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any] | None, Mapping[str, Any]]]:
    """Each SetMonitoringResult with the SetMonitoringData it answers (None: none does). Results
    come in the order of the request as a rule; one that does not is matched by what it repeats."""
    used: set[int] = set()
    pairs: list[tuple[Mapping[str, Any] | None, Mapping[str, Any]]] = []
    for index, result in enumerate(results):
        match: int | None = None
        if index < len(items) and index not in used and _answers(items[index], result):
            match = index
        else:
            match = next(
                (i for i, item in enumerate(items) if i not in used and _answers(item, result)),
                None,
            )
        if match is None:
            pairs.append((None, result))
        else:
            used.add(match)
            pairs.append((items[match], result))
    return pairs
