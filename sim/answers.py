"""How a simulated charger answers CALLs from the central system.

The simulator does not model remote control; it answers the commands a central system commonly
sends so that they neither time out nor disturb the measured traffic.
"""

from __future__ import annotations

from typing import Any

from sim.ocppj import Call

_CANNED: dict[str, dict[str, Any]] = {
    "ChangeAvailability": {"status": "Accepted"},
    "ChangeConfiguration": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "ClearChargingProfile": {"status": "Unknown"},
    "DataTransfer": {"status": "UnknownVendorId"},
    "GetLocalListVersion": {"listVersion": 0},
    "RemoteStartTransaction": {"status": "Rejected"},
    "RemoteStopTransaction": {"status": "Rejected"},
    "Reset": {"status": "Accepted"},
    "SetChargingProfile": {"status": "Accepted"},
    # OCPP 1.6 section 5.17: a charger may reject a trigger; sending the triggered message
    # would break the one-CALL-in-flight rule of the running script.
    "TriggerMessage": {"status": "Rejected"},
    "UnlockConnector": {"status": "NotSupported"},
}


def answer(call: Call) -> dict[str, Any] | None:
    """The CALLRESULT payload for `call`, or None when it must get a `NotImplemented` CALLERROR."""
    if call.action == "GetConfiguration":
        keys = call.payload.get("key", [])
        return {"configurationKey": [], "unknownKey": keys if isinstance(keys, list) else []}
    return _CANNED.get(call.action)
