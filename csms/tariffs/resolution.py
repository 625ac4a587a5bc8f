"""Which tariff a transaction gets, and binding it to the transaction for good.

A transaction gets the tariff of its id token's group (the token's parent id tag), else of its
station, else of one of the station's sites, else the default tariff; among several at one level,
the one whose validity began last, then the one assigned last. Only a tariff in force when voltmesh
recorded the transaction's start counts: valid then, created and assigned by then. (The station's
own clock is not trusted for this: a charger that has not synchronised its clock yet would buy at
last year's prices.) A transaction whose start voltmesh refused (1.6 section 4.8: its token was
Invalid, Blocked, Expired or ConcurrentTx) gets no tariff: the charger stops it or delivers nothing,
and the driver must not pay a session fee for a refusal.

The tariff found is copied into the transaction's binding, so later edits of the tariff do not
change the price of a session that has started. A 2.x transaction is bound by its first
TransactionEvent that tells who charges (its id token, or a NoAuthorization type); a 1.6 one when
its start is answered (``csms.tariffs.start``). The tariffs loop binds whatever these missed, and an
edit of tariffs or assignments binds the transactions it could affect before changing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from persistence import id_tokens
from persistence.reads import Reads
from persistence.records import IdTokenStatus, TransactionRecord, id_token_key
from persistence.sites import sites_of_station
from persistence.tariffs import PRECEDENCE, Candidate, Scope, Tariff, candidates_for


@dataclass(frozen=True, slots=True)
class Resolved:
    """The tariff a transaction gets (None: none applies) and the assignment that chose it."""

    tariff: Tariff | None
    scope: Scope | None


NO_TARIFF = Resolved(None, None)


def in_force(candidate: Candidate, at: datetime) -> bool:
    """Whether the candidate's tariff applied at ``at``."""
    tariff = candidate.tariff
    if tariff.created_at is not None and tariff.created_at > at:
        return False
    if candidate.assignment.assigned_at > at:
        return False
    if tariff.valid_from is not None and at < tariff.valid_from:
        return False
    return tariff.valid_to is None or at < tariff.valid_to


def choose(candidates: Sequence[Candidate], at: datetime) -> Resolved:
    """The tariff that applies at ``at`` of those assigned where the transaction ran."""
    for scope in PRECEDENCE:
        found = [c for c in candidates if c.assignment.scope is scope and in_force(c, at)]
        if found:
            best = max(
                found,
                key=lambda c: (
                    c.tariff.valid_from or datetime.min.replace(tzinfo=at.tzinfo),
                    c.assignment.assigned_at,
                    c.tariff.id,
                ),
            )
            return Resolved(best.tariff, scope)
    return NO_TARIFF


def awaits_its_token(tx: TransactionRecord) -> bool:
    """Whether the transaction runs with no id token yet: a 2.x session that began before its driver
    identified (2.0.1 E02, cable plugin first; the token comes in a later TransactionEvent). Its
    token's group may decide its tariff, so it is bound once the token is known (or a
    NoAuthorization type is, or it ends)."""
    return tx.stop_time is None and tx.id_token is None and tx.id_token_type is None


def refused_at_start(tx: TransactionRecord) -> bool:
    """Whether the answer to the transaction's start refused its token (the status the start was
    answered with is kept in ``extra``)."""
    status = (tx.extra or {}).get("authorization")
    return status is not None and status != IdTokenStatus.ACCEPTED.value


async def resolve(reads: Reads, tx: TransactionRecord) -> Resolved:
    """The tariff of ``tx``, from the assignments stored now."""
    if refused_at_start(tx):
        return NO_TARIFF
    group = None
    if tx.id_token is not None:
        token = await id_tokens.get_id_token(reads, tx.id_token)
        if token is not None and token.parent_id_token is not None:
            group = id_token_key(token.parent_id_token)
    sites = await sites_of_station(reads, tx.station_id)
    candidates = await candidates_for(reads, station_id=tx.station_id, sites=sites, group=group)
    return choose(candidates, tx.created_at)
