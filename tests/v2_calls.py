"""Charger-initiated 2.x calls written as on the wire: camelCase payloads in and out, through the
``ocpp`` package's ChargePoint (which validates both ways against the official schemas)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp import v21, v201
from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case

from tests.ocpp_charger2 import Charger21, Charger201


async def call2(cp: Charger201 | Charger21, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Send ``action`` with a camelCase ``payload``; the response as a camelCase dict. A CALLERROR
    raises the ocpp package's error."""
    module = v21.call if isinstance(cp, Charger21) else v201.call
    request = getattr(module, action)(**camel_to_snake_case(payload))
    response = await cp.call(request, suppress=False)
    fields = {k: v for k, v in dataclasses.asdict(response).items() if v is not None}
    result: dict[str, Any] = snake_to_camel_case(fields)
    return result


def ts(minutes: float = 0) -> str:
    """A fixed test time plus ``minutes``, as chargers write it."""
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    return (base + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def boot_payload(reason: str = "PowerUp") -> dict[str, Any]:
    return {
        "chargingStation": {
            "model": "VM-2",
            "vendorName": "Voltmesh Labs",
            "serialNumber": "SN-1",
            "firmwareVersion": "2.0.0",
        },
        "reason": reason,
    }


def energy(wh: float, minutes: float, context: str = "Sample.Periodic") -> dict[str, Any]:
    """A MeterValueType with one energy register reading in Wh."""
    return {
        "timestamp": ts(minutes),
        "sampledValue": [
            {
                "value": wh,
                "measurand": "Energy.Active.Import.Register",
                "context": context,
                "unitOfMeasure": {"unit": "Wh"},
            }
        ],
    }


def transaction_event(
    event_type: str,
    seq_no: int,
    transaction_id: str,
    *,
    minutes: float,
    trigger: str,
    meter: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A TransactionEventRequest; ``fields`` go to the top level except ``transactionInfo``
    entries given as ``info``."""
    info = {"transactionId": transaction_id, **fields.pop("info", {})}
    payload: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": ts(minutes),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": info,
        **fields,
    }
    if meter:
        payload["meterValue"] = meter
    return payload
