"""OCPP 2.0.1 and 2.1 handlers of charger-initiated requests, one table for both versions.

TransactionEvent is answered only after its commit (a charger forgets an event once it has an answer);
the notifications that the CSMS cannot act on yet are validated, stored as station events and answered
with what the specification prescribes for a CSMS that takes note.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from csms.handlers import features, live
from csms.handlers.sign_certificate import sign_certificate
from csms.local_lists.carried import token_types
from csms.payloads.device_model import event_rows, report_rows
from csms.payloads.fields import payload_samples, payload_time
from csms.payloads.metering import sample_rows, samples_v2
from csms.payloads.timestamps import ocpp_time
from csms.session.abandoned import transactions_abandoned
from csms.session.actor import EventOutcome, SessionState
from csms.session.transaction_event import report_from_payload
from csms.station.authorization import Authorization, authorize
from csms.station.boot import boot
from csms.station.charge_point import ChargePointActor, Handler
from csms.tariffs.answer import transaction_response_fields
from persistence.device_model import device_values_changed, device_variables_reported
from persistence.events import station_event
from persistence.records import IdTokenStatus, id_token_key, v2_transaction_key
from persistence.transactions import meter_samples_recorded
from transport.messages import Call

log = logging.getLogger(__name__)

# Generous: a session's answer waits for a group commit, which waits for the database.
SESSION_ASK_TIMEOUT = 30.0
# IdTokenEnumType: the station decided on its own; there is nothing to look up.
NO_AUTHORIZATION = "NoAuthorization"


async def _authorize(cp: ChargePointActor, id_token: dict[str, Any]) -> Authorization:
    if id_token.get("type") == NO_AUTHORIZATION:
        return Authorization(IdTokenStatus.ACCEPTED)
    tokens = cp.services.tokens
    auth = authorize(await tokens.get(id_token["idToken"]), cp.services.clock())
    if auth.parent_id_token is not None:
        group = await tokens.get(auth.parent_id_token)
        # A type the station's version lacks (stored before types were checked) would make the
        # answer invalid: such a group goes as an identifier the CSMS assigned.
        if group is not None and group.type in token_types(cp.version):
            auth = dataclasses.replace(auth, group_type=group.type)
    return auth


async def boot_notification(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    p = call.payload
    station = p["chargingStation"]
    info = {
        "vendor": station["vendorName"],
        "model": station["model"],
        "serial_number": station.get("serialNumber"),
        "firmware_version": station.get("firmwareVersion"),
    }
    return await boot(cp, info, reason=p["reason"])


async def heartbeat(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    return {"currentTime": ocpp_time(cp.services.clock())}


async def status_notification(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    p = call.payload
    # 2.x reports faults through NotifyEvent; a connector status carries no error code.
    cp.services.status.set_connector(
        cp.station_id,
        p["evseId"],
        p["connectorId"],
        status=p["connectorStatus"],
        error_code=None,
        info=None,
        vendor_error_code=None,
        timestamp=payload_time(p, "timestamp"),
    )
    live.status(cp, p["evseId"], p["connectorId"], p["connectorStatus"], None)
    return {}


async def authorize_request(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    token = call.payload["idToken"]
    info = (await _authorize(cp, token)).as_v2()
    live.authorization(cp, token["idToken"], info["status"])
    return {"idTokenInfo": info}


async def transaction_event(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    p = call.payload
    ctx = cp.services
    token = p.get("idToken")
    report = report_from_payload(
        cp.station_id,
        p,
        timestamp=payload_time(p, "timestamp"),
        samples=payload_samples(samples_v2, p.get("meterValue") or []),
        id_token=id_token_key(token["idToken"]) if token and token["idToken"] else None,
        fence=cp.fence,
    )
    key = v2_transaction_key(cp.station_id, p["transactionInfo"]["transactionId"])
    response: dict[str, Any] = {}
    auth: Authorization | None = None
    if token is not None:
        auth = (await _authorize(cp, token)).at_evse(report.evse_id)
        # 2.0.1 E05: ConcurrentTx when another open transaction holds the token, decided in the
        # commit of this event (never read-then-write). A NoAuthorization token holds nothing.
        report = dataclasses.replace(
            report,
            take_token=auth.status is IdTokenStatus.ACCEPTED
            and report.id_token is not None
            and token.get("type") != NO_AUTHORIZATION,
        )
    session = await ctx.sessions.get_or_start(
        SessionState(
            key,
            cp.station_id,
            None,
            None,
            stopped=False,
            persisted=False,
            protocol=cp.version.value,
        )
    )
    # Keys carry the station's id, so a ForeignTransaction here is our bug: it is never applied,
    # and the charger gets an InternalError and resends.
    outcome = await session.ask(report, timeout=SESSION_ASK_TIMEOUT)
    if isinstance(outcome, EventOutcome):
        transactions_abandoned(ctx.sessions, ctx.events, cp.station_id, outcome.abandoned)
        if auth is not None and outcome.token_held is False:
            auth = dataclasses.replace(auth, status=IdTokenStatus.CONCURRENT_TX)
    if auth is not None:
        response["idTokenInfo"] = auth.as_v2()
    response.update(await transaction_response_fields(cp, key, report))
    return response


async def meter_values(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """2.x MeterValues are measured outside transactions (those come in TransactionEvent)."""
    p = call.payload
    rows = sample_rows(
        payload_samples(samples_v2, p["meterValue"]),
        station_id=cp.station_id,
        transaction_id=None,
        # EVSE 0 is the main power meter of the station.
        evse_id=p["evseId"],
        connector_id=None,
    )
    if rows:
        await cp.services.writer.submit(meter_samples_recorded(rows))
    return {}


async def notify_report(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    p = call.payload
    ops = [station_event(cp.station_id, call.action, _summary(p, "reportData"))]
    rows = report_rows(cp.station_id, p.get("reportData") or [])
    if rows:
        ops.extend(device_variables_reported(rows))
    await cp.services.writer.submit(*ops)
    live.notification(cp, call.action, p)
    if not p.get("tbc", False):
        # The last part of a report that a GetBaseReport/GetReport asked for.
        cp.requested.discard(call.action)
    return {}


async def notify_event(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    p = call.payload
    ops = [station_event(cp.station_id, call.action, p)]
    rows = event_rows(cp.station_id, p["eventData"])
    if rows:
        ops.extend(device_values_changed(rows))
    await cp.services.writer.submit(*ops)
    live.notification(cp, call.action, p)
    return {}


def _summary(payload: dict[str, Any], bulky: str) -> dict[str, Any]:
    """The payload without its bulky list (stored elsewhere), with the list's length."""
    summary = {k: v for k, v in payload.items() if k != bulky}
    summary[f"{bulky}Count"] = len(payload.get(bulky) or [])
    return summary


