"""Reservations of a station's EVSE or connector (OCPP 1.6 section 5.13 ReserveNow and 5.1
CancelReservation; 2.0.1 H01-H04), as the stations' answers told them.

A row is written when a station answers Accepted to a ReserveNow, whoever sent it (the REST
resource or the raw command endpoint). Its stored status is ``Active`` until a CancelReservation is
accepted (``Cancelled``), a 2.x station reports it ``Expired`` or ``Removed``
(ReservationStatusUpdate), or the expiry sweep finds it expired or used. What a reader sees is
derived at read time as well (``derived_status``): a reservation past its expiry is ``Expired``,
and one a transaction used (``_using_transaction``) is ``Used``, even before the sweep wrote it.
A 1.6 station's reservation also ends as ``Removed`` when its connector or the station becomes
Faulted or Unavailable (``v16_reservations_removed``).

Reservation ids are integers that voltmesh allocates from the ``reservation`` counter; the id of a
reservation the operator sent through the raw command endpoint raises the counter past it, so that
voltmesh's own ids never collide with one already seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Index,
    Integer,
    RowMapping,
    Select,
    String,
    Table,
    UniqueConstraint,
    and_,
    case,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.connections import WriteConnection
from persistence.database import dialect_insert
from persistence.models import TRANSACTION_ID, AutoId, id_counters, metadata, transactions
from persistence.pages import Page, id_of_cursor, page_of
from persistence.reads import Reads
from persistence.sqltypes import UtcDateTime, utcnow
from persistence.writer import Custom, Update, WriteOp

COUNTER = "reservation"
"""The ``id_counters`` row voltmesh allocates reservation ids from."""


class ReservationStatus(StrEnum):
    """Where a reservation stands."""

    ACTIVE = "Active"
    """The station accepted it and holds it until its expiry."""
    USED = "Used"
    """A transaction started with its id."""
    EXPIRED = "Expired"
    """Its expiry passed unused (or a 2.x station reported it Expired)."""
    CANCELLED = "Cancelled"
    """The station accepted a CancelReservation."""
    REMOVED = "Removed"
    """The station removed it: a 2.x station said so (ReservationStatusUpdate Removed), a 1.6
    station's reserved connector or the station itself became Faulted or Unavailable."""


reservations = Table(
    "reservations",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("station_id", String(64), nullable=False),
    # The OCPP reservationId (1.6) / id (2.x).
    Column("reservation_id", Integer(), nullable=False),
    Column("id_token", String(255), nullable=False),
    Column("id_token_type", String(32), nullable=True),
    Column("group_id_token", String(255), nullable=True),
    # 2.x evseId; 1.6 the connectorId when it names one (a 1.6 connector N is EVSE N).
    Column("evse_id", Integer(), nullable=True),
    # 1.6 connectorId as sent (0: any connector); None for 2.x.
    Column("connector_id", Integer(), nullable=True),
    Column("connector_type", String(32), nullable=True),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    # The transaction that used it, once the sweep saw it.
    Column("transaction_id", TRANSACTION_ID, nullable=True),
    Column("ended_at", UtcDateTime(), nullable=True),
    Column("protocol", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # 2.0.1 H01: a ReserveNow with the id of a reservation the station holds replaces it.
    UniqueConstraint("station_id", "reservation_id"),
    # The expiry sweep reads the active reservations.
    Index("ix_reservations_status_expires_at", "status", "expires_at"),
    Index("ix_reservations_reservation_id", "reservation_id"),
)

# Whether a reservation was used is read from its station's transactions since it was accepted
# (``_using_transaction``): a few rows of this index, whichever way the transaction used it.
Index(
    "ix_transactions_station_id_created_at",
    transactions.c.station_id,
    transactions.c.created_at,
)


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    """A reservation as readers see it (status derived)."""

    station_id: str
    reservation_id: int
    id_token: str
    id_token_type: str | None
    group_id_token: str | None
    evse_id: int | None
    connector_id: int | None
    connector_type: str | None
    expires_at: datetime
    status: ReservationStatus
    transaction_id: str | None
    """The transaction that used it (None: not used)."""
    ended_at: datetime | None
    protocol: str
    created_at: datetime
    row_id: int
    """The row's own id: the order of the listing."""


@dataclass(frozen=True, slots=True)
class ReservationAccepted:
    """What a station accepted in a ReserveNow, in one shape for every version."""

    station_id: str
    reservation_id: int
    id_token: str
    id_token_type: str | None
    group_id_token: str | None
    evse_id: int | None
    connector_id: int | None
    connector_type: str | None
    expires_at: datetime
    protocol: str


def reservation_accepted(accepted: ReservationAccepted) -> WriteOp:
    """The station holds this reservation now (replacing one of the same id it held), and the id
    counter passes its id."""
    now = utcnow()
    row = {
        "station_id": accepted.station_id,
        "reservation_id": accepted.reservation_id,
        "id_token": accepted.id_token,
        "id_token_type": accepted.id_token_type,
        "group_id_token": accepted.group_id_token,
        "evse_id": accepted.evse_id,
        "connector_id": accepted.connector_id,
        "connector_type": accepted.connector_type,
        "expires_at": accepted.expires_at,
        "status": ReservationStatus.ACTIVE.value,
        "transaction_id": None,
        "ended_at": None,
        "protocol": accepted.protocol,
        "created_at": now,
        "updated_at": now,
    }

    async def run(conn: WriteConnection) -> None:
        insert = dialect_insert(conn, reservations)
        changed = {
            name: insert.excluded[name]
            for name in row
            if name not in ("station_id", "reservation_id")
        }
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=["station_id", "reservation_id"], set_=changed
            ),
            [row],
        )
        await _raise_counter_past(conn, accepted.reservation_id)

    return Custom(run)


