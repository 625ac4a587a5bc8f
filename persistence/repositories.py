"""Reads of the main store, and builders of the write operations that go through the group-commit writer.

Reads use their own short connections. Writes never run here: a builder returns ``WriteOp``s and the
caller submits them, so that the writer can group them and resolve the caller after the commit.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import (
    Column,
    RowMapping,
    Select,
    and_,
    bindparam,
    delete,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from persistence.models import (
    device_variables,
    id_tokens,
    meter_values,
    station_events,
    stations,
    transaction_events,
    transactions,
)
from persistence.reads import EngineReads, Reads
from persistence.records import (
    IdTokenRecord,
    IdTokenStatus,
    MeterSample,
    StationRecord,
    TransactionRecord,
)
from persistence.sqltypes import utcnow
from persistence.writer import Insert, Update, Upsert, WriteOp

if TYPE_CHECKING:
    from actors.transaction_event import TransactionEventReport


class BadCursor(ValueError):
    """A pagination cursor that this API did not hand out."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next (None at the end)."""

    items: list[T]
    next: str | None


def _encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = (
            base64.b64decode(padded.encode(), altchars=b"-_", validate=True).decode().split("\x1f")
        )
    except (ValueError, UnicodeDecodeError):
        raise BadCursor(f"cursor {cursor!r} is not one this API handed out") from None
    if len(parts) != count or not all(parts):
        raise BadCursor(f"cursor {cursor!r} is not one this API handed out")
    return parts


# --- stations -------------------------------------------------------------------------------------


def _station(row: RowMapping) -> StationRecord:
    return StationRecord(
        id=row["id"],
        registered=row["registered"],
        allowed=row["allowed"],
        has_password=row["password_hash"] is not None,
        lenient=row["lenient"],
        protocol=row["protocol"],
        vendor=row["vendor"],
        model=row["model"],
        serial_number=row["serial_number"],
        firmware_version=row["firmware_version"],
        boot_status=row["boot_status"],
        boot_reason=row["boot_reason"],
        last_boot=row["last_boot"],
        protocols=tuple(row["protocols"]) if row["protocols"] else None,
    )


# Statements of the message path, built once: building and cache-keying a statement per call costs
# more than running it on SQLite.
_STATION_BY_ID = select(stations).where(stations.c.id == bindparam("station_id"))
_ID_TOKEN_BY_VALUE = select(id_tokens).where(id_tokens.c.id_token == bindparam("id_token"))
_TRANSACTION_BY_ID = select(transactions).where(transactions.c.id == bindparam("transaction_id"))


async def get_station(db: Reads, station_id: str) -> StationRecord | None:
    return (await get_station_and_password(db, station_id))[0]


async def get_station_and_password(
    db: Reads, station_id: str
) -> tuple[StationRecord | None, str | None]:
    """A station and its password hash in one read, for the websocket handshake."""
    row = await db.first(_STATION_BY_ID, {"station_id": station_id})
    return (_station(row), row["password_hash"]) if row else (None, None)


def new_station_record(station_id: str, *, protocol: str, registered: bool) -> StationRecord:
    """The record that ``station_seen`` creates, without reading it back."""
    return StationRecord(
        id=station_id,
        registered=registered,
        allowed=True,
        has_password=False,
        lenient=False,
        protocol=protocol,
        vendor=None,
        model=None,
        serial_number=None,
        firmware_version=None,
        boot_status=None,
        boot_reason=None,
        last_boot=None,
    )


async def list_stations(db: Reads, *, limit: int, after: str | None) -> Page[StationRecord]:
    query = select(stations).order_by(stations.c.id).limit(limit + 1)
    if after:
        (last_id,) = _decode_cursor(after, 1)
        query = query.where(stations.c.id > last_id)
    rows = await db.all(query)
    items = [_station(r) for r in rows[:limit]]
    return Page(items, _encode_cursor(items[-1].id) if len(rows) > limit else None)


def station_seen(station_id: str, *, protocol: str, register: bool) -> WriteOp:
    """First contact of a station: a row so that operators see it, registered under the accept policy."""
    now = utcnow()
    return Insert(
        stations,
        [
            {
                "id": station_id,
                "registered": register,
                "allowed": True,
                "lenient": False,
                "protocol": protocol,
                "first_seen": now,
                "created_at": now,
                "updated_at": now,
            }
        ],
        on_conflict_do_nothing=("id",),
    )


def station_booted(
    station_id: str,
    *,
    protocol: str,
    boot: Mapping[str, str | None],
    status: str,
    reason: str | None,
    register: bool,
) -> list[WriteOp]:
    """Boot information of a BootNotification; creates the row for a first-time station."""
    now = utcnow()
    values: dict[str, Any] = {
        "protocol": protocol,
        "vendor": boot.get("vendor"),
        "model": boot.get("model"),
        "serial_number": boot.get("serial_number"),
        "firmware_version": boot.get("firmware_version"),
        "boot_status": status,
        "boot_reason": reason,
        "last_boot": now,
        "updated_at": now,
    }
    if register:
        values["registered"] = True
    return [
        station_seen(station_id, protocol=protocol, register=register),
        Update(stations, {"id": station_id}, values),
    ]


