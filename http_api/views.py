"""JSON shapes of the REST API: snake_case, stable, the same for every OCPP version."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from persistence.records import IdTokenRecord, MeterSample, StationRecord, TransactionRecord
from persistence.status_store import ConnectorStatus, Presence


def station_view(
    station: StationRecord, presence: Presence | None, connectors: list[ConnectorStatus]
) -> dict[str, Any]:
    evses: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in sorted(connectors, key=lambda c: (c.evse_id, c.connector_id)):
        evses[c.evse_id].append(
            {
                "id": c.connector_id,
                "status": c.status,
                "error_code": c.error_code,
                "info": c.info,
                "vendor_error_code": c.vendor_error_code,
                "timestamp": c.timestamp,
            }
        )
    return {
        "id": station.id,
        "registered": station.registered,
        "allowed": station.allowed,
        "lenient": station.lenient,
        "has_password": station.has_password,
        "security_profile": station.security_profile,
        "connected": bool(presence and presence.connected),
        "protocol": (presence.protocol if presence and presence.protocol else station.protocol),
        "protocols": list(station.protocols) if station.protocols else None,
        "last_seen": presence.last_seen if presence else None,
        "boot": {
            "vendor": station.vendor,
            "model": station.model,
            "serial": station.serial_number,
            "firmware": station.firmware_version,
            "status": station.boot_status,
            "reason": station.boot_reason,
            "last_boot": station.last_boot,
        },
        "evses": [{"id": evse_id, "connectors": items} for evse_id, items in sorted(evses.items())],
    }


def meter_value_view(sample: MeterSample) -> dict[str, Any]:
    return {
        "timestamp": sample.timestamp,
        "measurand": sample.measurand,
        "phase": sample.phase,
        "unit": sample.unit,
        "value": sample.value if sample.value is not None else sample.raw_value,
        "context": sample.context,
        "location": sample.location,
        "signed": dict(sample.signed) if sample.signed is not None else None,
    }


def transaction_view(
    tx: TransactionRecord, samples: list[MeterSample] | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": tx.id,
        "station_id": tx.station_id,
        "station_transaction_id": tx.station_transaction_id,
        "evse_id": tx.evse_id,
        "connector_id": tx.connector_id,
        "id_token": tx.id_token,
        "id_token_type": tx.id_token_type,
        "start_time": tx.start_time,
        "stop_time": tx.stop_time,
        "meter_start_wh": tx.meter_start_wh,
        "meter_stop_wh": tx.meter_stop_wh,
        "energy_wh": tx.energy_wh,
        "stop_reason": tx.stop_reason,
        "active": tx.active,
        "stale": tx.stale,
        "abandoned": tx.abandoned,
        "protocol": tx.protocol,
        "remote_start_id": tx.remote_start_id,
        "reservation_id": tx.reservation_id,
        "extra": tx.extra or {},
    }
    if samples is not None:
        view["meter_values"] = [meter_value_view(s) for s in samples]
    return view


def id_token_view(token: IdTokenRecord) -> dict[str, Any]:
    return {
        "id_tag": token.id_token,
        "type": token.type,
        "status": token.status.value,
        "expiry_date": token.expiry_date,
        "parent_id_tag": token.parent_id_token,
        "evse_ids": list(token.evse_ids) if token.evse_ids is not None else None,
    }


def variable_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One variable attribute of a station's device model."""
    names = (
        "component",
        "component_instance",
        "evse_id",
        "connector_id",
        "variable",
        "variable_instance",
        "attribute_type",
        "value",
        "mutability",
        "persistent",
        "constant",
        "characteristics",
        "source",
        "updated_at",
    )
    return {name: row[name] for name in names}