OCPP_MAX_INTEGER = 2**31 - 1
"""OCPP's integer is 32 bits with a sign (the primitive datatypes of 1.6 and of 2.0.1 part 2): a
reservation id at the top leaves the counter where it is, so that voltmesh never hands out an id
a station cannot take."""


async def _raise_counter_past(conn: WriteConnection, reservation_id: int) -> None:
    if reservation_id >= OCPP_MAX_INTEGER:
        return
    value = id_counters.c.next_value
    raised = await conn.execute(
        update(id_counters)
        .where(id_counters.c.name == COUNTER)
        .values(next_value=case((value <= reservation_id, reservation_id + 1), else_=value))
    )
    if not raised.rowcount:
        await conn.execute(
            dialect_insert(conn, id_counters)
            .values(name=COUNTER, next_value=max(reservation_id + 1, 1))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        await conn.execute(
            update(id_counters)
            .where(id_counters.c.name == COUNTER)
            .values(next_value=case((value <= reservation_id, reservation_id + 1), else_=value))
        )


async def allocate_reservation_id(engine: AsyncEngine) -> int:
    """A reservation id nobody used yet (ids start at 1), on its own transaction: the operator
    waits for it, and nothing batches with it."""
    bump = (
        update(id_counters)
        .where(id_counters.c.name == COUNTER)
        .values(next_value=id_counters.c.next_value + 1)
        .returning(id_counters.c.next_value)
    )
    async with engine.begin() as conn:
        end = (await conn.execute(bump)).scalar()
        if end is None:
            await conn.execute(
                dialect_insert(conn, id_counters)
                .values(name=COUNTER, next_value=1)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            end = (await conn.execute(bump)).scalar_one()
    return int(end) - 1


def reservation_ended(
    station_id: str,
    reservation_id: int,
    status: ReservationStatus,
    *,
    transaction_id: str | None = None,
    accepted_at: datetime | None = None,
) -> Update:
    """An active reservation ends (Cancelled, Expired, Removed or Used); applying it returns the
    row count, 0 when it had ended already: whoever gets 1 tells the operators. ``accepted_at``
    (its ``created_at`` as read): only if the station did not accept another reservation of the
    same id since it was read."""
    now = utcnow()
    values: dict[str, Any] = {"status": status.value, "ended_at": now, "updated_at": now}
    if transaction_id is not None:
        values["transaction_id"] = transaction_id
    where: dict[str, Any] = {
        "station_id": station_id,
        "reservation_id": reservation_id,
        "status": ReservationStatus.ACTIVE.value,
    }
    if accepted_at is not None:
        where["created_at"] = accepted_at
    return Update(reservations, where, values)


V16_PROTOCOL = "ocpp1.6"
"""The ``protocol`` of a reservation a 1.6 station holds."""


def v16_reservations_removed(station_id: str, evse_id: int | None, *, before: datetime) -> WriteOp:
    """A 1.6 station's connector (``evse_id``; None: the charge point itself) became Faulted or
    Unavailable at ``before``: the active reservations it held there, accepted before then, end
    as Removed (1.6 section 5.13; the station tells nothing of it). Applying it returns their
    reservation ids."""
    now = utcnow()
    r = reservations.c
    conditions = [
        r.station_id == station_id,
        r.status == ReservationStatus.ACTIVE.value,
        r.protocol == V16_PROTOCOL,
        r.created_at <= before,
    ]
    if evse_id is not None:
        conditions.append(r.evse_id == evse_id)
    statement = (
        update(reservations)
        .where(*conditions)
        .values(status=ReservationStatus.REMOVED.value, ended_at=now, updated_at=now)
        .returning(r.reservation_id)
    )

    async def run(conn: WriteConnection) -> list[int]:
        return sorted(int(v) for v in (await conn.execute(statement)).scalars())

    return Custom(run)


ACCEPTED_AT_START = "Accepted"
"""The authorization status (``extra["authorization"]`` of a 1.6 transaction) of a start the
CSMS accepted; any other was refused."""


def _using_transaction() -> Any:
    """The first transaction at the reservation's station, started since the station accepted
    it, that used it: one that carries its id (1.6 StartTransaction, 2.x TransactionEvent); on a
    1.6 station also one without a reservation id that started for the reserved id tag on the
    reserved connector (any, for connector 0) before the expiry, which ends the reservation at
    the station all the same (1.6 section 5.13). A transaction that used an earlier reservation
    of the same id (given again through the raw command endpoint, which replaces it at the
    station: 1.6 section 5.13, 2.0.1 H01) does not use this one.

    A start the CSMS refused (1.6 StartTransaction answered Expired, Invalid, Blocked or
    ConcurrentTx: the authorization status it was answered, ``extra["authorization"]``, is not
    Accepted) does not use it: the driver never charged, and the row stays so marked whether it
    is closed as refused or by the station's own stop. A transaction abandoned later (its
    station booted mid-session) was Accepted at its start and did use it. A 2.x start is stored
    without that mark (the station ends a transaction whose token it is told is not Accepted,
    2.0.1 E05), so it counts as used as it always did."""
    t = transactions.c
    r = reservations.c
    authorization = t.extra["authorization"].as_string()
    accepted_at_start = or_(authorization.is_(None), authorization == ACCEPTED_AT_START)
    implicit = and_(
        r.protocol == V16_PROTOCOL,
        t.reservation_id.is_(None),
        t.id_token == r.id_token,
        or_(r.evse_id.is_(None), t.evse_id == r.evse_id),
        t.created_at <= r.expires_at,
    )
    return (
        select(t.id)
        .where(
            t.station_id == r.station_id,
            t.created_at >= r.created_at,
            or_(t.reservation_id == r.reservation_id, implicit),
            accepted_at_start,
        )
        .order_by(t.created_at, t.id)
        .limit(1)
        .scalar_subquery()
    )


def _derived(now: datetime, used_by: Any) -> ColumnElement[str]:
    r = reservations.c
    return case(
        (r.status != ReservationStatus.ACTIVE.value, r.status),
        (used_by.is_not(None), literal(ReservationStatus.USED.value)),
        (r.expires_at <= now, literal(ReservationStatus.EXPIRED.value)),
        else_=r.status,
    )


def _query(now: datetime) -> Select[Any]:
    used_by = _using_transaction()
    return select(
        reservations,
        _derived(now, used_by).label("derived_status"),
        used_by.label("used_by"),
    )


def _record(row: RowMapping) -> ReservationRecord:
    return ReservationRecord(
        station_id=row["station_id"],
        reservation_id=row["reservation_id"],
        id_token=row["id_token"],
        id_token_type=row["id_token_type"],
        group_id_token=row["group_id_token"],
        evse_id=row["evse_id"],
        connector_id=row["connector_id"],
        connector_type=row["connector_type"],
        expires_at=row["expires_at"],
        status=ReservationStatus(row["derived_status"]),
        transaction_id=row["transaction_id"] or row["used_by"],
        ended_at=row["ended_at"],
        protocol=row["protocol"],
        created_at=row["created_at"],
        row_id=row["id"],
    )


async def get_reservation(
    db: Reads, reservation_id: int, *, now: datetime | None = None
) -> ReservationRecord | None:
    """The reservation with this id (the newest, should the raw command endpoint have given one
    id to two stations)."""
    query = (
        _query(now or utcnow())
        .where(reservations.c.reservation_id == reservation_id)
        .order_by(reservations.c.id.desc())
        .limit(1)
    )
    row = await db.first(query)
    return _record(row) if row is not None else None


async def list_reservations(
    db: Reads,
    *,
    station_id: str | None,
    status: ReservationStatus | None,
    limit: int,
    after: str | None,
    now: datetime | None = None,
) -> Page[ReservationRecord]:
    """Reservations, newest first."""
    now = now or utcnow()
    query = _query(now).order_by(reservations.c.id.desc()).limit(limit + 1)
    if station_id is not None:
        query = query.where(reservations.c.station_id == station_id)
    if status is not None:
        query = query.where(_derived(now, _using_transaction()) == status.value)
    if after:
        query = query.where(reservations.c.id < id_of_cursor(after))
    return page_of(await db.all(query), limit, _record, lambda r: (str(r.row_id),))


async def due_reservations(
    db: Reads, now: datetime, *, limit: int = 500
) -> Sequence[ReservationRecord]:
    """Active reservations that a transaction used or whose expiry passed: what the sweep ends."""
    query = (
        _query(now)
        .where(reservations.c.status == ReservationStatus.ACTIVE.value)
        .where(_derived(now, _using_transaction()) != ReservationStatus.ACTIVE.value)
        .order_by(reservations.c.expires_at)
        .limit(limit)
    )
    return [_record(row) for row in await db.all(query)]
