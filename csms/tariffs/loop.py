"""The loop that binds 1.6 transactions to the tariff in force when they started, and publishes
their running cost (``csms.tariffs.running``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from csms.station.features import FeatureContext
from csms.tariffs.binding import bind_pending
from csms.tariffs.running import publish_running_costs

log = logging.getLogger(__name__)

BIND_INTERVAL = 30.0
"""Seconds between two rounds. A tariff edit binds what it could affect first, so this only keeps
the work of that edit small."""
SETTLE = timedelta(minutes=5)
"""How far a round looks back before the previous one began: a transaction's ``created_at`` is
taken before its commit, and the members' clocks differ a little."""


async def bind_loop(ctx: FeatureContext, *, interval: float = BIND_INTERVAL) -> None:
    """Run by the member that leads the cluster's single loops; a failed round is logged and
    retried at the next one. The first round looks at every transaction since the oldest tariff;
    later ones only at those recorded since the previous round (less ``SETTLE``), so a round's work
    follows the traffic, not the size of the history."""
    bound_before: datetime | None = None
    """Every started transaction recorded before it is bound."""
    while True:
        if ctx.leads():
            began = ctx.clock()
            try:
                bound = await bind_pending(ctx.reads, ctx.writer.submit, since=bound_before)
                published = await publish_running_costs(
                    ctx.reads, ctx.writer, ctx.events, ctx.clock()
                )
            except Exception:
                log.exception("binding or pricing 1.6 transactions failed")
            else:
                bound_before = began - SETTLE
                log.debug("%d transactions bound, %d costs published", bound, published)
        await asyncio.sleep(interval)
