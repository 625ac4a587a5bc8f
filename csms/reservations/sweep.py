"""The reservations that end without a message: those whose expiry passed (a 1.6 station drops
them silently, 1.6 section 5.13), those a transaction used (its StartTransaction or
TransactionEvent carried the reservation id), and those of a 1.6 connector that became Faulted or
Unavailable (``csms.reservations.connector_status``). One member sweeps them for the cluster."""

from __future__ import annotations

import asyncio
import logging

from csms.reservations.connector_status import StatusChanges, end_reservations_of
from csms.station.features import FeatureContext
from persistence.reservations import ReservationStatus, due_reservations, reservation_ended

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 1.0
"""Seconds between sweeps: how late ``reservation.expired``, ``reservation.used`` and a 1.6
``reservation.removed`` may come (readers see Expired and Used at once: they are derived when
read)."""


async def sweep_once(ctx: FeatureContext) -> int:
    """End what is due; returns how many reservations ended."""
    ended = 0
    for reservation in await due_reservations(ctx.reads, ctx.clock()):
        if reservation.transaction_id is not None:
            status, kind = ReservationStatus.USED, "reservation.used"
        else:
            status, kind = ReservationStatus.EXPIRED, "reservation.expired"
        (count,) = await ctx.writer.submit(
            reservation_ended(
                reservation.station_id,
                reservation.reservation_id,
                status,
                transaction_id=reservation.transaction_id,
                accepted_at=reservation.created_at,
            )
        )
        if count:
            ended += 1
            data: dict[str, object] = {"reservation_id": reservation.reservation_id}
            if reservation.transaction_id is not None:
                data["transaction_id"] = reservation.transaction_id
            ctx.events.publish(kind, reservation.station_id, data)
    return ended


async def sweep_reservations(ctx: FeatureContext) -> None:
    """Runs while the member does; sweeps only while it leads the cluster's single loops."""
    statuses = StatusChanges(ctx.events)
    async with asyncio.TaskGroup() as group:
        group.create_task(statuses.follow(), name="reservations:statuses")
        while True:
            changes = statuses.take()
            if ctx.leads():
                try:
                    for change in changes:
                        await end_reservations_of(ctx, change)
                    await sweep_once(ctx)
                except Exception:
                    # A store that fails now may not later: the next round tries again.
                    log.exception("reservation sweep failed")
            await asyncio.sleep(SWEEP_INTERVAL)
