"""Sending one attempt of a firmware update, from the operator's request or from the retry loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from csms.events import EventBus
from csms.firmware import statuses as st
from csms.firmware import updates
from csms.firmware.settings import FirmwareSettings
from gateway.calls import CommandResult
from persistence import firmware as store
from persistence.writer import WriteOp
from transport.versions import OcppVersion

Apply = Callable[[WriteOp], Awaitable[Any]]
"""Runs a write op and returns its result (the writer's submit, or a transaction of the API's)."""
Send = Callable[[str, str, dict[str, Any]], Awaitable[CommandResult]]
"""(station, action, payload) -> the station's answer; raises when there is none."""
Describe = Callable[[Exception], updates.Failure]
"""What an exception ``Send`` raised means for the update."""


class NotConnected(Exception):
    """The station has no connection in the cluster now."""


class Withdrawn(LookupError):
    """The update is gone, or was canceled (its campaign) after the loop picked it."""


async def send_attempt(
    apply: Apply,
    send: Send,
    version: OcppVersion | None,
    row: dict[str, Any],
    *,
    events: EventBus,
    settings: FirmwareSettings,
    now: datetime,
    describe: Describe = updates.command_failure,
) -> int:
    """Send the update (again) and record what came of it; returns its id.

    Whatever keeps the station from answering (not connected, no answer, a CALLERROR) leaves the
    update NotSent, with a retry scheduled if it has resends left, and is raised again."""
    action = updates.action_for(row, version) if version is not None else "UpdateFirmware"
    started = await apply(
        store.attempt_started(row["id"], action, st.PENDING, unless={st.CANCELED})
    )
    if started is None:
        raise Withdrawn(f"firmware update {row['id']} is gone or canceled")
    try:
        if version is None:
            raise NotConnected(f"station {row['station_id']!r} is not connected")
        result = await send(
            row["station_id"], action, updates.request_payload(started, version, now)
        )
    except Exception as exc:
        change = updates.failed_to_send(describe(exc), now, settings.default_retry_interval)
        failed = await apply(store.update_changed(started["id"], change))
        if failed is not None:
            updates.publish(events, failed)
        raise
    # The station's actor has applied the answer already (its observer); this covers an answer
    # it could not keep.
    status = st.answered_status(result.payload)
    changed = await apply(store.update_changed(started["id"], updates.answered(status, now)))
    if changed is not None:
        updates.publish(events, changed)
        superseded = updates.superseded_by(changed, result.payload, version, now)
        if superseded is not None:
            for canceled in await apply(superseded):
                updates.publish(events, canceled)
    return int(started["id"])
