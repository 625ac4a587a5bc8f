"""A log request of one station, to its final status: 2.0.1 N01 and the 1.6 security whitepaper's
GetLog / LogStatusNotification, or OCPP 1.6 section 5.9 GetDiagnostics /
DiagnosticsStatusNotification for a 1.6 station without the security extension. The station
uploads the file to an URL the CSMS made for the request (``http_api.log_uploads``)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from csms.events import EventBus
from csms.firmware import statuses as st
from csms.handlers import live
from csms.payloads.fields import require_int32
from csms.payloads.timestamps import ocpp_time
from csms.station.charge_point import ChargePointActor
from persistence import log_uploads as store
from persistence.events import station_event
from persistence.writer import WriteOp
from transport.messages import Call

Row = dict[str, Any]

UPLOAD_PREFIX = "/uploads"


def upload_token(row: Row) -> str:
    """The path segment that names the request and proves the URL was handed out by the CSMS:
    ``<id>-<secret>``."""
    return f"{row['id']}-{row['token']}"


def upload_url(origin: str, row: Row) -> str:
    station = quote(row["station_id"], safe="")
    return f"{origin.rstrip('/')}{UPLOAD_PREFIX}/{station}/{upload_token(row)}"


def named_request(station_id: str, url: object) -> tuple[int, str] | None:
    """(log request id, secret) of an upload URL the CSMS made for the station; None for any
    other location (an operator's raw GetLog pointing elsewhere)."""
    if not isinstance(url, str):
        return None
    segments = urlsplit(url).path.rstrip("/").split("/")
    if segments[-3:-1] != [UPLOAD_PREFIX.strip("/"), quote(station_id, safe="")]:
        return None
    log_id, _, secret = segments[-1].partition("-")
    if not (log_id.isascii() and log_id.isdigit() and len(log_id) <= 18 and secret):
        return None
    return int(log_id), secret


def get_log_payload(row: Row, url: str) -> dict[str, Any]:
    log: dict[str, Any] = {"remoteLocation": url}
    if row.get("oldest") is not None:
        log["oldestTimestamp"] = ocpp_time(row["oldest"])
    if row.get("latest") is not None:
        log["latestTimestamp"] = ocpp_time(row["latest"])
    payload: dict[str, Any] = {
        "logType": row["log_type"],
        "requestId": row["request_id"],
        "log": log,
    }
    return {**payload, **_retry(row)}


def get_diagnostics_payload(row: Row, url: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"location": url}
    if row.get("oldest") is not None:
        payload["startTime"] = ocpp_time(row["oldest"])
    if row.get("latest") is not None:
        payload["stopTime"] = ocpp_time(row["latest"])
    return {**payload, **_retry(row)}


def _retry(row: Row) -> dict[str, Any]:
    retry: dict[str, Any] = {}
    if row.get("retries") is not None:
        retry["retries"] = row["retries"]
    if row.get("retry_interval") is not None:
        retry["retryInterval"] = row["retry_interval"]
    return retry


def publish(events: EventBus, row: Row) -> None:
    """``log.upload`` on the operators' live stream."""
    data: dict[str, Any] = {"id": row["id"], "status": row["status"]}
    if row.get("file_size") is not None:
        data["file_size"] = row["file_size"]
    events.publish("log.upload", row["station_id"], data)


def answered(status: str, now: datetime, announced: str | None = None) -> store.Change:
    def change(row: Row) -> dict[str, Any] | None:
        if row["status"] != st.PENDING:
            return None
        values: dict[str, Any] = {"status": status, "last_status_at": now}
        if announced is not None:
            values["announced_name"] = announced
        return values

    return change


def failed_to_send(detail: str, now: datetime) -> store.Change:
    def change(row: Row) -> dict[str, Any] | None:
        if row["status"] != st.PENDING:
            return None
        return {"status": st.NOT_SENT, "detail": detail[:1000], "last_status_at": now}

    return change


def reported(status: str, now: datetime) -> store.Change:
    """A status notification about the request; a late or repeated one does not undo Uploaded."""

    def change(row: Row) -> dict[str, Any] | None:
        if row["status"] in st.LOG_SETTLED:
            return None
        return {"status": status, "last_status_at": now}

    return change


def timed_out(before: datetime, now: datetime) -> store.Change:
    def change(row: Row) -> dict[str, Any] | None:
        if row["status"] not in st.LOG_ACTIVE or row["last_status_at"] >= before:
            return None
        if row["stored_path"] is not None:
            # The file came; only the station's confirmation did not.
            return {
                "status": st.UPLOADED,
                "detail": "the file was received; the station did not report Uploaded",
                "last_status_at": now,
            }
        return {
            "status": st.TIMED_OUT,
            "detail": f"no news from the station while {row['status']}",
            "last_status_at": now,
        }

    return change


async def _stored(cp: ChargePointActor, call: Call) -> None:
    await cp.services.writer.submit(station_event(cp.station_id, call.action, call.payload))
    live.notification(cp, call.action, call.payload)


async def _report(
    cp: ChargePointActor, call: Call, action: str, request_id: int | None
) -> dict[str, Any]:
    await _stored(cp, call)
    status = str(call.payload["status"])
    if status in (st.IDLE, "AcceptedCanceled"):
        # Idle answers a TriggerMessage; AcceptedCanceled repeats the GetLog answer.
        return {}
    now = cp.services.clock()
    # With a requestId, its request whatever its status; without (1.6 GetDiagnostics), the
    # station's latest in progress.
    (changed,) = await cp.services.writer.submit(
        store.log_request_changed(
            change=reported(status, now),
            station_id=cp.station_id,
            request_id=request_id,
            active=st.LOG_ACTIVE if request_id is None else None,
            action=action,
        )
    )
    if changed is not None:
        publish(cp.services.events, changed)
    return {}


async def log_status(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """LogStatusNotification (2.0.1 N01, 1.6 security whitepaper). The schemas leave
    ``requestId`` unbounded; one past a 32-bit column is refused with the CALLERROR
    PropertyConstraintViolation before anything is kept (it would fail the statement on
    PostgreSQL, and with it the station's actor and the writer's whole batch)."""
    require_int32(call.action, {"requestId": call.payload.get("requestId")})
    return await _report(cp, call, "GetLog", call.payload.get("requestId"))


async def diagnostics_status(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """DiagnosticsStatusNotification (1.6 section 4.4): about the station's latest GetDiagnostics."""
    return await _report(cp, call, "GetDiagnostics", None)


def _answer_kept(
    cp: ChargePointActor,
    action: str,
    request: dict[str, Any],
    url: object,
    status: str,
    announced: str | None,
) -> WriteOp:
    """The answer applied to the request whose upload URL the call named (its id and secret are
    in it: requestIds alone are not enough, an operator's raw command picks its own, and a
    station may report on the request before it answers it); a call with any other location is
    kept as a request of its own."""
    named = named_request(cp.station_id, url)
    if named is None:
        return store.log_request_created(
            _raw_row(cp, action, request, status, announced), with_request_id=False
        )
    log_id, secret = named
    apply = answered(status, cp.services.clock(), announced)

    def change(row: Row) -> Mapping[str, Any] | None:
        if row["station_id"] != cp.station_id or not hmac.compare_digest(
            str(row["token"]).encode(), secret.encode()
        ):
            return None
        return apply(row)

    return store.log_request_changed(log_id=log_id, change=change)


async def get_log_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """GetLog answered: Accepted (AcceptedCanceled: an earlier upload was canceled for it) or
    Rejected, with the file name the station will use."""
    status = st.answered_status(response)
    url = (request.get("log") or {}).get("remoteLocation")
    (changed,) = await cp.services.writer.submit(
        _answer_kept(cp, action, request, url, status, response.get("filename"))
    )
    if changed is None:
        return
    publish(cp.services.events, changed)
    if response.get("status") == "AcceptedCanceled":
        (canceled,) = await cp.services.writer.submit(
            store.log_requests_canceled(cp.station_id, changed["id"], st.LOG_ACTIVE, st.CANCELED)
        )
        for row in canceled:
            publish(cp.services.events, row)


async def get_diagnostics_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """GetDiagnostics answered with the file name, or without one: no diagnostics available."""
    name = response.get("fileName")
    status = st.ACCEPTED if name else st.NO_LOGS
    (changed,) = await cp.services.writer.submit(
        _answer_kept(cp, action, request, request.get("location"), status, name)
    )
    if changed is not None:
        publish(cp.services.events, changed)


def _raw_row(
    cp: ChargePointActor,
    action: str,
    request: dict[str, Any],
    status: str,
    announced: str | None,
) -> Row:
    """A request the CSMS did not make through the resource (the raw command endpoint): kept, with
    a token nobody knows, since its upload goes wherever the operator pointed it."""
    return {
        "station_id": cp.station_id,
        "request_id": request.get("requestId"),
        "action": action,
        "log_type": str(request.get("logType") or "DiagnosticsLog"),
        "token": secrets.token_urlsafe(32),
        "status": status,
        "announced_name": announced,
    }
