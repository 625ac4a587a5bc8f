"""What the handlers of every OCPP version tell the operators' live event stream, in one shape
whatever the version: connector and station status, authorizations, and the notifications a
station sends (security events, firmware and log upload status, the rest by kind)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from csms.station.charge_point import ChargePointActor

_FIRMWARE = frozenset(
    {
        "FirmwareStatusNotification",
        "SignedFirmwareStatusNotification",
        "PublishFirmwareStatusNotification",
    }
)
# A 1.6 diagnostics upload is the log upload of the security extension and of 2.x.
_LOG = frozenset({"LogStatusNotification", "DiagnosticsStatusNotification"})


def status(
    cp: ChargePointActor,
    evse_id: int,
    connector_id: int,
    status: str,
    error_code: str | None,
) -> None:
    """A StatusNotification: of a connector, or of the station itself (EVSE 0, 1.6 connector 0)."""
    if evse_id == 0:
        cp.services.events.publish("status.station", cp.station_id, {"status": status})
        return
    cp.services.events.publish(
        "status.connector",
        cp.station_id,
        {
            "evse_id": evse_id,
            "connector_id": connector_id,
            "status": status,
            "error_code": error_code,
        },
    )


def authorization(cp: ChargePointActor, id_token: str, status: str) -> None:
    """The answer to an Authorize."""
    cp.services.events.publish(
        "authorization", cp.station_id, {"id_token": id_token, "status": status}
    )


def notification(cp: ChargePointActor, action: str, payload: Mapping[str, Any]) -> None:
    """A notification the station sent and the CSMS stored."""
    events, station = cp.services.events, cp.station_id
    if action == "SecurityEventNotification":
        data = {"type": payload.get("type")}
        if payload.get("techInfo") is not None:
            data["tech_info"] = payload["techInfo"]
        events.publish("security.event", station, data)
    elif action in _FIRMWARE:
        events.publish("firmware.status", station, {"status": payload.get("status")})
    elif action in _LOG:
        events.publish("log.status", station, {"status": payload.get("status")})
    else:
        # Only the kind: some payloads (NotifyEvent, reports) are long, and are stored anyway.
        events.publish("notification", station, {"kind": action})