def recorded(response: dict[str, Any]) -> Handler:
    """A handler that stores the request as a station event and answers ``response``."""

    async def handle(cp: ChargePointActor, call: Call) -> dict[str, Any]:
        await cp.services.writer.submit(station_event(cp.station_id, call.action, call.payload))
        live.notification(cp, call.action, call.payload)
        return dict(response)

    return handle


def _data_transfer(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    return {"status": "UnknownVendorId"}


def _stored(answer: Callable[[ChargePointActor, Call], dict[str, Any]]) -> Handler:
    async def handle(cp: ChargePointActor, call: Call) -> dict[str, Any]:
        await cp.services.writer.submit(station_event(cp.station_id, call.action, call.payload))
        live.notification(cp, call.action, call.payload)
        return answer(cp, call)

    return handle


_ACKNOWLEDGED = recorded({})
# Without a contract certificate service or an OCSP responder, requests for EV certificates and
# certificate status are answered as failed; without a smart-charging planner, charging needs get no schedule.
HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize_request,
    "TransactionEvent": transaction_event,
    "MeterValues": meter_values,
    "NotifyReport": notify_report,
    "NotifyEvent": notify_event,
    "DataTransfer": _stored(_data_transfer),
    "NotifyMonitoringReport": _ACKNOWLEDGED,
    "SecurityEventNotification": _ACKNOWLEDGED,
    "FirmwareStatusNotification": _ACKNOWLEDGED,
    "PublishFirmwareStatusNotification": _ACKNOWLEDGED,
    "LogStatusNotification": _ACKNOWLEDGED,
    "NotifyChargingLimit": _ACKNOWLEDGED,
    "ClearedChargingLimit": _ACKNOWLEDGED,
    "ReportChargingProfiles": _ACKNOWLEDGED,
    "ReservationStatusUpdate": _ACKNOWLEDGED,
    "NotifyDisplayMessages": _ACKNOWLEDGED,
    "NotifyCustomerInformation": _ACKNOWLEDGED,
    "NotifyEVChargingNeeds": recorded({"status": "Rejected"}),
    "NotifyEVChargingSchedule": recorded({"status": "Accepted"}),
    "SignCertificate": sign_certificate,
    "Get15118EVCertificate": recorded({"status": "Failed", "exiResponse": ""}),
    "GetCertificateStatus": recorded({"status": "Failed"}),
    **features.V2,
}


def _vat_number_validation(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    # No VAT registry is connected: the number cannot be confirmed.
    return {"vatNumber": call.payload["vatNumber"], "status": "Rejected"}


def _certificate_chain_status(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    # No OCSP responder or CRL is consulted here: every status is Failed, valid for a minute.
    next_update = ocpp_time(cp.services.clock() + timedelta(minutes=1))
    return {
        "certificateStatus": [
            {
                "certificateHashData": request["certificateHashData"],
                "source": request["source"],
                "status": "Failed",
                "nextUpdate": next_update,
            }
            for request in call.payload["certificateStatusRequests"]
        ]
    }


# OCPP 2.1 Part 2: the 2.0.1 table plus the new charger-initiated messages.
HANDLERS_V21: dict[str, Handler] = {
    **HANDLERS,
    "BatterySwap": _ACKNOWLEDGED,
    "ClosePeriodicEventStream": _ACKNOWLEDGED,
    "NotifyDERAlarm": _ACKNOWLEDGED,
    "NotifyDERStartStop": _ACKNOWLEDGED,
    "NotifyPriorityCharging": _ACKNOWLEDGED,
    "NotifySettlement": _ACKNOWLEDGED,
    "ReportDERControl": _ACKNOWLEDGED,
    "OpenPeriodicEventStream": recorded({"status": "Accepted"}),
    # No dynamic schedule is planned here yet.
    "PullDynamicScheduleUpdate": recorded({"status": "Rejected"}),
    "VatNumberValidation": _stored(_vat_number_validation),
    "GetCertificateChainStatus": _stored(_certificate_chain_status),
    **features.V21,
}
