"""``transaction.cost`` for 1.6 sessions: no 1.6 message carries a cost, and the core's 1.6 handlers
do not ask for one, so the tariffs loop prices the open 1.6 sessions each round and publishes the
totals that changed (and the final total of a session that ended since)."""

from __future__ import annotations

from datetime import datetime, timedelta

from csms.events import EventBus
from csms.tariffs.binding import cost_of_transaction
from persistence.reads import Reads
from persistence.tariffs import bindings_of, priced_sessions, total_published
from persistence.transactions import get_transaction
from persistence.writer import Writer

PROTOCOL = "ocpp1.6"
"""2.x sessions publish their cost as their TransactionEvents are answered."""
FINAL_WINDOW = timedelta(hours=1)
"""A session that ended this recently still gets its final total published."""
LONGEST_SESSION = timedelta(days=7)
"""Sessions that began longer ago are not looked at (their cost stays on the transaction view):
each round reads the sessions of this window, not the whole history."""
PAGE = 500


async def publish_running_costs(
    reads: Reads, writer: Writer, events: EventBus, now: datetime
) -> int:
    """Publish ``transaction.cost`` for each priced 1.6 session whose total changed since it was
    last published; returns how many were."""
    published = 0
    after: str | None = None
    while True:
        sessions = await priced_sessions(
            reads,
            protocol=PROTOCOL,
            created_since=now - LONGEST_SESSION,
            changed_since=now - FINAL_WINDOW,
            limit=PAGE,
            after=after,
        )
        bindings = await bindings_of(reads, [session.transaction_id for session in sessions])
        for session in sessions:
            tx = await get_transaction(reads, session.transaction_id)
            binding = bindings.get(session.transaction_id)
            if tx is None or binding is None:
                continue
            cost = cost_of_transaction(tx, binding, now)
            if cost is None:
                continue
            ended = tx.stop_time is not None
            # The final total is published once even when it equals the last running one: a
            # billing consumer waits for ``ended: true``.
            final_due = ended and binding.cost_sent_at is None
            if cost.total == session.last_total and not final_due:
                continue
            await writer.submit(
                total_published(tx.id, cost.total, final_at=now if final_due else None)
            )
            events.publish(
                "transaction.cost",
                tx.station_id,
                {"transaction_id": tx.id, "ended": ended, **cost.as_json()},
            )
            published += 1
        if len(sessions) < PAGE:
            return published
        after = sessions[-1].transaction_id
