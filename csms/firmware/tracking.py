"""What the charge point actors learn of firmware: the stations' status notifications and their
answers to UpdateFirmware, SignedUpdateFirmware, PublishFirmware and UnpublishFirmware, whatever
path the call took (the firmware resource, a campaign, or the raw command endpoint)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.events import EventBus
from csms.firmware import settings, updates
from csms.firmware import statuses as st
from csms.handlers import live
from csms.payloads.fields import require_int32
from csms.payloads.timestamps import parse_timestamp
from csms.station.charge_point import ChargePointActor
from persistence import firmware as store
from persistence.events import station_event
from transport.messages import Call


async def _stored(cp: ChargePointActor, call: Call) -> None:
    """Kept as a station event and told to the live stream, as the core does for notifications."""
    await cp.services.writer.submit(station_event(cp.station_id, call.action, call.payload))
    live.notification(cp, call.action, call.payload)


async def firmware_status(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """FirmwareStatusNotification (1.6 section 4.5, 2.0.1 L01), SignedFirmwareStatusNotification
    (1.6 security whitepaper): the update of its requestId moves on; without one (1.6, or 2.0.1
    Idle), the station's latest update in progress. A requestId past int32 is refused
    (PropertyConstraintViolation) before anything is kept: it names no update voltmesh sent."""
    require_int32(call.action, {"requestId": call.payload.get("requestId")})
    await _stored(cp, call)
    status = str(call.payload["status"])
    if status == st.IDLE:
        # Answers a TriggerMessage when nothing is going on (2.0.1 L01.FR.25): no update's news.
        return {}
    request_id = call.payload.get("requestId")
    now = cp.services.clock()
    change = updates.reported(status, now, settings.SETTINGS.default_retry_interval)
    # With a requestId, its update whatever its status (news after TimedOut revives it); without,
    # the one in progress.
    active = None if request_id is not None else st.FIRMWARE_ACTIVE
    (changed,) = await cp.services.writer.submit(
        store.station_update_changed(cp.station_id, request_id, active, change)
    )
    if changed is not None:
        updates.publish(cp.services.events, changed)
    return {}


async def update_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """UpdateFirmware / SignedUpdateFirmware answered: the attempt the CSMS sent is Accepted (or
    what the station said); a call the CSMS did not make through the resource becomes an update
    of its own.

    The attempt is found by its requestId and location (a 1.6 UpdateFirmware names no request:
    the pending one of that location). Not by status: a station may report Downloading before
    it answers. Not by requestId alone: an operator's raw command picks its own, which may be
    one an earlier update had."""
    now = cp.services.clock()
    status = st.answered_status(response)
    firmware = request.get("firmware") or {}
    location = str(firmware.get("location") or request.get("location") or "")
    request_id = request.get("requestId")

    retrieve = firmware.get("retrieveDateTime") or request.get("retrieveDate")
    new_row = {
        "station_id": cp.station_id,
        "campaign_id": None,
        "request_id": request_id,
        "action": action,
        "location": location,
        "retrieve_at": _time(retrieve),
        "install_at": _time(firmware.get("installDateTime")),
        "retries": request.get("retries"),
        "retry_interval": request.get("retryInterval"),
        "resends": None,
        "resend_interval": None,
        "signature": firmware.get("signature"),
        "signing_certificate": firmware.get("signingCertificate"),
        "status": status,
        "attempts": 1,
        "next_attempt_at": None,
        "detail": None,
    }
    active = {st.PENDING} if request_id is None else None
    (changed,) = await cp.services.writer.submit(
        store.station_update_changed(
            cp.station_id,
            request_id,
            active,
            updates.answered(status, now),
            new_row,
            location=location,
        )
    )
    if changed is None:
        return
    updates.publish(cp.services.events, changed)
    superseded = updates.superseded_by(changed, response, cp.version, now)
    if superseded is not None:
        (canceled,) = await cp.services.writer.submit(superseded)
        for row in canceled:
            updates.publish(cp.services.events, row)


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return parse_timestamp(raw)
    except ValueError:
        return None


# -- publication by a local controller (2.0.1 L03/L04) ----------------------------------------

PUBLICATION_FINAL = frozenset(
    {"Rejected", "PublishFailed", "InvalidChecksum", "DownloadFailed", "Unpublished", st.NOT_SENT}
)


def publication_answered(status: str, now: datetime) -> store.Change:
    """The station's answer to PublishFirmware: applied once, to a publication still Pending
    (the observer in the station's actor and the API both apply it; the first wins)."""

    def change(row: dict[str, Any]) -> dict[str, Any] | None:
        if row["status"] != st.PENDING:
            return None
        return {"status": status, "last_status_at": now}

    return change


def publication_not_sent(detail: str, now: datetime) -> store.Change:
    """The PublishFirmware never reached the station, or it answered with a CALLERROR."""

    def change(row: dict[str, Any]) -> dict[str, Any] | None:
        if row["status"] != st.PENDING:
            return None
        return {"status": st.NOT_SENT, "detail": detail[:1000], "last_status_at": now}

    return change


def publish_publication(events: EventBus, row: dict[str, Any]) -> None:
    """``firmware.publication`` on the operators' live stream."""
    events.publish(
        "firmware.publication",
        row["station_id"],
        {"id": row["id"], "status": row["status"], "locations": row.get("published_at")},
    )


async def publication_status(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """PublishFirmwareStatusNotification: the publication of its requestId moves on; Published
    comes with the URIs the local controller serves the firmware at. A requestId past int32 is
    refused (PropertyConstraintViolation) before anything is kept."""
    require_int32(call.action, {"requestId": call.payload.get("requestId")})
    await _stored(cp, call)
    status = str(call.payload["status"])
    if status == st.IDLE:
        return {}
    now = cp.services.clock()
    locations = call.payload.get("location")

    def change(row: dict[str, Any]) -> dict[str, Any] | None:
        if row["status"] == "Unpublished":
            return None
        values: dict[str, Any] = {"status": status, "last_status_at": now}
        if locations:
            values["published_at"] = list(locations)
        return values

    (changed,) = await cp.services.writer.submit(
        store.publication_changed(
            cp.station_id,
            request_id=call.payload.get("requestId"),
            publication_id=None,
            change=change,
        )
    )
    if changed is not None:
        publish_publication(cp.services.events, changed)
    return {}


async def publish_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """PublishFirmware answered Accepted or Rejected."""
    status = str(response.get("status"))
    new_row = {
        "station_id": cp.station_id,
        "request_id": request["requestId"],
        "location": request["location"],
        "checksum": request["checksum"],
        "status": status,
    }
    (changed,) = await cp.services.writer.submit(
        store.publication_changed(
            cp.station_id,
            request_id=request["requestId"],
            publication_id=None,
            change=publication_answered(status, cp.services.clock()),
            otherwise=new_row,
        )
    )
    if changed is not None:
        publish_publication(cp.services.events, changed)


async def unpublish_answered(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """UnpublishFirmware answered Unpublished: the station's publications of that checksum end
    (DownloadOngoing and NoFirmware change nothing kept)."""
    if response.get("status") != "Unpublished":
        return
    now = cp.services.clock()
    (unpublished,) = await cp.services.writer.submit(
        store.publications_unpublished(cp.station_id, str(request["checksum"]), now)
    )
    for row in unpublished:
        publish_publication(cp.services.events, row)
