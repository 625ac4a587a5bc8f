"""Variable monitors kept from the station's answers (OCPP 2.0.1 N02-N08), whoever sent the call:
the observers run in the charge point actor before the operator gets the answer, so what an answer
changed is committed when he reads the monitors back.

- SetVariableMonitoring (N04): each Accepted result is kept under the id the station gave it.
- ClearVariableMonitoring (N06): Accepted and NotFound both mean the station does not hold it.
- SetMonitoringBase (N03): FactoryDefault and HardWiredOnly clear every custom monitor.
- SetMonitoringLevel (N05): the severity the station reports up to.
- GetMonitoringReport (N02): Accepted opens a report whose NotifyMonitoringReport parts follow;
  EmptyResultSet means the station holds nothing of what was asked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from csms.monitoring.components import component_columns, variable_columns
from csms.monitoring.reports import part_kept, request_answered
from csms.monitoring.scope import monitor_in_scope, paired_results
from csms.payloads.fields import fits_int32, require_int32
from csms.station.charge_point import ChargePointActor
from persistence.monitoring import (
    MONITORS,
    monitoring_base_set,
    monitoring_level_set,
    monitors_removed,
    monitors_set,
)
from transport.messages import Call

log = logging.getLogger(__name__)

MONITOR_CHANGED = "monitor.changed"
"""The live event of any change to a station's monitors, base or level."""

# 2.0.1 N03.FR.04 (FactoryDefault) and N03.FR.05 (HardWiredOnly): every custom monitor goes, and
# with HardWiredOnly the preconfigured ones are disabled too. Custom: set through voltmesh, or a 2.1
# report said so; a 2.0.1 report does not tell, and a new report shows what is left.
_FORGOTTEN_WITH_BASE: dict[str, tuple[str, ...]] = {
    "All": (),
    "FactoryDefault": ("operator", "CustomMonitor"),
    "HardWiredOnly": ("operator", "CustomMonitor", "PreconfiguredMonitor"),
}
_GONE = frozenset({"Accepted", "NotFound"})


def _publish(cp: ChargePointActor, data: dict[str, Any]) -> None:
    cp.services.events.publish(MONITOR_CHANGED, cp.station_id, data)


def accepted_monitor(item: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The row of a monitor the station accepted: the request's settings under the station's id
    (None when it named none, or one no column holds: there is nothing to address it by)."""
    monitor_id = result.get("id", item.get("id"))
    component = component_columns(item["component"])
    if monitor_id is None or not all(
        fits_int32(v) for v in (monitor_id, component["evse_id"], component["connector_id"])
    ):
        return None
    return {
        "monitor_id": monitor_id,
        **component,
        **variable_columns(item["variable"]),
        "type": item["type"],
        "value": float(item["value"]),
        "severity": item["severity"],
        "transaction_only": bool(item.get("transaction", False)),
        "source": "operator",
        "event_notification_type": None,
        "periodic_event_stream": item.get("periodicEventStream"),
        "request_id": None,
    }


def reported_monitors(monitor_data: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows of NotifyMonitoringReport ``monitor`` (MonitoringDataType: a variable and its
    monitors); a PayloadError for an integer out of range."""
    rows = []
    for data in monitor_data:
        address = {**component_columns(data["component"]), **variable_columns(data["variable"])}
        require_int32(
            "component.evse", {"id": address["evse_id"], "connectorId": address["connector_id"]}
        )
        for monitor in data["variableMonitoring"]:
            require_int32("variableMonitoring", {k: monitor[k] for k in ("id", "severity")})
            rows.append(
                {
                    "monitor_id": monitor["id"],
                    **address,
                    "type": monitor["type"],
                    "value": float(monitor["value"]),
                    "severity": monitor["severity"],
                    "transaction_only": bool(monitor["transaction"]),
                    "event_notification_type": monitor.get("eventNotificationType"),
                }
            )
    return rows


async def set_variable_monitoring(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    rows = []
    for item, result in paired_results(
        request["setMonitoringData"], response["setMonitoringResult"]
    ):
        if result["status"] != "Accepted":
            continue
        row = accepted_monitor(item, result) if item is not None else None
        if row is None:
            log.warning("%s: an accepted monitor is not kept: %r", cp.station_id, result)
            continue
        rows.append(row)
    if rows:
        await cp.services.writer.submit(monitors_set(cp.station_id, rows))
        _publish(cp, {"cause": action, "set": [r["monitor_id"] for r in rows], "removed": []})


async def clear_variable_monitoring(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    # Only what was asked: a result for another id says nothing of that monitor.
    asked = set(request["id"])
    ids = [
        r["id"]
        for r in response["clearMonitoringResult"]
        if r["status"] in _GONE and r["id"] in asked
    ]
    if ids:
        await cp.services.writer.submit(monitors_removed(cp.station_id, ids))
        _publish(cp, {"cause": action, "set": [], "removed": ids})


async def set_monitoring_base(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    if response["status"] != "Accepted":
        return
    base = request["monitoringBase"]
    forgotten = _FORGOTTEN_WITH_BASE.get(base, ())
    (removed,) = await cp.services.writer.submit(
        monitoring_base_set(cp.station_id, base, forgotten)
    )
    _publish(cp, {"cause": action, "base": base, "set": [], "removed": removed})


async def set_monitoring_level(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    if response["status"] != "Accepted":
        return
    level = request["severity"]
    await cp.services.writer.submit(monitoring_level_set(cp.station_id, level))
    _publish(cp, {"cause": action, "level": level, "set": [], "removed": []})


async def get_monitoring_report(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    status = response["status"]
    removed = await request_answered(
        cp,
        MONITORS,
        request,
        accepted=status == "Accepted",
        holds_none=status == "EmptyResultSet",
        in_scope=monitor_in_scope,
    )
    if removed:
        _publish(cp, {"cause": action, "set": [], "removed": removed})


async def notify_monitoring_report(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """A part of a monitoring report (2.0.1 N02): kept as it arrives; the last one replaces what
    the report covers."""
    p = call.payload
    outcome = await part_kept(
        cp,
        call,
        MONITORS,
        reported_monitors(p.get("monitor") or []),
        in_scope=monitor_in_scope,
        keep_columns=("source", "periodic_event_stream"),
    )
    _publish(
        cp,
        {
            "cause": call.action,
            "request_id": p["requestId"],
            "seq_no": p["seqNo"],
            "status": outcome.status,
            "set": outcome.kept,
            "removed": outcome.removed,
        },
    )
    return {}
