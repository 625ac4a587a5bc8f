"""The cost fields of a TransactionEventResponse (2.0.1 I02, I03): ``totalCost`` and
``updatedPersonalMessage``; and the CostUpdated that follows it (2.0.1 I02).

- A transaction is bound to its tariff by the first event that tells who charges (see
  ``csms.tariffs.resolution``); until then its responses carry no cost.
- Every response of a transaction with a tariff carries the running cost in
  ``updatedPersonalMessage`` (the first one, and a resent Started, also the tariff's text for the
  driver).
- On 2.0.1 only the response to the Ended event carries ``totalCost`` (TransactionEventResponse:
  "SHALL only be sent when charging has ended"); 2.1 also gives the running cost there in the
  response to each Updated event (2.1 TransactionEventResponse.totalCost).
- While the transaction runs, CostUpdated with the running total follows the response at most
  every ``cost_update_minutes`` of its tariff, when the total changed since the last one; never for
  an event the station queued while offline (old news) nor for Ended (``totalCost`` is there).
- ``transaction.cost`` on the operators' stream whenever the running total changes, and once with
  ``ended: true`` when the transaction has ended, even if the end left the total unchanged (a billing
  consumer waits for that one). The final publication is recorded as the last cost message sent
  (``cost_sent_at``/``cost_sent_total``; no CostUpdated follows an end): a resent Ended, which
  changes nothing of the transaction, does not publish it again; late news of an ended transaction
  (its row changed after that) does.

A failure here is logged and answers without cost fields: the event is committed already, and a
charger must not resend a transaction's event because its price could not be shown.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from csms.session.transaction_event import EventType, TransactionEventReport
from csms.station.charge_point import ChargePointActor
from csms.tariffs.binding import bound, cost_of_transaction
from csms.tariffs.cost import Cost
from csms.tariffs.resolution import awaits_its_token
from persistence.reads import Reads
from persistence.tariffs import (
    Binding,
    binding_of,
    cost_progress_recorded,
    earliest_tariff,
    last_news_of,
)
from persistence.transactions import get_transaction
from transport.versions import OcppVersion

log = logging.getLogger(__name__)

MESSAGE_MAX = 512
"""MessageContentType.content, 2.0.1."""
MAX_CHARGING_STATES = 500
"""Charging state changes kept per transaction. A real session has a few dozen at most; a station
that flips its state endlessly would otherwise grow the stored list (rewritten at each event) without
bound. Changes beyond it are not kept: the last state kept lasts until the end."""


def personal_message(cost: Cost, *, ended: bool, text: str | None) -> dict[str, Any]:
    """The driver-facing MessageContentType of a response."""
    amount = f"{cost.total} {cost.currency}"
    content = f"Total cost: {amount}" if ended else f"Cost so far: {amount}"
    if text:
        content = f"{text} | {content}"
    if len(content) > MESSAGE_MAX:
        content = content[: MESSAGE_MAX - 1] + "…"
    return {"format": "UTF8", "content": content}


def charging_states_with(
    binding: Binding, report: TransactionEventReport
) -> tuple[tuple[int, datetime, str], ...]:
    """The binding's charging state changes with the one ``report`` tells, if it is a change."""
    states = binding.charging_states
    state = report.charging_state
    if state is None or len(states) >= MAX_CHARGING_STATES:
        return states
    if any(seq == report.seq_no for seq, _, _ in states):
        return states
    before = [s for s in states if s[1] <= report.timestamp]
    if before and max(before, key=lambda s: s[1])[2] == state:
        return states
    return tuple(sorted((*states, (report.seq_no, report.timestamp, state)), key=lambda s: s[1]))


def total_cost_due(event_type: EventType, *, ended: bool, version: OcppVersion) -> bool:
    """Whether the response carries ``totalCost``: the final total in the answer to Ended; on 2.1
    also the running total in the answer to Updated."""
    if event_type is EventType.ENDED:
        return ended
    return event_type is EventType.UPDATED and not ended and version is OcppVersion.V21


