"""What the two multi-part reports share: the monitoring report (GetMonitoringReport, then
NotifyMonitoringReport parts; 2.0.1 N02) and the display message report (GetDisplayMessages, then
NotifyDisplayMessages parts; O03, O04).

The answer to the request either opens a report whose parts follow under its ``requestId``, or
says the station holds nothing of what was asked (EmptyResultSet, Unknown); each part is kept as it
arrives and the last one replaces what the request covered (``persistence.monitoring``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from csms.handlers import live
from csms.payloads.fields import require_int32
from csms.station.charge_point import ChargePointActor
from persistence.events import station_event
from persistence.monitoring import (
    InScope,
    PartOutcome,
    ReportTarget,
    report_part,
    report_requested,
    rows_removed_in_scope,
)
from transport.messages import Call

log = logging.getLogger(__name__)


def report_criteria(request: Mapping[str, Any]) -> dict[str, Any]:
    """What a report request selects: its payload without requestId and customData."""
    return {k: v for k, v in request.items() if k not in ("requestId", "customData")}


async def request_answered(
    cp: ChargePointActor,
    target: ReportTarget,
    request: Mapping[str, Any],
    *,
    accepted: bool,
    holds_none: bool,
    in_scope: InScope,
) -> list[int]:
    """The station answered a report request: ``accepted``, its parts follow; ``holds_none``, it
    holds nothing the request selects, so none of the kept rows it covers is left. Returns the
    ids of the rows removed."""
    criteria = report_criteria(request)
    if accepted:
        await cp.services.writer.submit(
            report_requested(target, cp.station_id, request["requestId"], criteria)
        )
    elif holds_none:
        (removed,) = await cp.services.writer.submit(
            rows_removed_in_scope(target, cp.station_id, criteria, in_scope)
        )
        return list(removed)
    return []


async def part_kept(
    cp: ChargePointActor,
    call: Call,
    target: ReportTarget,
    rows: Sequence[Mapping[str, Any]],
    *,
    in_scope: InScope,
    keep_columns: tuple[str, ...] = ("source",),
) -> PartOutcome:
    """Keep one part of a report (``rows``: what it lists) and the part itself as a station
    event, and show it on the live stream as every stored notification."""
    p = call.payload
    request_id = p["requestId"]
    require_int32(call.action, {"requestId": request_id})
    last = not p.get("tbc", False)
    _event, outcome = await cp.services.writer.submit(
        station_event(cp.station_id, call.action, p),
        report_part(
            target,
            cp.station_id,
            request_id,
            rows,
            last=last,
            in_scope=in_scope,
            keep_columns=keep_columns,
        ),
    )
    assert isinstance(outcome, PartOutcome)
    if outcome.dropped:
        log.warning(
            "%s: %d rows of %s %d not kept (more than the store keeps per station)",
            cp.station_id,
            outcome.dropped,
            call.action,
            request_id,
        )
    live.notification(cp, call.action, p)
    if last:
        # The last part of a report we asked for: a station not accepted yet may send no more.
        cp.requested.discard(call.action)
    return outcome
