"""What follows once the CSMS closed transactions that their station left behind: their actors
retire and the operators see each one end."""

from __future__ import annotations

from collections.abc import Iterable

from csms.events import EventBus
from csms.session.directory import SessionDirectory
from persistence.transactions import ABANDONED_REASON, AbandonedTransaction


def transactions_abandoned(
    sessions: SessionDirectory,
    events: EventBus,
    station_id: str,
    abandoned: Iterable[AbandonedTransaction],
) -> None:
    """Call after the commit that closed them. ``transaction.ended`` carries ``abandoned``, so
    that a consumer that follows running transactions lets them go like any other end."""
    for transaction in abandoned:
        sessions.retire(transaction.transaction_id)
        events.publish(
            "transaction.ended",
            station_id,
            {
                "transaction_id": transaction.transaction_id,
                "evse_id": transaction.evse_id,
                "energy_wh": transaction.energy_wh,
                "reason": ABANDONED_REASON,
                "abandoned": True,
            },
        )
