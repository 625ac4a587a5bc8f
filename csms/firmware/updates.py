"""A firmware update of one station: the call that asks for it in the station's OCPP version, and
what the station's answer and notifications make of it.

- OCPP 1.6 section 5.19/6.53 UpdateFirmware (no requestId, an empty answer; its
  FirmwareStatusNotification names no request, so it is about the station's latest update);
- the 1.6 security whitepaper's SignedUpdateFirmware / SignedFirmwareStatusNotification (with a
  requestId), used when the update carries a signature and signing certificate;
- 2.0.1 L01/L02 UpdateFirmware with requestId and the optional signature, FirmwareStatusNotification.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from csms.events import EventBus
from csms.firmware import statuses as st
from csms.payloads.timestamps import ocpp_time
from gateway.calls import CommandRejected
from persistence import firmware as store
from persistence.writer import WriteOp
from transport.versions import OcppVersion

log = logging.getLogger(__name__)

Row = dict[str, Any]


def is_signed(row: Mapping[str, Any]) -> bool:
    return bool(row.get("signature")) and bool(row.get("signing_certificate"))


def action_for(row: Mapping[str, Any], version: OcppVersion) -> str:
    """1.6 signs through the security extension's own message; 2.x has one UpdateFirmware."""
    if version is OcppVersion.V16 and is_signed(row):
        return "SignedUpdateFirmware"
    return "UpdateFirmware"


def request_payload(row: Mapping[str, Any], version: OcppVersion, now: datetime) -> dict[str, Any]:
    """The UpdateFirmware / SignedUpdateFirmware request of the update's current attempt."""
    retrieve = ocpp_time(row["retrieve_at"] or now)
    retry: dict[str, Any] = {}
    if row.get("retries") is not None:
        retry["retries"] = row["retries"]
    if row.get("retry_interval") is not None:
        retry["retryInterval"] = row["retry_interval"]
    if version is OcppVersion.V16 and not is_signed(row):
        # 1.6 section 6.53: retrieveDate is required; an install time has no field.
        return {"location": row["location"], "retrieveDate": retrieve, **retry}
    firmware: dict[str, Any] = {"location": row["location"], "retrieveDateTime": retrieve}
    if row.get("install_at") is not None:
        firmware["installDateTime"] = ocpp_time(row["install_at"])
    if is_signed(row):
        firmware["signingCertificate"] = row["signing_certificate"]
        firmware["signature"] = row["signature"]
    return {"requestId": row["request_id"], "firmware": firmware, **retry}


def publish(events: EventBus, row: Mapping[str, Any]) -> None:
    """``firmware.update`` on the operators' live stream."""
    events.publish(
        "firmware.update",
        row["station_id"],
        {
            "id": row["id"],
            "status": row["status"],
            "campaign_id": row.get("campaign_id"),
            "attempts": row.get("attempts"),
        },
    )


def answered(status: str, now: datetime) -> store.Change:
    """The station's answer to the current attempt: applied once, to an attempt still Pending
    (the observer in the station's actor and the sender both apply it; the first wins)."""

    def change(row: Row) -> dict[str, Any] | None:
        if row["status"] != st.PENDING:
            return None
        return {"status": status, "last_status_at": now, "next_attempt_at": None}

    return change


UNSUPPORTED = frozenset({"NotImplemented", "NotSupported"})
"""CALLERROR codes of a station that does not know or support the action at all (OCPP-J error
codes): sending it again changes nothing."""


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an attempt got no answer; ``final``: sending it again would change nothing."""

    detail: str
    final: bool = False


def command_failure(exc: Exception) -> Failure:
    """What a call's failure (CommandError, or the station not connected) means for the update."""
    if isinstance(exc, CommandRejected):
        return Failure(
            f"the station answered with a CALLERROR: {exc.code}", exc.code in UNSUPPORTED
        )
    return Failure(str(exc) or type(exc).__name__)


