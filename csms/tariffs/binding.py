"""Binding transactions to their tariff (see ``csms.tariffs.resolution``), and the cost of a bound
transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from csms.tariffs.cost import Cost, Usage, cost_of
from csms.tariffs.resolution import awaits_its_token, resolve
from persistence.reads import Reads
from persistence.records import TransactionRecord
from persistence.sqltypes import utcnow
from persistence.tariffs import (
    Binding,
    binding_of,
    bindings_of,
    earliest_tariff,
    last_news_of,
    transaction_bound,
    unbound_transactions,
)
from persistence.transactions import get_transaction
from persistence.writer import WriteOp

Apply = Callable[[WriteOp], Awaitable[Any]]
"""Runs one write and returns after its commit (the group-commit writer, or the API's engine)."""

BIND_BATCH = 200
"""Transactions bound per read of the unbound ones."""


async def bound(reads: Reads, apply: Apply, tx: TransactionRecord) -> Binding:
    """The binding of ``tx``, made now from the assignments stored if it has none yet."""
    found = await binding_of(reads, tx.id)
    if found is not None:
        return found
    resolved = await resolve(reads, tx)
    now = utcnow()
    await apply(transaction_bound(tx.id, resolved.tariff, resolved.scope, now))
    # Another member may have bound it first: the first binding stands.
    found = await binding_of(reads, tx.id)
    return found or Binding(tx.id, resolved.tariff, resolved.scope, now)


async def bind_pending(reads: Reads, apply: Apply, *, since: datetime | None = None) -> int:
    """Bind every started transaction that a tariff could apply to and that has no binding yet
    (recorded at or after ``since``, when the caller knows every earlier one is bound); returns how
    many were bound. Run before tariffs or assignments change, so that the change reaches no
    transaction that started before it."""
    earliest = await earliest_tariff(reads)
    if earliest is None:
        return 0  # no tariff applies to anything: unbound transactions resolve to none anyway
    since = earliest if since is None else max(since, earliest)
    count = 0
    while True:
        ids = await unbound_transactions(reads, since=since, limit=BIND_BATCH)
        for transaction_id in ids:
            tx = await get_transaction(reads, transaction_id)
            if tx is not None:
                await bound(reads, apply, tx)
                count += 1
        if len(ids) < BIND_BATCH:
            return count


def usage_of(tx: TransactionRecord, binding: Binding, now: datetime) -> Usage:
    """What ``tx`` used, up to its end or ``now`` while it runs."""
    extra = tx.extra or {}
    spent = extra.get("time_spent_charging")
    return Usage(
        start=tx.start_time,
        end=tx.stop_time if tx.stop_time is not None else now,
        energy_wh=tx.energy_wh,
        charging_states=[(at, state) for _, at, state in binding.charging_states],
        time_spent_charging=spent if isinstance(spent, int) else None,
    )


def cost_of_transaction(tx: TransactionRecord, binding: Binding, now: datetime) -> Cost | None:
    """The cost of ``tx`` under its tariff (None: it has none)."""
    if binding.tariff is None:
        return None
    return cost_of(binding.tariff, usage_of(tx, binding, now))


async def costs_of(
    reads: Reads, txs: Sequence[TransactionRecord], now: datetime
) -> dict[str, Cost | None]:
    """The cost of each of ``txs`` (a page of a listing), read only: one not bound yet is priced
    by the tariff it will be bound to (nothing has changed since it started, or the change would
    have bound it first). An open one is priced up to ``now``, one flagged stale up to its last
    news."""
    bindings = await bindings_of(reads, [tx.id for tx in txs])
    news = await last_news_of(reads, [tx.id for tx in txs if tx.stale and tx.stop_time is None])
    earliest = None
    if len(bindings) < len(txs):
        earliest = await earliest_tariff(reads)
    costs: dict[str, Cost | None] = {}
    for tx in txs:
        binding = bindings.get(tx.id)
        if binding is None:
            if (
                tx.start_time is None
                or earliest is None
                or tx.created_at < earliest
                or awaits_its_token(tx)
            ):
                costs[tx.id] = None
                continue
            resolved = await resolve(reads, tx)
            binding = Binding(tx.id, resolved.tariff, resolved.scope, now)
        until = news.get(tx.id, now)
        costs[tx.id] = cost_of_transaction(tx, binding, until) if tx.start_time else None
    return costs