async def put_station(
    engine: AsyncEngine,
    station_id: str,
    *,
    allowed: bool,
    password_hash: str | None,
    keep_password: bool,
    lenient: bool,
    protocols: Sequence[str] | None = None,
) -> tuple[StationRecord, bool]:
    """Register (or update) a station; returns the record and whether it was created."""
    now = utcnow()
    values: dict[str, Any] = {
        "registered": True,
        "allowed": allowed,
        "lenient": lenient,
        "protocols": list(protocols) if protocols else None,
        "updated_at": now,
    }
    if not keep_password:
        values["password_hash"] = password_hash
    created = await _create_or_update(engine, stations.c.id, station_id, values, now)
    record = await get_station(EngineReads(engine), station_id)
    assert record is not None
    return record, created


async def _create_or_update(
    engine: AsyncEngine, key: Column[Any], value: str, values: dict[str, Any], now: datetime
) -> bool:
    """Update the row whose ``key`` is ``value``, or insert it; True when it was inserted. Two
    concurrent creations of one row: the loser's insert fails on the key and it updates instead."""
    table = key.table
    async with engine.begin() as conn:
        updated = await conn.execute(table.update().where(key == value).values(values))
    if updated.rowcount:
        return False
    try:
        async with engine.begin() as conn:
            await conn.execute(
                table.insert().values({key.name: value, "created_at": now, **values})
            )
    except IntegrityError:
        async with engine.begin() as conn:
            await conn.execute(table.update().where(key == value).values(values))
        return False
    return True


async def delete_station(engine: AsyncEngine, station_id: str) -> bool:
    """Forget a station's registration; its transactions and meter values stay (they are records)."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(stations).where(stations.c.id == station_id))
    return bool(result.rowcount)


# --- id tokens ------------------------------------------------------------------------------------


def _id_token(row: RowMapping) -> IdTokenRecord:
    return IdTokenRecord(
        id_token=row["id_token"],
        type=row["type"],
        status=IdTokenStatus(row["status"]),
        expiry_date=row["expiry_date"],
        parent_id_token=row["parent_id_token"],
        evse_ids=tuple(row["evse_ids"]) if row["evse_ids"] is not None else None,
    )


async def get_id_token(db: Reads, id_token: str) -> IdTokenRecord | None:
    row = await db.first(_ID_TOKEN_BY_VALUE, {"id_token": id_token})
    return _id_token(row) if row else None


async def list_id_tokens(db: Reads, *, limit: int, after: str | None) -> Page[IdTokenRecord]:
    query = select(id_tokens).order_by(id_tokens.c.id_token).limit(limit + 1)
    if after:
        (last,) = _decode_cursor(after, 1)
        query = query.where(id_tokens.c.id_token > last)
    rows = await db.all(query)
    items = [_id_token(r) for r in rows[:limit]]
    return Page(items, _encode_cursor(items[-1].id_token) if len(rows) > limit else None)


async def put_id_token(engine: AsyncEngine, record: IdTokenRecord) -> bool:
    """Create or replace an id token; returns whether it was created."""
    now = utcnow()
    values = {
        "type": record.type,
        "status": record.status.value,
        "expiry_date": record.expiry_date,
        "parent_id_token": record.parent_id_token,
        "evse_ids": list(record.evse_ids) if record.evse_ids is not None else None,
        "updated_at": now,
    }
    return await _create_or_update(engine, id_tokens.c.id_token, record.id_token, values, now)


async def delete_id_token(engine: AsyncEngine, id_token: str) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(delete(id_tokens).where(id_tokens.c.id_token == id_token))
    return bool(result.rowcount)


# --- transactions ---------------------------------------------------------------------------------


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


async def get_transaction(db: Reads, transaction_id: str) -> TransactionRecord | None:
    row = await db.first(_TRANSACTION_BY_ID, {"transaction_id": transaction_id})
    return _transaction(row) if row else None


_TRANSACTION_EXISTS = select(transactions.c.id).where(
    transactions.c.id == bindparam("transaction_id")
)


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
) -> Page[TransactionRecord]:
    """Newest first, by (created_at, id)."""
    query: Select[Any] = (
        select(transactions)
        .order_by(transactions.c.created_at.desc(), transactions.c.id.desc())
        .limit(limit + 1)
    )
    if station_id is not None:
        query = query.where(transactions.c.station_id == station_id)
    if remote_start_id is not None:
        query = query.where(transactions.c.remote_start_id == remote_start_id)
    if active is True:
        query = query.where(
            transactions.c.stop_time.is_(None), transactions.c.start_time.isnot(None)
        )
    elif active is False:
        query = query.where(
            or_(transactions.c.stop_time.is_not(None), transactions.c.start_time.is_(None))
        )
    if after:
        created_raw, last_id = _decode_cursor(after, 2)
        try:
            created = datetime.fromisoformat(created_raw)
        except ValueError:
            raise BadCursor(f"cursor {after!r} is not one this API handed out") from None
        query = query.where(
            or_(
                transactions.c.created_at < created,
                and_(transactions.c.created_at == created, transactions.c.id < last_id),
            )
        )
    rows = await db.all(query)
    items = [_transaction(r) for r in rows[:limit]]
    cursor = None
    if len(rows) > limit:
        last = items[-1]
        cursor = _encode_cursor(last.created_at.isoformat(), last.id)
    return Page(items, cursor)


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


def meter_samples_recorded(rows: Sequence[Mapping[str, Any]]) -> WriteOp:
    """Samples keyed by content hash, so a resent MeterValues is stored once. Deferred: nothing in
    a batch reads samples, so a batch's samples go as one executemany."""
    return Insert(meter_values, list(rows), on_conflict_do_nothing=("sample_key",), deferred=True)


