"""Binding a 1.6 transaction to its tariff as its start is answered.

1.6 StartTransaction (section 4.8) carries no cost, but the tariff a session keeps is the one in
force when it started, and its id token's group is read when it is bound. Binding in the handler,
after the start's commit, leaves no window in which an edit of a token's group (or an edit racing
the tariffs loop) could change the price of a session that has begun. The tariffs loop still binds
any start this missed.
"""

from __future__ import annotations

import logging

from csms.station.services import StationServices
from csms.tariffs.binding import bound
from persistence.tariffs import earliest_tariff
from persistence.transactions import get_transaction

log = logging.getLogger(__name__)


async def bind_at_start(services: StationServices, transaction_id: str) -> None:
    """Bind the transaction just started to its tariff. Never raises: the start is committed
    already, and a charger must not be refused a session because its price could not be bound
    now (the tariffs loop binds it later)."""
    try:
        if await earliest_tariff(services.reads) is None:
            return  # no tariff at all: nothing could apply
        tx = await get_transaction(services.reads, transaction_id)
        if tx is not None and tx.start_time is not None:
            await bound(services.reads, services.writer.submit, tx)
    except Exception:
        log.exception("transaction %s not bound to its tariff at its start", transaction_id)
