"""How a simulated station says things in its OCPP version: the payloads of 1.6 and of 2.0.1/2.1.

The station actor decides what happens; a dialect only words it. 2.1 words it as 2.0.1 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.payloads.timestamps import ocpp_time

Payload = dict[str, Any]


@dataclass(slots=True)
class Session:
    """One EV at one EVSE, from plug-in to departure."""

    evse: int
    id_tag: str
    plugged_at: datetime
    meter_start_wh: float
    """The EVSE's register when the transaction started."""
    transaction_id: str | None = None
    """1.6: issued by the CSMS (None until StartTransaction is answered); 2.x: the station's own."""
    seq_no: int = 0
    """2.x: the next TransactionEvent's seqNo."""
    remote_start_id: int | None = None
    reservation_id: int | None = None
    """The reservation this session used (1.6 StartTransaction / 2.x TransactionEvent)."""
    charging: bool = True
    """False once the battery took what the driver wanted (the EV stays plugged in)."""
    held: bool = False
    """The EV wants energy but the charging profiles allow none (SuspendedEVSE)."""
    stop_reason: str | None = None
    meter_stop_wh: float | None = None
    """The EVSE's register when the transaction ended; None while it runs."""


def _energy(register_wh: float, when: datetime, context: str, power_w: float | None) -> Payload:
    sampled: list[Payload] = [
        {
            "value": round(register_wh, 1),
            "measurand": "Energy.Active.Import.Register",
            "context": context,
            "unitOfMeasure": {"unit": "Wh"},
        }
    ]
    if power_w is not None:
        sampled.append(
            {
                "value": round(power_w, 1),
                "measurand": "Power.Active.Import",
                "context": context,
                "unitOfMeasure": {"unit": "W"},
            }
        )
    return {"timestamp": ocpp_time(when), "sampledValue": sampled}


def _energy_16(register_wh: float, when: datetime, context: str, power_w: float | None) -> Payload:
    sampled: list[Payload] = [
        {
            "value": f"{register_wh:.1f}",
            "measurand": "Energy.Active.Import.Register",
            "context": context,
            "unit": "Wh",
        }
    ]
    if power_w is not None:
        sampled.append(
            {
                "value": f"{power_w:.1f}",
                "measurand": "Power.Active.Import",
                "context": context,
                "unit": "W",
            }
        )
    return {"timestamp": ocpp_time(when), "sampledValue": sampled}


class Dialect16:
    """OCPP 1.6J: connector N is EVSE N; transaction ids come from the CSMS."""

    version = "ocpp1.6"
    statuses = {
        "available": "Available",
        "occupied": "Preparing",
        "charging": "Charging",
        "suspended": "SuspendedEV",
        "suspended_evse": "SuspendedEVSE",
        "finishing": "Finishing",
        "unavailable": "Unavailable",
        "reserved": "Reserved",
    }

    def boot(
        self, vendor: str, model: str, serial: str, reason: str, firmware: str = "sim-1.0"
    ) -> tuple[str, Payload]:
        return "BootNotification", {
            "chargePointVendor": vendor,
            "chargePointModel": model,
            "chargePointSerialNumber": serial,
            "firmwareVersion": firmware,
        }

    def status(self, evse: int, state: str, when: datetime) -> tuple[str, Payload]:
        return "StatusNotification", {
            "connectorId": evse,
            "errorCode": "NoError",
            "status": self.statuses[state],
            "timestamp": ocpp_time(when),
        }

    def authorize(self, id_tag: str) -> tuple[str, Payload]:
        return "Authorize", {"idTag": id_tag}

    def authorized(self, response: Payload) -> str:
        return str(response.get("idTagInfo", {}).get("status", "Invalid"))

    def started(
        self, session: Session, when: datetime, trigger: str, offline: bool
    ) -> tuple[str, Payload]:
        payload: Payload = {
            "connectorId": session.evse,
            "idTag": session.id_tag,
            "meterStart": round(session.meter_start_wh),
            "timestamp": ocpp_time(when),
        }
        if session.reservation_id is not None:
            payload["reservationId"] = session.reservation_id
        return "StartTransaction", payload

    def meter(
        self, session: Session, register_wh: float, power_w: float, when: datetime, offline: bool
    ) -> tuple[str, Payload]:
        return "MeterValues", {
            "connectorId": session.evse,
            "transactionId": int(session.transaction_id or -1),
            "meterValue": [_energy_16(register_wh, when, "Sample.Periodic", power_w)],
        }

    def ended(
        self, session: Session, register_wh: float, when: datetime, offline: bool
    ) -> tuple[str, Payload]:
        reason = {"EVDeparted": "EVDisconnected", "Remote": "Remote", "Reboot": "Reboot"}.get(
            session.stop_reason or "", "Local"
        )
        return "StopTransaction", {
            "transactionId": int(session.transaction_id or -1),
            "meterStop": round(register_wh),
            "timestamp": ocpp_time(when),
            "reason": reason,
            "idTag": session.id_tag,
            "transactionData": [_energy_16(register_wh, when, "Transaction.End", None)],
        }

    def learn_transaction_id(self, session: Session, response: Payload) -> None:
        session.transaction_id = str(response["transactionId"])


