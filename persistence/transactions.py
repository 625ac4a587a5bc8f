"""Transactions: their rows, their meter samples, the event log of 2.x transactions, the check
before a start, and the marking of transactions left open by a charger that lost power."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    RowMapping,
    Select,
    and_,
    bindparam,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from persistence.models import meter_values, transaction_events, transactions
from persistence.pages import BadCursor, Page, decode_cursor, page_of
from persistence.reads import Reads
from persistence.records import MeterSample, TransactionRecord
from persistence.sqltypes import utcnow
from persistence.writer import Insert, Update, WriteOp


def _transaction(row: RowMapping) -> TransactionRecord:
    return TransactionRecord(
        id=row["id"],
        station_id=row["station_id"],
        evse_id=row["evse_id"],
        connector_id=row["connector_id"],
        id_token=row["id_token"],
        id_token_type=row["id_token_type"],
        start_time=row["start_time"],
        stop_time=row["stop_time"],
        meter_start_wh=row["meter_start_wh"],
        meter_stop_wh=row["meter_stop_wh"],
        last_meter_wh=row["last_meter_wh"],
        stop_reason=row["stop_reason"],
        protocol=row["protocol"],
        stale=row["stale"],
        created_at=row["created_at"],
        extra=row["extra"],
        remote_start_id=row["remote_start_id"],
        reservation_id=row["reservation_id"],
    )


# Statements of the message path, built once: building and cache-keying a statement per call costs
# more than running it on SQLite.
_TRANSACTION_BY_ID = select(transactions).where(transactions.c.id == bindparam("transaction_id"))
_TRANSACTION_EXISTS = select(transactions.c.id).where(
    transactions.c.id == bindparam("transaction_id")
)


async def get_transaction(db: Reads, transaction_id: str) -> TransactionRecord | None:
    row = await db.first(_TRANSACTION_BY_ID, {"transaction_id": transaction_id})
    return _transaction(row) if row else None


async def transaction_exists(db: Reads, transaction_id: str) -> bool:
    return await db.first(_TRANSACTION_EXISTS, {"transaction_id": transaction_id}) is not None


async def find_transaction_by_dedup(
    db: Reads, station_id: str, dedup_key: str
) -> TransactionRecord | None:
    row = await db.first(
        select(transactions).where(
            transactions.c.station_id == station_id, transactions.c.dedup_key == dedup_key
        )
    )
    return _transaction(row) if row else None


@dataclass(frozen=True, slots=True)
class StartCheck:
    """What a new start must know, found in one read."""

    existing: str | None
    """Id of the same start, already stored (a resend)."""
    concurrent: list[str]
    """An open transaction of the same token elsewhere (ConcurrentTx), at most one."""


def _start_check_statement() -> Executable:
    same_start = select(transactions.c.id, literal(True).label("same")).where(
        transactions.c.station_id == bindparam("station_id"),
        transactions.c.dedup_key == bindparam("dedup_key"),
    )
    elsewhere = (
        select(transactions.c.id, literal(False).label("same"))
        .where(
            transactions.c.id_token == bindparam("id_token"),
            transactions.c.stop_time.is_(None),
            transactions.c.start_time.is_not(None),
            transactions.c.stale.is_(False),
            or_(
                transactions.c.station_id != bindparam("station_id"),
                transactions.c.evse_id != bindparam("evse_id"),
            ),
        )
        .limit(1)
    )
    return union_all(same_start, select(elsewhere.subquery()))


_START_CHECK = _start_check_statement()


async def check_start(
    db: Reads, *, station_id: str, evse_id: int, id_token: str, dedup_key: str
) -> StartCheck:
    """A transaction left open on the same station and EVSE does not count as concurrent: a charger
    that lost power must not block the driver who plugs in again. One read answers both questions;
    the second asks for one row only (a fleet card may have many open transactions)."""
    rows = await db.all(
        _START_CHECK,
        {
            "station_id": station_id,
            "evse_id": evse_id,
            "id_token": id_token,
            "dedup_key": dedup_key,
        },
    )
    existing = next((row["id"] for row in rows if row["same"]), None)
    return StartCheck(existing, [row["id"] for row in rows if not row["same"]])


async def list_transactions(
    db: Reads,
    *,
    station_id: str | None,
    active: bool | None,
    limit: int,
    after: str | None,
    remote_start_id: int | None = None,
    started_since: datetime | None = None,
    started_until: datetime | None = None,
) -> Page[TransactionRecord]:
    """Newest first, by (created_at, id). ``started_since`` and ``started_until`` keep those whose
    start time is at or after the one and before the other (a transaction with no known start,
    an orphan stop, is then left out)."""
    query: Select[Any] = (
        select(transactions)
        .order_by(transactions.c.created_at.desc(), transactions.c.id.desc())
        .limit(limit + 1)
    )
    if station_id is not None:
        query = query.where(transactions.c.station_id == station_id)
    if remote_start_id is not None:
        query = query.where(transactions.c.remote_start_id == remote_start_id)
    if started_since is not None:
        query = query.where(transactions.c.start_time >= started_since)
    if started_until is not None:
        query = query.where(transactions.c.start_time < started_until)
    if active is True:
        query = query.where(
            transactions.c.stop_time.is_(None), transactions.c.start_time.isnot(None)
        )
    elif active is False:
        query = query.where(
            or_(transactions.c.stop_time.is_not(None), transactions.c.start_time.is_(None))
        )
    if after:
        created_raw, last_id = decode_cursor(after, 2)
        try:
            created = datetime.fromisoformat(created_raw)
        except ValueError:
            raise BadCursor(after) from None
        query = query.where(
            or_(
                transactions.c.created_at < created,
                and_(transactions.c.created_at == created, transactions.c.id < last_id),
            )
        )
    return page_of(
        await db.all(query),
        limit,
        _transaction,
        lambda transaction: (transaction.created_at.isoformat(), transaction.id),
    )


def transaction_started(
    *,
    transaction_id: str,
    station_id: str,
    evse_id: int | None,
    connector_id: int | None,
    id_token: str | None,
    id_token_type: str | None,
    start_time: datetime | None,
    meter_start_wh: float | None,
    protocol: str,
    dedup_key: str | None,
    reservation_id: int | None = None,
    remote_start_id: int | None = None,
    extra: Mapping[str, Any] | None = None,
    stop_time: datetime | None = None,
    meter_stop_wh: float | None = None,
    stop_reason: str | None = None,
    stop_id_token: str | None = None,
    ignore_duplicate: bool = False,
) -> WriteOp:
    """A new transaction; with the stop fields, one known only from its end (an orphan stop).
    ``ignore_duplicate`` makes a resend of the same id a no-op."""
    now = utcnow()
    return Insert(
        transactions,
        [
            {
                "id": transaction_id,
                "station_id": station_id,
                "evse_id": evse_id,
                "connector_id": connector_id,
                "id_token": id_token,
                "id_token_type": id_token_type,
                "start_time": start_time,
                "stop_time": stop_time,
                "meter_start_wh": meter_start_wh,
                "meter_stop_wh": meter_stop_wh,
                "last_meter_wh": meter_stop_wh if meter_stop_wh is not None else meter_start_wh,
                "stop_reason": stop_reason,
                "stop_id_token": stop_id_token,
                "reservation_id": reservation_id,
                "remote_start_id": remote_start_id,
                "protocol": protocol,
                "stale": False,
                "dedup_key": dedup_key,
                "extra": dict(extra) if extra else None,
                "created_at": now,
                "updated_at": now,
            }
        ],
        on_conflict_do_nothing=("id",) if ignore_duplicate else None,
    )


def transaction_updated(transaction_id: str, **values: Any) -> WriteOp:
    """Columns of a transaction, merged with the batch's other updates of the same shape: nothing
    in a batch reads a transaction's own row back (see ``Update``)."""
    values["updated_at"] = utcnow()
    return Update(transactions, {"id": transaction_id}, values, mergeable=True)