def cost_update_due(binding: Binding, cost: Cost, now: datetime) -> bool:
    """Whether a CostUpdated should follow (throttled per transaction)."""
    tariff = binding.tariff
    if tariff is None or tariff.cost_update_minutes is None:
        return False
    if cost.total == (binding.cost_sent_total or 0):
        return False
    return binding.cost_sent_at is None or now - binding.cost_sent_at >= timedelta(
        minutes=tariff.cost_update_minutes
    )


async def _final_stamp(
    reads: Reads, binding: Binding, clock: Callable[[], datetime]
) -> datetime | None:
    """When to record the final publication of this ended transaction as sent; None when it was
    published since the transaction's row last changed (see the module's docstring). Never before
    that change, so that a member whose clock is a little behind still sees it as published."""
    now = clock()
    last_news = (await last_news_of(reads, [binding.transaction_id])).get(binding.transaction_id)
    if last_news is None:
        return now
    if binding.cost_sent_at is not None and last_news <= binding.cost_sent_at:
        return None
    return max(now, last_news)


async def transaction_response_fields(
    cp: ChargePointActor, transaction_id: str, report: TransactionEventReport
) -> dict[str, Any]:
    """Fields to add to the response to ``report`` (already committed) of ``transaction_id``."""
    try:
        return await _fields(cp, transaction_id, report)
    except Exception:
        log.exception("cost of transaction %s not computed", transaction_id)
        return {}


async def _fields(
    cp: ChargePointActor, transaction_id: str, report: TransactionEventReport
) -> dict[str, Any]:
    services = cp.services
    binding = await binding_of(services.reads, transaction_id)
    first = binding is None
    if binding is None:
        earliest = await earliest_tariff(services.reads)
        if earliest is None:
            return {}  # no tariff at all: nothing to bind, nothing to tell
        tx = await get_transaction(services.reads, transaction_id)
        if tx is None or tx.created_at < earliest:
            return {}  # started before any tariff there is now existed: free, unbound
        if awaits_its_token(tx):
            return {}  # whose tariff it is comes with the token
        binding = await bound(services.reads, services.writer.submit, tx)
    else:
        tx = await get_transaction(services.reads, transaction_id)
        if tx is None:
            return {}
    if binding.tariff is None:
        return {}
    states = charging_states_with(binding, report)
    binding_now = dataclasses.replace(binding, charging_states=states)
    ended = tx.stop_time is not None
    # While it runs, the cost up to this event, by the station's clock like the start.
    until = max([report.timestamp, *(at for _, at, _ in states)])
    cost = cost_of_transaction(tx, binding_now, until)
    if cost is None:
        return {}
    fields: dict[str, Any] = {
        "updatedPersonalMessage": personal_message(
            cost,
            ended=ended,
            # The tariff's text once, with the first cost the driver sees.
            text=binding.tariff.text if first or report.event_type is EventType.STARTED else None,
        )
    }
    if total_cost_due(report.event_type, ended=ended, version=cp.version):
        fields["totalCost"] = float(cost.total)
    sent_at, sent_total = binding.cost_sent_at, binding.cost_sent_total
    now = services.clock()
    if not ended and not report.offline and cost_update_due(binding_now, cost, now):
        cp.send_after_reply(
            "CostUpdated",
            {"totalCost": float(cost.total), "transactionId": tx.station_transaction_id},
        )
        sent_at, sent_total = now, cost.total
    final_at = await _final_stamp(services.reads, binding, services.clock) if ended else None
    final_due = final_at is not None
    if final_at is not None:
        # The final total is what the answer to Ended carried: the last cost message sent.
        sent_at, sent_total = final_at, cost.total
    if (states, cost.total, sent_at, sent_total) != (
        binding.charging_states,
        binding.last_total,
        binding.cost_sent_at,
        binding.cost_sent_total,
    ):
        await services.writer.submit(
            cost_progress_recorded(
                transaction_id,
                charging_states=states,
                last_total=cost.total,
                cost_sent_at=sent_at,
                cost_sent_total=sent_total,
            )
        )
    # Published once what it says is committed: a failed write publishes nothing, and the next
    # event tells it (the final one included) instead of telling it twice.
    if cost.total != binding.last_total or final_due:
        services.events.publish(
            "transaction.cost",
            cp.station_id,
            {"transaction_id": transaction_id, "ended": ended, **cost.as_json()},
        )
    return fields