class Dialect2:
    """OCPP 2.0.1 and 2.1: TransactionEvent with station-made ids and sequence numbers."""

    statuses = {
        "available": "Available",
        "occupied": "Occupied",
        "charging": "Occupied",
        "suspended": "Occupied",
        "suspended_evse": "Occupied",
        "finishing": "Occupied",
        "unavailable": "Unavailable",
        "reserved": "Reserved",
    }

    def __init__(self, version: str) -> None:
        self.version = version

    def boot(
        self, vendor: str, model: str, serial: str, reason: str, firmware: str = "sim-1.0"
    ) -> tuple[str, Payload]:
        return "BootNotification", {
            "chargingStation": {
                "vendorName": vendor,
                "model": model,
                "serialNumber": serial,
                "firmwareVersion": firmware,
            },
            "reason": reason,
        }

    def status(self, evse: int, state: str, when: datetime) -> tuple[str, Payload]:
        return "StatusNotification", {
            "timestamp": ocpp_time(when),
            "connectorStatus": self.statuses[state],
            "evseId": evse,
            "connectorId": 1,
        }

    def authorize(self, id_tag: str) -> tuple[str, Payload]:
        return "Authorize", {"idToken": {"idToken": id_tag, "type": "ISO14443"}}

    def authorized(self, response: Payload) -> str:
        return str(response.get("idTokenInfo", {}).get("status", "Unknown"))

    def _event(
        self,
        session: Session,
        event_type: str,
        when: datetime,
        trigger: str,
        offline: bool,
        info: Payload,
    ) -> Payload:
        payload: Payload = {
            "eventType": event_type,
            "timestamp": ocpp_time(when),
            "triggerReason": trigger,
            "seqNo": session.seq_no,
            "transactionInfo": {"transactionId": session.transaction_id, **info},
        }
        session.seq_no += 1
        if offline:
            payload["offline"] = True
        return payload

    def started(
        self, session: Session, when: datetime, trigger: str, offline: bool
    ) -> tuple[str, Payload]:
        info: Payload = {"chargingState": "Charging"}
        if session.remote_start_id is not None:
            info["remoteStartId"] = session.remote_start_id
        payload = self._event(session, "Started", when, trigger, offline, info)
        payload["idToken"] = {"idToken": session.id_tag, "type": "ISO14443"}
        payload["evse"] = {"id": session.evse, "connectorId": 1}
        payload["meterValue"] = [_energy(session.meter_start_wh, when, "Transaction.Begin", None)]
        if session.reservation_id is not None:
            payload["reservationId"] = session.reservation_id
        return "TransactionEvent", payload

    def meter(
        self, session: Session, register_wh: float, power_w: float, when: datetime, offline: bool
    ) -> tuple[str, Payload]:
        state = "Charging" if session.charging else "SuspendedEV"
        if session.charging and session.held:
            state = "SuspendedEVSE"
        payload = self._event(
            session, "Updated", when, "MeterValuePeriodic", offline, {"chargingState": state}
        )
        payload["meterValue"] = [_energy(register_wh, when, "Sample.Periodic", power_w)]
        return "TransactionEvent", payload

    def ended(
        self, session: Session, register_wh: float, when: datetime, offline: bool
    ) -> tuple[str, Payload]:
        trigger, reason = {
            "EVDeparted": ("EVDeparted", "EVDisconnected"),
            "Remote": ("RemoteStop", "Remote"),
            "Reboot": ("ResetCommand", "ImmediateReset"),
        }.get(session.stop_reason or "", ("StopAuthorized", "Local"))
        payload = self._event(
            session,
            "Ended",
            when,
            trigger,
            offline,
            {"stoppedReason": reason, "chargingState": "Idle"},
        )
        payload["meterValue"] = [_energy(register_wh, when, "Transaction.End", None)]
        return "TransactionEvent", payload

    def learn_transaction_id(self, session: Session, response: Payload) -> None:
        """2.x stations name their transactions themselves."""


Dialect = Dialect16 | Dialect2


def dialect_for(version: str) -> Dialect:
    return Dialect16() if version == "ocpp1.6" else Dialect2(version)