def station_event(station_id: str, kind: str, payload: Mapping[str, Any]) -> WriteOp:
    return Insert(
        station_events,
        [
            {
                "station_id": station_id,
                "kind": kind,
                "payload": dict(payload),
                "received_at": utcnow(),
            }
        ],
    )


async def station_events_of(
    db: Reads, station_id: str, kind: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    query = (
        select(station_events.c.kind, station_events.c.payload)
        .where(station_events.c.station_id == station_id)
        .order_by(station_events.c.id)
    )
    if kind is not None:
        query = query.where(station_events.c.kind == kind)
    return [(r["kind"], r["payload"]) for r in await db.all(query)]


async def latest_station_event(
    db: Reads, station_id: str, kind: str, matches: Callable[[dict[str, Any]], bool]
) -> tuple[dict[str, Any], datetime] | None:
    """The newest event of ``kind`` whose payload ``matches``, with when it was received."""
    query = (
        select(station_events.c.payload, station_events.c.received_at)
        .where(station_events.c.station_id == station_id, station_events.c.kind == kind)
        .order_by(station_events.c.id.desc())
    )
    for row in await db.all(query):
        if matches(row["payload"]):
            return row["payload"], row["received_at"]
    return None


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


# --- 2.x transaction events -----------------------------------------------------------------------

_SEQ_NOS = select(transaction_events.c.seq_no).where(
    transaction_events.c.transaction_id == bindparam("transaction_id")
)


async def transaction_seq_nos(db: Reads, transaction_id: str) -> list[int]:
    """Sequence numbers of the events stored for a 2.x transaction."""
    rows = await db.all(_SEQ_NOS, {"transaction_id": transaction_id})
    return [row["seq_no"] for row in rows]


def transaction_event_recorded(transaction_id: str, event: TransactionEventReport) -> WriteOp:
    """A TransactionEvent in the transaction's log; a resend of the same seqNo inserts nothing."""
    return Insert(
        transaction_events,
        [
            {
                "transaction_id": transaction_id,
                "station_id": event.station_id,
                "seq_no": event.seq_no,
                "event_type": event.event_type.value,
                "trigger_reason": event.trigger_reason,
                "timestamp": event.timestamp,
                "offline": event.offline,
                "payload": dict(event.record),
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


# --- device model (2.x) ---------------------------------------------------------------------------


def device_variables_reported(rows: Sequence[Mapping[str, Any]]) -> list[WriteOp]:
    """Variables of a station's device model, replacing what was known of each."""
    now = utcnow()
    return [
        Upsert(
            device_variables,
            [{**row, "updated_at": now} for row in rows],
            ("station_id", "variable_key"),
        )
    ]


def device_values_changed(rows: Sequence[Mapping[str, Any]]) -> list[WriteOp]:
    """New values of known or new variables (GetVariables, SetVariables, NotifyEvent): the value
    and its source change, what a report said of the variable's mutability or characteristics stays."""
    now = utcnow()
    return [
        Upsert(
            device_variables,
            [{**row, "updated_at": now} for row in rows],
            ("station_id", "variable_key"),
            update_only=("value", "source", "updated_at"),
        )
    ]


async def list_device_variables(
    db: Reads,
    station_id: str,
    *,
    component: str | None = None,
    variable: str | None = None,
    evse_id: int | None = None,
    attribute_type: str | None = None,
    limit: int,
    after: str | None,
) -> Page[dict[str, Any]]:
    """A station's device model, ordered by component, variable and key."""
    c = device_variables.c
    query = (
        select(device_variables)
        .where(c.station_id == station_id)
        .order_by(c.component, c.variable, c.variable_key)
        .limit(limit + 1)
    )
    for column, value in (
        (c.component, component),
        (c.variable, variable),
        (c.evse_id, evse_id),
        (c.attribute_type, attribute_type),
    ):
        if value is not None:
            query = query.where(column == value)
    if after:
        last_component, last_variable, last_key = _decode_cursor(after, 3)
        query = query.where(
            or_(
                c.component > last_component,
                and_(c.component == last_component, c.variable > last_variable),
                and_(
                    c.component == last_component,
                    c.variable == last_variable,
                    c.variable_key > last_key,
                ),
            )
        )
    rows = [{str(k): v for k, v in r.items()} for r in await db.all(query)]
    items = rows[:limit]
    cursor = None
    if len(rows) > limit:
        last = items[-1]
        cursor = _encode_cursor(last["component"], last["variable"], last["variable_key"])
    return Page(items, cursor)
