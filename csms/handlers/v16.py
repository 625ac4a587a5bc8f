"""OCPP 1.6J handlers of charger-initiated requests (Core profile, plus the notifications of the
Firmware Management and Security extensions).

Transaction messages (StartTransaction, StopTransaction, MeterValues of a transaction) are answered only
after their data is committed: a charger forgets a message once it has an answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from datetime import datetime
from typing import Any

from csms.handlers import features, live
from csms.handlers.sign_certificate import sign_certificate
from csms.payloads.fields import payload_samples, payload_time
from csms.payloads.metering import energy_register_wh, sample_rows, samples_v16
from csms.payloads.timestamps import ocpp_time
from csms.session.abandoned import transactions_abandoned
from csms.session.actor import (
    DuplicateStart,
    ForeignTransaction,
    OpenedTransaction,
    OpenTransaction,
    RecordMeterValues,
    SessionState,
    StopSession,
)
from csms.station.authorization import Authorization, authorize
from csms.station.boot import boot
from csms.station.charge_point import ChargePointActor, Handler
from csms.tariffs.start import bind_at_start
from persistence.events import station_event
from persistence.records import IdTokenStatus, MeterSample, TransactionRecord, id_token_key
from persistence.transactions import (
    find_transaction_by_dedup,
    meter_samples_recorded,
    transaction_started,
)
from transport.messages import Call
from transport.versions import OcppVersion

log = logging.getLogger(__name__)

PROTOCOL = OcppVersion.V16.value
# Generous: a session's answer waits for a group commit, which waits for the database.
SESSION_ASK_TIMEOUT = 30.0


def connector_location(connector_id: int) -> tuple[int, int]:
    """(evse_id, connector_id) of a 1.6 connector: connector N is EVSE N with one connector, and
    connector 0 is the station itself."""
    return (connector_id, 0 if connector_id == 0 else 1)


def _digest(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=20).hexdigest()


async def _authorize(cp: ChargePointActor, id_tag: str) -> Authorization:
    record = await cp.services.tokens.get(id_tag)
    return authorize(record, cp.services.clock())


async def boot_notification(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    p = call.payload
    info = {
        "vendor": p["chargePointVendor"],
        "model": p["chargePointModel"],
        "serial_number": p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber"),
        "firmware_version": p.get("firmwareVersion"),
    }
    return await boot(cp, info, reason=None)


async def heartbeat(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    return {"currentTime": ocpp_time(cp.services.clock())}


async def status_notification(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    p = call.payload
    evse_id, connector_id = connector_location(p["connectorId"])
    cp.services.status.set_connector(
        cp.station_id,
        evse_id,
        connector_id,
        status=p["status"],
        error_code=p["errorCode"],
        info=p.get("info"),
        vendor_error_code=p.get("vendorErrorCode"),
        timestamp=payload_time(p, "timestamp") if "timestamp" in p else None,
    )
    live.status(cp, evse_id, connector_id, p["status"], p["errorCode"])
    return {}


async def authorize_request(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    auth = await _authorize(cp, call.payload["idTag"])
    live.authorization(cp, call.payload["idTag"], auth.status.value)
    return {"idTagInfo": auth.as_v16()}


async def start_transaction(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """OCPP 1.6 section 4.8: the token's status, ConcurrentTx when another open transaction
    holds it, decided in the commit that stores the start (never read-then-write). A refused start
    is stored closed (the charger stops it, or sends nothing more); the open transaction of the
    same connector, if any, is closed as abandoned."""
    p = call.payload
    ctx = cp.services
    connector = p["connectorId"]
    id_tag = id_token_key(p["idTag"])
    started = payload_time(p, "timestamp")
    # The same start resent (after a lost answer, or replayed from an offline queue) must get the same
    # transaction id: identified by what the charger measured, not by the message id.
    dedup_key = _digest(connector, id_tag, started.isoformat(), p["meterStart"])
    auth = await _authorize(cp, id_tag)
    existing = await find_transaction_by_dedup(ctx.reads, cp.station_id, dedup_key)
    if existing is not None:
        return _answer_again(existing, auth)
    evse_id, connector_id = connector_location(connector)
    transaction_id = str(await ctx.ids.next())
    meter_start = float(p["meterStart"])
    session = await ctx.sessions.start(
        SessionState(
            transaction_id,
            cp.station_id,
            meter_start,
            meter_start,
            stopped=False,
            persisted=False,
            protocol=PROTOCOL,
        )
    )
    try:
        opened = await session.ask(
            OpenTransaction(
                station_id=cp.station_id,
                evse_id=evse_id,
                connector_id=connector_id,
                id_token=id_tag,
                start_time=started,
                dedup_key=dedup_key,
                reservation_id=p.get("reservationId"),
                extra={},
                fence=cp.fence,
                authorization=auth.status,
            ),
            timeout=SESSION_ASK_TIMEOUT,
        )
    except DuplicateStart:
        existing = await find_transaction_by_dedup(ctx.reads, cp.station_id, dedup_key)
        if existing is None:
            raise
        return _answer_again(existing, auth)
    if isinstance(opened, OpenedTransaction):
        transactions_abandoned(ctx.sessions, ctx.events, cp.station_id, opened.abandoned)
        auth = dataclasses.replace(auth, status=opened.authorization)
    await bind_at_start(ctx, transaction_id)
    return {"transactionId": int(transaction_id), "idTagInfo": auth.as_v16()}


def _answer_again(existing: TransactionRecord, auth: Authorization) -> dict[str, Any]:
    """A resent start gets the answer it got the first time (ConcurrentTx stays ConcurrentTx)."""
    stored = (existing.extra or {}).get("authorization")
    if stored in {status.value for status in IdTokenStatus}:
        auth = dataclasses.replace(auth, status=IdTokenStatus(stored))
    return {"transactionId": int(existing.id), "idTagInfo": auth.as_v16()}


async def meter_values(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    p = call.payload
    ctx = cp.services
    evse_id, connector_id = connector_location(p["connectorId"])
    samples = payload_samples(samples_v16, p["meterValue"])
    transaction = p.get("transactionId")
    if transaction is not None:
        session = await ctx.sessions.get(str(transaction))
        if session is not None:
            try:
                await session.ask(
                    RecordMeterValues(
                        cp.station_id, samples, evse_id, connector_id, fence=cp.fence
                    ),
                    timeout=SESSION_ASK_TIMEOUT,
                )
                return {}
            except ForeignTransaction:
                pass
        # Nothing is lost: the message as sent, and its samples under the station and connector.
        log.warning("%s: MeterValues for unknown transaction %s", cp.station_id, transaction)
        await ctx.writer.submit(station_event(cp.station_id, "MeterValuesOfUnknownTransaction", p))
    rows = sample_rows(
        samples,
        station_id=cp.station_id,
        transaction_id=None,
        evse_id=evse_id,
        connector_id=connector_id,
    )
    if rows:
        await ctx.writer.submit(meter_samples_recorded(rows))
    return {}


async def stop_transaction(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    p = call.payload
    ctx = cp.services
    reported = p["transactionId"]
    stopped = payload_time(p, "timestamp")
    # OCPP 1.6 section 6.49: reason defaults to Local.
    reason = p.get("reason", "Local")
    id_tag = p.get("idTag")
    samples = payload_samples(samples_v16, p.get("transactionData") or [])
    response: dict[str, Any] = {}
    if id_tag is not None:
        response["idTagInfo"] = (await _authorize(cp, id_tag)).as_v16()
    session = await ctx.sessions.get(str(reported)) if reported >= 0 else None
    if session is not None:
        try:
            await session.ask(
                StopSession(
                    station_id=cp.station_id,
                    stop_time=stopped,
                    meter_stop_wh=float(p["meterStop"]),
                    reason=reason,
                    id_token=id_tag,
                    samples=samples,
                    fence=cp.fence,
                ),
                timeout=SESSION_ASK_TIMEOUT,
            )
            return response
        except ForeignTransaction:
            pass
    await _record_orphan_stop(cp, p, reported, stopped, reason, samples)
    return response


async def _record_orphan_stop(
    cp: ChargePointActor,
    p: dict[str, Any],
    reported: int,
    stopped: datetime,
    reason: str,
    samples: list[MeterSample],
) -> None:
    """A stop for -1 or an id this CSMS never issued (the start was lost, or issued elsewhere):
    recorded as a transaction of its own so that its energy is never dropped. Its id is derived from
    its content, so a resent stop lands once."""
    log.warning("%s: StopTransaction for unknown transaction %s", cp.station_id, reported)
    transaction_id = "orphan-" + _digest(
        cp.station_id, reported, stopped.isoformat(), p["meterStop"]
    )
    begin = [s for s in samples if s.context == "Transaction.Begin"]
    ops = [
        transaction_started(
            transaction_id=transaction_id,
            station_id=cp.station_id,
            evse_id=None,
            connector_id=None,
            id_token=p.get("idTag"),
            id_token_type=None,
            start_time=min((s.timestamp for s in begin), default=None),
            meter_start_wh=energy_register_wh(begin),
            protocol=PROTOCOL,
            dedup_key=None,
            extra={"reported_transaction_id": reported},
            stop_time=stopped,
            meter_stop_wh=float(p["meterStop"]),
            stop_reason=reason,
            stop_id_token=p.get("idTag"),
            ignore_duplicate=True,
        )
    ]
    rows = sample_rows(
        samples,
        station_id=cp.station_id,
        transaction_id=transaction_id,
        evse_id=None,
        connector_id=None,
    )
    if rows:
        ops.append(meter_samples_recorded(rows))
    await cp.services.writer.submit(*ops)


async def data_transfer(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    await cp.services.writer.submit(station_event(cp.station_id, call.action, call.payload))
    live.notification(cp, call.action, call.payload)
    # OCPP 1.6 section 4.3: a vendorId without an implementation here is answered UnknownVendorId;
    # the data itself is kept.
    return {"status": "UnknownVendorId"}


async def recorded_notification(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """Diagnostics, firmware, log and security notifications: stored, answered with an empty payload."""
    await cp.services.writer.submit(station_event(cp.station_id, call.action, call.payload))
    live.notification(cp, call.action, call.payload)
    return {}


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize_request,
    "StartTransaction": start_transaction,
    "MeterValues": meter_values,
    "StopTransaction": stop_transaction,
    "DataTransfer": data_transfer,
    "DiagnosticsStatusNotification": recorded_notification,
    "FirmwareStatusNotification": recorded_notification,
    "LogStatusNotification": recorded_notification,
    "SecurityEventNotification": recorded_notification,
    "SignedFirmwareStatusNotification": recorded_notification,
    "SignCertificate": sign_certificate,
    **features.V16,
}
