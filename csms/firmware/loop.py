"""The cluster's single loop for firmware and logs (run by the leading member only): starts the
campaigns whose time has come, at most ``concurrency`` updates of each in progress at a time;
sends again the updates that failed and have resends left; and marks TimedOut what has had no
news for too long (a station that went silent mid-update, or was replaced before it reported)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from csms.firmware import logs, sender, settings, updates
from csms.firmware import statuses as st
from csms.firmware.settings import FirmwareSettings
from csms.station.features import FeatureContext
from gateway.calls import CommandError, CommandResult
from persistence import firmware as store
from persistence import log_uploads
from persistence.writer import WriteOp

log = logging.getLogger(__name__)

SCHEDULED = "Scheduled"
RUNNING = "Running"
FINISHED = "Finished"

_WAITING = st.FIRMWARE_RETRYABLE | {st.QUEUED}
"""A campaign member waiting for an attempt (when it has one to come: its next_attempt_at)."""


async def firmware_loop(ctx: FeatureContext) -> None:
    while True:
        conf = settings.SETTINGS
        await asyncio.sleep(conf.tick)
        if not ctx.leads():
            continue
        try:
            await one_round(ctx, conf)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A lost database must not end the loop: the next round tries again.
            log.exception("firmware and log round failed")


async def one_round(ctx: FeatureContext, conf: FirmwareSettings) -> None:
    now = ctx.clock()
    await _time_out(ctx, conf, now)
    await _run_campaigns(ctx, conf, now)
    due = await store.due_updates(ctx.reads, st.FIRMWARE_RETRYABLE, now)
    await _send_all(ctx, conf, [row for row in due if row["campaign_id"] is None], now)


async def _time_out(ctx: FeatureContext, conf: FirmwareSettings, now: datetime) -> None:
    before = now - conf.stale_after
    for row in await store.silent_updates(ctx.reads, st.FIRMWARE_ACTIVE, before):
        change = updates.timed_out(before, now, conf.default_retry_interval)
        (changed,) = await ctx.writer.submit(store.update_changed(row["id"], change))
        if changed is not None:
            updates.publish(ctx.events, changed)
    for row in await log_uploads.silent_log_requests(ctx.reads, st.LOG_ACTIVE, before):
        (changed,) = await ctx.writer.submit(
            log_uploads.log_request_changed(log_id=row["id"], change=logs.timed_out(before, now))
        )
        if changed is not None:
            logs.publish(ctx.events, changed)


async def _run_campaigns(ctx: FeatureContext, conf: FirmwareSettings, now: datetime) -> None:
    for campaign in await store.campaigns_in(ctx.reads, {SCHEDULED, RUNNING}, now):
        if campaign["status"] == SCHEDULED:
            await _start_campaign(ctx, campaign, now)
        in_progress = await store.campaign_count(ctx.reads, campaign["id"], st.FIRMWARE_ACTIVE)
        waiting = await store.campaign_count(ctx.reads, campaign["id"], _WAITING, waiting=True)
        if not in_progress and not waiting:
            await ctx.writer.submit(store.campaign_changed(campaign["id"], {"status": FINISHED}))
            ctx.events.publish(
                "firmware.campaign", None, {"id": campaign["id"], "status": FINISHED}
            )
            continue
        slots = max(0, campaign["concurrency"] - in_progress)
        due = await store.campaign_due(ctx.reads, campaign["id"], _WAITING, now, slots)
        await _send_all(ctx, conf, due, now)


async def _start_campaign(ctx: FeatureContext, campaign: dict[str, Any], now: datetime) -> None:
    wanted = campaign["stations"]
    if wanted is None:
        wanted = await store.stations_matching(ctx.reads, campaign["filter"] or {})
    members = [
        {
            "station_id": station_id,
            "campaign_id": campaign["id"],
            "location": campaign["location"],
            "retrieve_at": None,
            "install_at": campaign["install_at"],
            "retries": campaign["retries"],
            "retry_interval": campaign["retry_interval"],
            "resends": campaign["resends"],
            "resend_interval": campaign["resend_interval"],
            "signature": campaign["signature"],
            "signing_certificate": campaign["signing_certificate"],
            "status": st.QUEUED,
            "next_attempt_at": now,
        }
        for station_id in wanted
    ]
    (started,) = await ctx.writer.submit(store.campaign_started(campaign["id"], members))
    if started:
        ctx.events.publish(
            "firmware.campaign",
            None,
            {"id": campaign["id"], "status": RUNNING, "stations": len(members)},
        )


async def _send_all(
    ctx: FeatureContext, conf: FirmwareSettings, rows: list[dict[str, Any]], now: datetime
) -> None:
    async def send(station_id: str, action: str, payload: dict[str, Any]) -> CommandResult:
        return await ctx.router.call(station_id, action, payload, timeout=conf.call_timeout)

    async def apply(op: WriteOp) -> Any:
        (result,) = await ctx.writer.submit(op)
        return result

    async def one(row: dict[str, Any]) -> None:
        try:
            version = await ctx.router.version_of(row["station_id"])
            await sender.send_attempt(
                apply, send, version, row, events=ctx.events, settings=conf, now=now
            )
        except (CommandError, sender.NotConnected, sender.Withdrawn) as exc:
            log.info("firmware update %s of %s not sent: %s", row["id"], row["station_id"], exc)

    # Each send on its own: one that fails unexpectedly (a lost database) must neither stop the
    # others nor leave them running unwatched after the round.
    results = await asyncio.gather(*(one(row) for row in rows), return_exceptions=True)
    for row, result in zip(rows, results, strict=True):
        if isinstance(result, asyncio.CancelledError):
            raise result
        if isinstance(result, BaseException):
            log.error(
                "firmware update %s of %s failed", row["id"], row["station_id"], exc_info=result
            )
