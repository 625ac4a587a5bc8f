"""Tariffs and their assignment to stations, sites and id-token groups (OCPP 2.0.1 I, "Tariff and
cost"), and the tariff each transaction keeps.

Three tables:

- ``tariffs``: prices (net, as exact decimal strings in ``prices``), currency, tax rate, validity,
  the text shown to drivers and how often a running session is told its cost (CostUpdated).
- ``tariff_assignments``: where a tariff applies: a station, a site, an id-token group (the parent
  id tag of the tokens) or everywhere (``default``); ``assigned_at`` keeps an assignment made during
  a session from reaching back to it.
- ``transaction_tariffs``: the tariff a transaction was bound to at its start, as a copy of the
  tariff then (a tariff edited or deleted later does not change the price of a session that has
  started), or no tariff; and what the cost messages of a 2.x session have sent so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    RowMapping,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from persistence.connections import WriteConnection
from persistence.database import dialect_insert
from persistence.models import TRANSACTION_ID, metadata, transactions
from persistence.pages import Page, decode_cursor, page_of
from persistence.reads import Reads
from persistence.sqltypes import UtcDateTime, utcnow
from persistence.writer import Custom, Insert, Update, WriteOp

tariffs = Table(
    "tariffs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text(), nullable=False),
    # ISO 4217 alphabetic code.
    Column("currency", String(3), nullable=False),
    # Net prices and the tax rate as decimal strings (exact on every database): energy (per kWh),
    # charging_time and connected_time (per hour), session_fee, idle (per minute), idle_grace_minutes,
    # tax_rate (percent).
    Column("prices", JSON(), nullable=False),
    # Shown to drivers (2.0.1 TransactionEventResponse.updatedPersonalMessage).
    Column("text", Text(), nullable=True),
    # Minutes between two CostUpdated of one session; None: none sent.
    Column("cost_update_minutes", Integer(), nullable=True),
    Column("valid_from", UtcDateTime(), nullable=True),
    Column("valid_to", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

tariff_assignments = Table(
    "tariff_assignments",
    metadata,
    # id_token_group, station, site or default.
    Column("scope", String(16), nullable=False),
    # The group's id tag, the station or site id; "" for the default.
    Column("target", String(255), nullable=False),
    Column("tariff_id", String(64), nullable=False),
    Column("assigned_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("scope", "target", "tariff_id"),
    Index("ix_tariff_assignments_tariff_id", "tariff_id"),
)

transaction_tariffs = Table(
    "transaction_tariffs",
    metadata,
    Column("transaction_id", TRANSACTION_ID, primary_key=True),
    # None: no tariff applied when the transaction started (it stays free of cost).
    Column("tariff_id", String(64), nullable=True),
    # The tariff as it was at the start (``tariff_snapshot``); None with no tariff.
    Column("tariff", JSON(), nullable=True),
    # The assignment that chose it: id_token_group, station, site or default.
    Column("resolved_by", String(16), nullable=True),
    Column("bound_at", UtcDateTime(), nullable=False),
    # 2.x chargingState changes, [[seq_no, timestamp (ISO 8601), state], ...].
    Column("charging_states", JSON(), nullable=True),
    # The running total last published on the operators' stream.
    Column("last_total", String(32), nullable=True),
    # The last CostUpdated sent to the station (2.0.1 I02): when, and its total.
    Column("cost_sent_at", UtcDateTime(), nullable=True),
    Column("cost_sent_total", String(32), nullable=True),
)


class Scope(StrEnum):
    """Where an assignment applies, in order of precedence (the first that matches wins)."""

    ID_TOKEN_GROUP = "id_token_group"
    STATION = "station"
    SITE = "site"
    DEFAULT = "default"


PRECEDENCE = (Scope.ID_TOKEN_GROUP, Scope.STATION, Scope.SITE, Scope.DEFAULT)


@dataclass(frozen=True, slots=True)
class Prices:
    """Net prices of a tariff; None: that part costs nothing."""

    energy: Decimal | None = None
    """Per kWh delivered."""
    charging_time: Decimal | None = None
    """Per hour while charging."""
    connected_time: Decimal | None = None
    """Per hour while connected (the whole transaction)."""
    session_fee: Decimal | None = None
    """Once per transaction, at its start."""
    idle: Decimal | None = None
    """Per minute connected but not charging after the charging, beyond the grace period."""
    idle_grace_minutes: int = 0
    """Idle minutes free of charge in each idle stretch."""
    tax_rate: Decimal = Decimal(0)
    """Percent added to the net price."""


_PRICE_FIELDS = ("energy", "charging_time", "connected_time", "session_fee", "idle")


def prices_json(prices: Prices) -> dict[str, Any]:
    """Prices as stored and shown: decimal strings, or null."""
    out: dict[str, Any] = {
        name: None if getattr(prices, name) is None else str(getattr(prices, name))
        for name in _PRICE_FIELDS
    }
    out["idle_grace_minutes"] = prices.idle_grace_minutes
    out["tax_rate"] = str(prices.tax_rate)
    return out


def prices_of(value: Mapping[str, Any]) -> Prices:
    def dec(name: str) -> Decimal | None:
        raw = value.get(name)
        return None if raw is None else Decimal(str(raw))

    return Prices(
        energy=dec("energy"),
        charging_time=dec("charging_time"),
        connected_time=dec("connected_time"),
        session_fee=dec("session_fee"),
        idle=dec("idle"),
        idle_grace_minutes=int(value.get("idle_grace_minutes") or 0),
        tax_rate=Decimal(str(value.get("tax_rate") or 0)),
    )


@dataclass(frozen=True, slots=True)
class Tariff:
    """A tariff: what a session costs and where it applies."""

    id: str
    name: str
    currency: str
    """ISO 4217 alphabetic code."""
    prices: Prices
    text: str | None = None
    """Shown to drivers."""
    cost_update_minutes: int | None = None
    """Minutes between two CostUpdated of one 2.x session; None: none sent."""
    valid_from: datetime | None = None
    """Applies to transactions that start at or after it (None: always did)."""
    valid_to: datetime | None = None
    """Applies to transactions that start before it (None: no end)."""
    created_at: datetime | None = None
    updated_at: datetime | None = None


def tariff_snapshot(tariff: Tariff) -> dict[str, Any]:
    """A tariff as a JSON object (what a transaction keeps of it)."""
    return {
        "id": tariff.id,
        "name": tariff.name,
        "currency": tariff.currency,
        "prices": prices_json(tariff.prices),
        "text": tariff.text,
        "cost_update_minutes": tariff.cost_update_minutes,
        "valid_from": None if tariff.valid_from is None else tariff.valid_from.isoformat(),
        "valid_to": None if tariff.valid_to is None else tariff.valid_to.isoformat(),
    }


def tariff_of_snapshot(value: Mapping[str, Any]) -> Tariff:
    def when(name: str) -> datetime | None:
        raw = value.get(name)
        return None if raw is None else datetime.fromisoformat(raw)

    return Tariff(
        id=value["id"],
        name=value["name"],
        currency=value["currency"],
        prices=prices_of(value["prices"]),
        text=value.get("text"),
        cost_update_minutes=value.get("cost_update_minutes"),
        valid_from=when("valid_from"),
        valid_to=when("valid_to"),
    )


def _tariff(row: RowMapping) -> Tariff:
    return Tariff(
        id=row["id"],
        name=row["name"],
        currency=row["currency"],
        prices=prices_of(row["prices"]),
        text=row["text"],
        cost_update_minutes=row["cost_update_minutes"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _tariff_values(tariff: Tariff) -> dict[str, Any]:
    return {
        "name": tariff.name,
        "currency": tariff.currency,
        "prices": prices_json(tariff.prices),
        "text": tariff.text,
        "cost_update_minutes": tariff.cost_update_minutes,
        "valid_from": tariff.valid_from,
        "valid_to": tariff.valid_to,
    }


# --- tariffs ------------------------------------------------------------------------------------


async def get_tariff(db: Reads, tariff_id: str) -> Tariff | None:
    row = await db.first(select(tariffs).where(tariffs.c.id == tariff_id))
    return _tariff(row) if row else None


async def list_tariffs(db: Reads, *, limit: int, after: str | None) -> Page[Tariff]:
    """Tariffs ordered by id; ``after`` is the cursor of the previous page."""
    query = select(tariffs).order_by(tariffs.c.id).limit(limit + 1)
    if after:
        (last_id,) = decode_cursor(after, 1)
        query = query.where(tariffs.c.id > last_id)
    return page_of(await db.all(query), limit, _tariff, lambda t: (t.id,))


def tariff_created(tariff: Tariff, now: datetime) -> WriteOp:
    return Insert(
        tariffs, [{"id": tariff.id, **_tariff_values(tariff), "created_at": now, "updated_at": now}]
    )


def tariff_stored(tariff: Tariff) -> WriteOp:
    """Create the tariff, or replace the one of its id (which keeps its ``created_at``); the op
    returns True when it created it. The insert decides, so two operators putting one new id at
    once get a creation and a replacement, never a conflict; the time is taken once the insert has
    waited for the other's, so a replacement is never dated before the creation."""
    values = _tariff_values(tariff)

    async def run(conn: WriteConnection) -> bool:
        now = utcnow()
        inserted = await conn.execute(
            dialect_insert(conn, tariffs)
            .values(id=tariff.id, **values, created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        if inserted.rowcount:
            return True
        now = utcnow()
        await conn.execute(
            update(tariffs).where(tariffs.c.id == tariff.id).values(**values, updated_at=now)
        )
        return False

    return Custom(run)


def tariff_deleted(tariff_id: str) -> WriteOp:
    """Delete a tariff and its assignments; the op returns True if it existed. Transactions bound
    to it keep their copy."""

    async def run(conn: WriteConnection) -> bool:
        await conn.execute(
            delete(tariff_assignments).where(tariff_assignments.c.tariff_id == tariff_id)
        )
        result = await conn.execute(delete(tariffs).where(tariffs.c.id == tariff_id))
        return bool(result.rowcount)

    return Custom(run)


# --- assignments ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assignment:
    """A tariff applies at ``target`` of ``scope`` from ``assigned_at`` on."""

    scope: Scope
    target: str
    """Group id tag, station or site id; "" for the default."""
    tariff_id: str
    assigned_at: datetime


def _assignment(row: RowMapping) -> Assignment:
    return Assignment(Scope(row["scope"]), row["target"], row["tariff_id"], row["assigned_at"])


async def assignments_of(db: Reads, tariff_id: str) -> list[Assignment]:
    c = tariff_assignments.c
    rows = await db.all(
        select(tariff_assignments).where(c.tariff_id == tariff_id).order_by(c.scope, c.target)
    )
    return [_assignment(r) for r in rows]


def assignments_replaced(
    tariff_id: str, targets: Sequence[tuple[Scope, str]], now: datetime
) -> WriteOp:
    """Make ``targets`` the tariff's assignments: those it keeps keep their ``assigned_at``, new
    ones start now. The op returns False (and changes nothing) when the tariff does not exist."""

    async def run(conn: WriteConnection) -> bool:
        exists = await conn.execute(select(tariffs.c.id).where(tariffs.c.id == tariff_id))
        if exists.first() is None:
            return False
        c = tariff_assignments.c
        current = {
            (Scope(row.scope), row.target)
            for row in await conn.execute(select(c.scope, c.target).where(c.tariff_id == tariff_id))
        }
        wanted = set(targets)
        for scope, target in current - wanted:
            await conn.execute(
                delete(tariff_assignments).where(
                    c.tariff_id == tariff_id, c.scope == scope.value, c.target == target
                )
            )
        added = sorted(wanted - current)
        if added:
            await conn.execute(
                insert(tariff_assignments),
                [
                    {"scope": s.value, "target": t, "tariff_id": tariff_id, "assigned_at": now}
                    for s, t in added
                ],
            )
        return True

    return Custom(run)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An assignment with its tariff, as resolution weighs them."""

    assignment: Assignment
    tariff: Tariff


async def candidates_for(
    db: Reads, *, station_id: str, sites: Sequence[str], group: str | None
) -> list[Candidate]:
    """Every assignment that could apply to a transaction at ``station_id`` (in ``sites``) of a
    token in ``group``, with its tariff."""
    c = tariff_assignments.c
    targets = [(Scope.STATION, station_id), (Scope.DEFAULT, "")]
    targets += [(Scope.SITE, site) for site in sites]
    if group is not None:
        targets.append((Scope.ID_TOKEN_GROUP, group))
    condition = or_(*(and_(c.scope == s.value, c.target == t) for s, t in targets))
    rows = await db.all(
        select(tariff_assignments, tariffs)
        .join(tariffs, tariffs.c.id == c.tariff_id)
        .where(condition)
    )
    return [Candidate(_assignment(row), _tariff(row)) for row in rows]


# --- the tariff of each transaction ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Binding:
    """The tariff a transaction keeps, and what its cost messages have sent."""

    transaction_id: str
    tariff: Tariff | None
    """A copy of the tariff as it was at the start; None: no tariff applied."""
    resolved_by: Scope | None
    bound_at: datetime
    charging_states: tuple[tuple[int, datetime, str], ...] = ()
    """2.x chargingState changes: (seqNo, timestamp, state)."""
    last_total: Decimal | None = None
    cost_sent_at: datetime | None = None
    cost_sent_total: Decimal | None = None


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _binding(row: RowMapping) -> Binding:
    return Binding(
        transaction_id=row["transaction_id"],
        tariff=None if row["tariff"] is None else tariff_of_snapshot(row["tariff"]),
        resolved_by=None if row["resolved_by"] is None else Scope(row["resolved_by"]),
        bound_at=row["bound_at"],
        charging_states=tuple(
            (int(seq), datetime.fromisoformat(at), str(state))
            for seq, at, state in row["charging_states"] or ()
        ),
        last_total=_dec(row["last_total"]),
        cost_sent_at=row["cost_sent_at"],
        cost_sent_total=_dec(row["cost_sent_total"]),
    )


_BINDING = select(transaction_tariffs).where(
    transaction_tariffs.c.transaction_id == bindparam("transaction_id")
)


async def binding_of(db: Reads, transaction_id: str) -> Binding | None:
    row = await db.first(_BINDING, {"transaction_id": transaction_id})
    return _binding(row) if row else None


async def bindings_of(db: Reads, transaction_ids: Sequence[str]) -> dict[str, Binding]:
    if not transaction_ids:
        return {}
    rows = await db.all(
        select(transaction_tariffs).where(
            transaction_tariffs.c.transaction_id.in_(list(transaction_ids))
        )
    )
    return {row["transaction_id"]: _binding(row) for row in rows}


def transaction_bound(
    transaction_id: str, tariff: Tariff | None, resolved_by: Scope | None, now: datetime
) -> WriteOp:
    """Bind a transaction to ``tariff`` (a copy) or to none; a transaction bound already keeps its
    binding (the first one wins)."""
    return Insert(
        transaction_tariffs,
        [
            {
                "transaction_id": transaction_id,
                "tariff_id": None if tariff is None else tariff.id,
                "tariff": None if tariff is None else tariff_snapshot(tariff),
                "resolved_by": None if resolved_by is None else resolved_by.value,
                "bound_at": now,
            }
        ],
        on_conflict_do_nothing=("transaction_id",),
    )


def cost_progress_recorded(
    transaction_id: str,
    *,
    charging_states: Sequence[tuple[int, datetime, str]],
    last_total: Decimal | None,
    cost_sent_at: datetime | None,
    cost_sent_total: Decimal | None,
) -> WriteOp:
    """What a 2.x session's cost messages have told so far (see ``Binding``)."""
    return Update(
        transaction_tariffs,
        {"transaction_id": transaction_id},
        {
            "charging_states": [[seq, at.isoformat(), state] for seq, at, state in charging_states]
            or None,
            "last_total": None if last_total is None else str(last_total),
            "cost_sent_at": cost_sent_at,
            "cost_sent_total": None if cost_sent_total is None else str(cost_sent_total),
        },
    )


async def last_news_of(db: Reads, transaction_ids: Sequence[str]) -> dict[str, datetime]:
    """When each transaction last changed: where the cost of one flagged stale stops (its station
    lost power and never ended it; it is not charging on to this day)."""
    if not transaction_ids:
        return {}
    t = transactions.c
    rows = await db.all(select(t.id, t.updated_at).where(t.id.in_(list(transaction_ids))))
    return {row["id"]: row["updated_at"] for row in rows}


# Asked at every start (and 2.x event) to know whether any tariff could apply: built once.
_EARLIEST_TARIFF = select(func.min(tariffs.c.created_at).label("first"))


async def earliest_tariff(db: Reads) -> datetime | None:
    """When the oldest tariff still stored was created (None: there is none)."""
    row = await db.first(_EARLIEST_TARIFF)
    if row is None or row["first"] is None:
        return None
    first: datetime = row["first"]
    return first


async def unbound_transactions(db: Reads, *, since: datetime, limit: int) -> list[str]:
    """Ids of started transactions recorded at or after ``since`` that are bound to no tariff yet
    (those no message bound), oldest first; not those still open without an id token (2.x, cable
    plugin first), whose token may decide their tariff."""
    t = transactions.c
    query = (
        select(t.id)
        .select_from(
            transactions.outerjoin(
                transaction_tariffs, transaction_tariffs.c.transaction_id == t.id
            )
        )
        .where(
            transaction_tariffs.c.transaction_id.is_(None),
            t.start_time.is_not(None),
            t.created_at >= since,
            or_(t.stop_time.is_not(None), t.id_token.is_not(None), t.id_token_type.is_not(None)),
        )
        .order_by(t.created_at, t.id)
        .limit(limit)
    )
    return [row["id"] for row in await db.all(query)]


@dataclass(frozen=True, slots=True)
class PricedSession:
    """A transaction with a tariff whose running total may have changed unseen."""

    transaction_id: str
    last_total: Decimal | None
    """The total last published."""


async def priced_sessions(
    db: Reads,
    *,
    protocol: str,
    created_since: datetime,
    changed_since: datetime,
    limit: int,
    after: str | None = None,
) -> list[PricedSession]:
    """Transactions of ``protocol`` recorded at or after ``created_since`` (the bound keeps the
    read to an index range, not the whole history) and bound to a tariff that are open (not
    stale), or that changed at or after ``changed_since`` (to publish their final total), by id,
    after ``after``."""
    t = transactions.c
    b = transaction_tariffs.c
    query = (
        select(t.id, b.last_total)
        .select_from(transactions.join(transaction_tariffs, b.transaction_id == t.id))
        .where(
            b.tariff_id.is_not(None),
            t.protocol == protocol,
            t.start_time.is_not(None),
            t.created_at >= created_since,
            or_(
                and_(t.stop_time.is_(None), t.stale.is_(False)),
                t.updated_at >= changed_since,
            ),
        )
        .order_by(t.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(t.id > after)
    return [PricedSession(row["id"], _dec(row["last_total"])) for row in await db.all(query)]


def total_published(
    transaction_id: str, total: Decimal, *, final_at: datetime | None = None
) -> WriteOp:
    """The running total last published on the operators' stream; with ``final_at``, the final
    one (of an ended 1.6 session, which no cost message carries: it is recorded as the last
    sent, as a 2.x session's final total is)."""
    values: dict[str, Any] = {"last_total": str(total)}
    if final_at is not None:
        values.update(cost_sent_at=final_at, cost_sent_total=str(total))
    return Update(transaction_tariffs, {"transaction_id": transaction_id}, values)
