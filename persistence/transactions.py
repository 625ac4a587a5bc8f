"""Transactions: their rows, their meter samples, the event log of 2.x transactions, the id token
each open transaction holds (ConcurrentTx), and the closing of transactions a station left behind
(refused, abandoned) or the marking of those left open by a charger that lost power."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    RowMapping,
    Select,
    and_,
    bindparam,
    delete,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.connections import WriteConnection
from persistence.database import dialect_insert, dialect_name
from persistence.models import id_token_sessions, meter_values, transaction_events, transactions
from persistence.pages import BadCursor, Page, decode_cursor, page_of
from persistence.reads import Reads
from persistence.records import MeterSample, TransactionRecord
from persistence.sqltypes import utcnow
from persistence.writer import Custom, Insert, Update, WriteOp


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
        abandoned=row["abandoned"],
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


_TRANSACTION_BY_DEDUP = select(transactions).where(
    transactions.c.station_id == bindparam("station_id"),
    transactions.c.dedup_key == bindparam("dedup_key"),
)


async def find_transaction_by_dedup(
    db: Reads, station_id: str, dedup_key: str
) -> TransactionRecord | None:
    """The start a charger sent before with the same content (a resend), if stored; every 1.6
    StartTransaction asks, so the statement is built once."""
    row = await db.first(_TRANSACTION_BY_DEDUP, {"station_id": station_id, "dedup_key": dedup_key})
    return _transaction(row) if row else None


# --- starts, the token each open transaction holds, and transactions left behind ---------------

REFUSED_REASON = "DeAuthorized"
"""stop_reason of a 1.6 start the CSMS refused: the reason the charger itself gives when it stops
such a transaction (1.6 Reason, 2.0.1 ReasonEnumType)."""
ABANDONED_REASON = "Abandoned"
"""stop_reason of a transaction its station left behind (it booted again, or started another
transaction on the same EVSE)."""


@dataclass(frozen=True, slots=True)
class StartOutcome:
    """What the commit of a start decided."""

    token_held: bool
    """The id token is this transaction's now (False: another open transaction holds it, the
    answer is ConcurrentTx). True as well when no token was to be taken."""
    abandoned: tuple[AbandonedTransaction, ...]
    """Open transactions of the same EVSE that this start closed."""


@dataclass(frozen=True, slots=True)
class AbandonedTransaction:
    """A transaction the CSMS closed because its station left it behind."""

    transaction_id: str
    evse_id: int | None
    energy_wh: float | None
    """Energy recorded until then (it stays)."""


def _open_transactions(condition: Any) -> Select[Any]:
    """The open transactions that match ``condition``, with what closing one needs."""
    c = transactions.c
    return select(
        c.id, c.evse_id, c.start_time, c.updated_at, c.meter_start_wh, c.last_meter_wh
    ).where(condition, c.stop_time.is_(None), c.start_time.is_not(None))


# Every start asks for the other open transactions of its EVSE: built once. A start replayed late
# from an offline queue never closes one that began after it.
_OPEN_ON_EVSE = _open_transactions(
    and_(
        transactions.c.station_id == bindparam("station_id"),
        transactions.c.evse_id == bindparam("evse_id"),
        transactions.c.id != bindparam("transaction_id"),
    )
)
_OPEN_ON_EVSE_BEFORE = _OPEN_ON_EVSE.where(transactions.c.start_time <= bindparam("start_time"))


async def _abandon(
    conn: WriteConnection,
    query: Select[Any],
    params: Mapping[str, Any] | None,
    *,
    at: datetime | None,
) -> tuple[AbandonedTransaction, ...]:
    """Close the open transactions ``query`` finds (see ``_open_transactions``) as abandoned and
    release their tokens. Each ends at ``at`` (None: its last news, its ``updated_at``), never
    before its start; its stop register stays unknown (the station never said it), so its energy
    is what was recorded."""
    c = transactions.c
    rows = (await conn.execute(query, params)).all()
    if not rows:
        return ()
    now = utcnow()
    closes = []
    closed = []
    for row in rows:
        end = at if at is not None else row.updated_at
        if row.start_time is not None and end < row.start_time:
            end = row.start_time
        closes.append({"w_id": row.id, "v_stop": end})
        energy = (
            None
            if row.last_meter_wh is None or row.meter_start_wh is None
            else max(0.0, row.last_meter_wh - row.meter_start_wh)
        )
        closed.append(AbandonedTransaction(row.id, row.evse_id, energy))
    await conn.execute(
        transactions.update()
        .where(c.id == bindparam("w_id"), c.stop_time.is_(None))
        .values(
            stop_time=bindparam("v_stop"),
            stop_reason=ABANDONED_REASON,
            abandoned=True,
            updated_at=now,
        ),
        closes,
    )
    await conn.execute(
        delete(id_token_sessions).where(
            id_token_sessions.c.transaction_id.in_([row.id for row in rows])
        )
    )
    return tuple(closed)


class TokenContention(RuntimeError):
    """The token row changed under a start more often than it retries."""


# Every start and every stop touches the token's row: the statements are built once.
_TAKE_TOKEN = {
    name: dialect_insert(name, id_token_sessions).on_conflict_do_nothing(
        index_elements=["id_token"]
    )
    for name in ("sqlite", "postgresql")
}
_TOKEN_HOLDER = select(id_token_sessions.c.transaction_id).where(
    id_token_sessions.c.id_token == bindparam("id_token")
)
_TOKEN_HOLDER_LOCKED = _TOKEN_HOLDER.with_for_update()
_RELEASE_TOKEN = delete(id_token_sessions).where(
    id_token_sessions.c.transaction_id == bindparam("transaction_id")
)


async def _take_token(
    conn: WriteConnection,
    *,
    id_token: str,
    transaction_id: str,
    station_id: str,
    evse_id: int | None,
) -> bool:
    """Make ``transaction_id`` the holder of ``id_token`` unless another open transaction holds it.

    Atomic across concurrent starts on any member: the row's key is the token. On PostgreSQL a
    concurrent insert of the same token waits for the other commit and then finds its row (READ
    COMMITTED), which is locked while its holder is looked at; a SQLite writer holds the database's
    write lock from its BEGIN. A holder that ended, went stale or is gone is replaced."""
    s = id_token_sessions.c
    row = {
        "id_token": id_token,
        "transaction_id": transaction_id,
        "station_id": station_id,
        "evse_id": evse_id,
        "taken_at": utcnow(),
    }
    dialect = dialect_name(conn)
    for _ in range(3):
        inserted = await conn.execute(_TAKE_TOKEN[dialect], row)
        if inserted.rowcount:
            return True
        query = _TOKEN_HOLDER_LOCKED if dialect == "postgresql" else _TOKEN_HOLDER
        holder = (await conn.execute(query, {"id_token": id_token})).scalar_one_or_none()
        if holder is None:
            continue  # released meanwhile: try again
        if holder == transaction_id:
            return True
        c = transactions.c
        held = (
            await conn.execute(
                select(c.id).where(
                    c.id == holder,
                    c.stop_time.is_(None),
                    c.start_time.is_not(None),
                    c.stale.is_(False),
                )
            )
        ).first()
        if held is not None:
            return False
        replaced = await conn.execute(
            id_token_sessions.update()
            .where(s.id_token == id_token, s.transaction_id == holder)
            .values(row)
        )
        if replaced.rowcount:
            return True
    # Released under us three times in a row (other starts and stops of the token racing): never
    # guess ConcurrentTx, which would refuse a driver; the start fails and the charger resends it.
    raise TokenContention(f"id token held and released concurrently, try again: {transaction_id}")


def transaction_start_recorded(
    *,
    transaction_id: str,
    station_id: str,
    evse_id: int | None,
    start_time: datetime | None,
    id_token: str | None,
    take_token: bool,
    row: Callable[[bool], WriteOp],
) -> WriteOp:
    """The start of a transaction in one commit: the open transactions of the same EVSE are closed
    as abandoned (an EVSE runs one transaction at a time), the token is
    taken when ``take_token`` (ConcurrentTx otherwise), then ``row(token_held)`` is written (the
    row may depend on the answer). Returns a ``StartOutcome``."""

    async def apply(conn: WriteConnection) -> StartOutcome:
        abandoned: tuple[AbandonedTransaction, ...] = ()
        if evse_id is not None:
            params = {
                "station_id": station_id,
                "evse_id": evse_id,
                "transaction_id": transaction_id,
                "start_time": start_time,
            }
            query = _OPEN_ON_EVSE if start_time is None else _OPEN_ON_EVSE_BEFORE
            abandoned = await _abandon(conn, query, params, at=start_time)
        held = True
        if take_token and id_token is not None:
            held = await _take_token(
                conn,
                id_token=id_token,
                transaction_id=transaction_id,
                station_id=station_id,
                evse_id=evse_id,
            )
        await row(held).apply(conn)
        return StartOutcome(held, abandoned)

    return Custom(apply)


def token_taken(
    *, id_token: str, transaction_id: str, station_id: str, evse_id: int | None
) -> WriteOp:
    """A running transaction takes its token (2.x: the token came after the start, or again);
    returns whether it holds it (False: ConcurrentTx)."""

    async def apply(conn: WriteConnection) -> bool:
        return await _take_token(
            conn,
            id_token=id_token,
            transaction_id=transaction_id,
            station_id=station_id,
            evse_id=evse_id,
        )

    return Custom(apply)


def token_released(transaction_id: str) -> WriteOp:
    """The transaction ended: its token may start another one."""

    async def apply(conn: WriteConnection) -> None:
        await conn.execute(_RELEASE_TOKEN, {"transaction_id": transaction_id})

    return Custom(apply)


def station_transactions_abandoned(station_id: str) -> WriteOp:
    """The station booted: the transactions it had open are gone from it (OCPP 1.6 section 4.2,
    2.0.1 B01) and close as abandoned at their last news; a stop it still sends for one replaces
    that. Returns the ``AbandonedTransaction``s."""

    async def apply(conn: WriteConnection) -> tuple[AbandonedTransaction, ...]:
        return await _abandon(
            conn, _open_transactions(transactions.c.station_id == station_id), None, at=None
        )

    return Custom(apply)


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
    abandoned: bool = False,
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
                "abandoned": abandoned,
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
            signed=r["signed"],
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