def failed_to_send(failure: Failure, now: datetime, default_interval: timedelta) -> store.Change:
    """The attempt never reached the station, or it answered with a CALLERROR; sent again
    within its resends unless that would change nothing."""

    def change(row: Row) -> dict[str, Any] | None:
        if row["status"] != st.PENDING:
            return None
        policy = st.RetryPolicy.of(row, default_interval)
        return {
            "status": st.NOT_SENT,
            "detail": failure.detail[:1000],
            "last_status_at": now,
            "next_attempt_at": None if failure.final else policy.next_attempt(row["attempts"], now),
        }

    return change


def reported(status: str, now: datetime, default_interval: timedelta) -> store.Change:
    """A FirmwareStatusNotification about the update; a failure schedules its retry."""

    def change(row: Row) -> dict[str, Any] | None:
        if row["status"] in st.FIRMWARE_SETTLED:
            # A notification repeated or delivered late (a station sends again what it queued
            # while offline) does not take an installed update back to Downloading.
            return None
        values: dict[str, Any] = {"status": status, "last_status_at": now, "next_attempt_at": None}
        if status in st.FIRMWARE_RETRYABLE:
            policy = st.RetryPolicy.of(row, default_interval)
            values["next_attempt_at"] = policy.next_attempt(row["attempts"], now)
        return values

    return change


def expected_news_since(row: Mapping[str, Any]) -> datetime:
    """Since when the station owes news of the update: its last news, or the time it was told to
    download or install at when that is later: an update scheduled for the night is silent until
    then (1.6 UpdateFirmware retrieveDate, 2.0.1 FirmwareType retrieveDateTime/installDateTime)."""
    times: list[datetime | None] = [
        row["last_status_at"],
        row.get("retrieve_at"),
        row.get("install_at"),
    ]
    return max(t for t in times if t is not None)


def timed_out(before: datetime, now: datetime, default_interval: timedelta) -> store.Change:
    """No news since ``before`` (re-checked inside the transaction: news may have just come)."""

    def change(row: Row) -> dict[str, Any] | None:
        if row["status"] not in st.FIRMWARE_ACTIVE or expected_news_since(row) >= before:
            return None
        policy = st.RetryPolicy.of(row, default_interval)
        return {
            "status": st.TIMED_OUT,
            "detail": f"no news from the station while {row['status']}",
            "last_status_at": now,
            "next_attempt_at": policy.next_attempt(row["attempts"], now),
        }

    return change


SUPERSEDED_DETAIL = "replaced by firmware update {id}"


def superseded_by(
    row: Mapping[str, Any],
    response: Mapping[str, Any],
    version: OcppVersion | None,
    now: datetime,
) -> WriteOp | None:
    """The station's other updates in progress that the accepted ``row`` ends, as ``Canceled``:

    - AcceptedCanceled (2.0.1 L01, 1.6 security whitepaper SignedUpdateFirmware): the station
      canceled the update it was busy with for this one;
    - an accepted 1.6 UpdateFirmware (section 5.19: an empty answer, the station says nothing of
      an update in progress): a 1.6 station runs one update at a time and the newer request
      replaces the older, whose FirmwareStatusNotifications stop (they name no request, so they
      are about the newer one from now on). Without this the older would stay in progress until
      it timed out.

    A Pending update (being sent now) is left alone: its own answer decides."""
    canceled = response.get("status") == "AcceptedCanceled"
    replaced = (
        version is OcppVersion.V16
        and row.get("action") == "UpdateFirmware"
        and row.get("status") != st.PENDING
        and st.answered_status(response) == st.ACCEPTED
    )
    if not (canceled or replaced):
        return None
    return store.updates_superseded(
        row["station_id"],
        row["id"],
        st.FIRMWARE_ACTIVE - {st.PENDING},
        st.CANCELED,
        detail=SUPERSEDED_DETAIL.format(id=row["id"]),
        now=now,
    )
