"""Display messages kept from the station's answers (OCPP 2.0.1 O01-O06), whoever sent the call.

- SetDisplayMessage (O01, O02 for a transaction): an Accepted message is kept under its id; the
  same id replaces it (O06).
- ClearDisplayMessage (O05): Accepted and Unknown both mean the station does not show it.
- GetDisplayMessages (O03 all, O04 specific ones): Accepted opens a report whose
  NotifyDisplayMessages parts follow; Unknown means the station has no message of what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from csms.monitoring.reports import part_kept, request_answered
from csms.monitoring.scope import display_message_in_scope
from csms.payloads.fields import require_int32
from csms.payloads.timestamps import parse_timestamp
from csms.station.charge_point import ChargePointActor
from persistence.display_messages import (
    DISPLAY,
    display_message_set,
    display_messages_removed,
)
from transport.messages import Call

DISPLAY_MESSAGE_CHANGED = "display_message.changed"
"""The live event of any change to a station's display messages."""

_GONE = frozenset({"Accepted", "Unknown"})


def _publish(cp: ChargePointActor, data: dict[str, Any]) -> None:
    cp.services.events.publish(DISPLAY_MESSAGE_CHANGED, cp.station_id, data)


def _time(raw: str | None) -> datetime | None:
    return parse_timestamp(raw) if raw is not None else None


def message_row(info: Mapping[str, Any]) -> dict[str, Any]:
    """The row of a MessageInfoType; a PayloadError for an id out of range."""
    require_int32("messageInfo", {"id": info["id"]})
    content = info["message"]
    return {
        "message_id": info["id"],
        "priority": info["priority"],
        "state": info.get("state"),
        "start_time": _time(info.get("startDateTime")),
        "end_time": _time(info.get("endDateTime")),
        "transaction_id": info.get("transactionId"),
        "format": content["format"],
        "language": content.get("language"),
        "content": content["content"],
        "message_extra": info.get("messageExtra"),
        "display": info.get("display"),
    }


async def set_display_message(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    if response["status"] != "Accepted":
        return
    row = {**message_row(request["message"]), "request_id": None}
    await cp.services.writer.submit(display_message_set(cp.station_id, row))
    _publish(cp, {"cause": action, "set": [row["message_id"]], "removed": []})


async def clear_display_message(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    # 2.1 adds Rejected: the station keeps showing it.
    if response["status"] not in _GONE:
        return
    ids = [request["id"]]
    await cp.services.writer.submit(display_messages_removed(cp.station_id, ids))
    _publish(cp, {"cause": action, "set": [], "removed": ids})


async def get_display_messages(
    cp: ChargePointActor, action: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    # Unknown: the station has no message that matches (2.0.1 O03, O04).
    status = response["status"]
    removed = await request_answered(
        cp,
        DISPLAY,
        request,
        accepted=status == "Accepted",
        holds_none=status == "Unknown",
        in_scope=display_message_in_scope,
    )
    if removed:
        _publish(cp, {"cause": action, "set": [], "removed": removed})


async def notify_display_messages(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    """A part of a display message report (2.0.1 O03, O04): kept as it arrives; the last one replaces
    what the report covers."""
    p = call.payload
    rows = [message_row(info) for info in p.get("messageInfo") or []]
    outcome = await part_kept(cp, call, DISPLAY, rows, in_scope=display_message_in_scope)
    _publish(
        cp,
        {
            "cause": call.action,
            "request_id": p["requestId"],
            "status": outcome.status,
            "set": outcome.kept,
            "removed": outcome.removed,
        },
    )
    return {}