async def mark_stale_transactions(engine: AsyncEngine, *, older_than: datetime) -> int:
    """Flag open transactions with no update since ``older_than`` (charger lost power); never deletes."""
    async with engine.begin() as conn:
        result = await conn.execute(
            transactions.update()
            .where(
                transactions.c.stop_time.is_(None),
                transactions.c.stale.is_(False),
                transactions.c.updated_at < older_than,
            )
            .values(stale=True)
        )
    return int(result.rowcount or 0)


# --- meter samples --------------------------------------------------------------------------------


def meter_samples_recorded(rows: Sequence[Mapping[str, Any]]) -> WriteOp:
    """Samples keyed by content hash, so a resent MeterValues is stored once. Deferred: nothing in
    a batch reads samples, so a batch's samples go as one executemany."""
    return Insert(meter_values, list(rows), on_conflict_do_nothing=("sample_key",), deferred=True)


async def transaction_meter_values(db: Reads, transaction_id: str) -> list[MeterSample]:
    query = (
        select(meter_values)
        .where(meter_values.c.transaction_id == transaction_id)
        .order_by(meter_values.c.timestamp, meter_values.c.id)
    )
    rows = await db.all(query)
    return [
        MeterSample(
            timestamp=r["timestamp"],
            measurand=r["measurand"],
            phase=r["phase"],
            unit=r["unit"],
            value=r["value"],
            context=r["context"],
            location=r["location"],
            raw_value=r["raw_value"],
        )
        for r in rows
    ]


# --- 2.x transaction events -----------------------------------------------------------------------

_SEQ_NOS = select(transaction_events.c.seq_no).where(
    transaction_events.c.transaction_id == bindparam("transaction_id")
)


async def transaction_seq_nos(db: Reads, transaction_id: str) -> list[int]:
    """Sequence numbers of the events stored for a 2.x transaction."""
    rows = await db.all(_SEQ_NOS, {"transaction_id": transaction_id})
    return [row["seq_no"] for row in rows]


def transaction_event_recorded(
    transaction_id: str,
    *,
    station_id: str,
    seq_no: int,
    event_type: str,
    trigger_reason: str,
    timestamp: datetime,
    offline: bool,
    payload: Mapping[str, Any],
) -> WriteOp:
    """A TransactionEvent in the transaction's log; a resend of the same seqNo inserts nothing.
    ``payload`` is the event as received, less what is stored elsewhere (its meter values)."""
    return Insert(
        transaction_events,
        [
            {
                "transaction_id": transaction_id,
                "station_id": station_id,
                "seq_no": seq_no,
                "event_type": event_type,
                "trigger_reason": trigger_reason,
                "timestamp": timestamp,
                "offline": offline,
                "payload": dict(payload),
                "received_at": utcnow(),
            }
        ],
        on_conflict_do_nothing=("transaction_id", "seq_no"),
        deferred=True,
    )


async def transaction_events_of(db: Reads, transaction_id: str) -> list[dict[str, Any]]:
    """A 2.x transaction's events in seqNo order."""
    query = (
        select(
            transaction_events.c.seq_no,
            transaction_events.c.event_type,
            transaction_events.c.trigger_reason,
            transaction_events.c.timestamp,
            transaction_events.c.offline,
        )
        .where(transaction_events.c.transaction_id == transaction_id)
        .order_by(transaction_events.c.seq_no)
    )
    # Plain str keys: SQLAlchemy's quoted_name keys do not serialise as JSON object keys.
    return [{str(k): v for k, v in row.items()} for row in await db.all(query)]
