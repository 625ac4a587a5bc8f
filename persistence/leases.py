"""Station leases: which cluster member holds each station's websocket, under a rising epoch.

A charger that connects takes its station's lease with the epoch raised by one; the member that held
it before (if another) is told to close its socket. Writes made for a station carry the epoch they
were made under (``persistence.writer.Fence``), so a member that lost the station cannot overwrite
what the new owner wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Executable, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.connections import WriteConnection
from persistence.database import dialect_insert, dialect_name
from persistence.models import station_leases
from persistence.reads import Reads
from persistence.sqltypes import utcnow
from persistence.writer import Custom, TakenLease, WriteOp


@dataclass(frozen=True, slots=True)
class Lease:
    """A station's lease as stored."""

    station_id: str
    member: str | None
    """The member holding the station's websocket; None: nobody."""
    epoch: int
    protocol: str | None
    """The OCPP version its connection speaks."""


__all__ = [
    "Lease",
    "TakenLease",
    "held_counts",
    "lease_of",
    "reclaim_leases",
    "release_lease",
    "take_lease",
]


_HOLDER = select(station_leases.c.member).where(station_leases.c.station_id == bindparam("station"))
_TAKE: dict[str, Executable] = {}


def _take_statement(dialect: str) -> Executable:
    """One statement that takes a lease: the first epoch is 1, each take after raises it by one,
    atomically (the row is locked by the upsert itself), and returns it. Built once per dialect."""
    statement = _TAKE.get(dialect)
    if statement is None:
        insert = dialect_insert(dialect, station_leases).values(
            station_id=bindparam("station"),
            member=bindparam("member"),
            epoch=1,
            protocol=bindparam("protocol"),
            taken_at=bindparam("now"),
        )
        statement = _TAKE[dialect] = insert.on_conflict_do_update(
            index_elements=["station_id"],
            set_={
                "member": insert.excluded.member,
                "epoch": station_leases.c.epoch + 1,
                "protocol": insert.excluded.protocol,
                "taken_at": insert.excluded.taken_at,
            },
        ).returning(station_leases.c.epoch)
    return statement


def take_lease(station_id: str, member: str, protocol: str) -> WriteOp:
    """Give ``member`` the station's lease with the epoch raised; the op returns a ``TakenLease``.

    Two members taking the same station at once get different epochs: the upsert raises it in
    place (SQLite's writer holds the write lock from its BEGIN; PostgreSQL locks the row)."""

    async def take(conn: WriteConnection) -> TakenLease:
        # Whom to tell: read without a lock. Two takes racing may both name the same previous
        # holder; the one they do not name learns it from its next write (``StaleEpoch``).
        previous = (await conn.execute(_HOLDER, {"station": station_id})).scalar()
        epoch = (
            await conn.execute(
                _take_statement(dialect_name(conn)),
                {"station": station_id, "member": member, "protocol": protocol, "now": utcnow()},
            )
        ).scalar_one()
        return TakenLease(station_id, int(epoch), previous)

    return Custom(take)


def release_lease(station_id: str, member: str, epoch: int) -> WriteOp:
    """The member's connection of the station closed: nobody holds it (unless it moved on)."""

    async def release(conn: WriteConnection) -> None:
        await conn.execute(
            update(station_leases)
            .where(
                station_leases.c.station_id == station_id,
                station_leases.c.member == member,
                station_leases.c.epoch == epoch,
            )
            .values(member=None)
        )

    return Custom(release)


async def release_leases_of(conn: WriteConnection, members: list[str]) -> dict[str, list[str]]:
    """In the caller's transaction: the stations ``members`` held, now held by nobody, by member
    (every one of ``members`` is a key)."""
    released: dict[str, list[str]] = {member: [] for member in members}
    held = await conn.execute(
        select(station_leases.c.member, station_leases.c.station_id).where(
            station_leases.c.member.in_(members)
        )
    )
    for row in held:
        released[row.member].append(row.station_id)
    if any(released.values()):
        await conn.execute(
            update(station_leases).where(station_leases.c.member.in_(members)).values(member=None)
        )
    return released


async def release_member_leases(engine: AsyncEngine, member: str) -> list[str]:
    """A member died or restarted: its stations are held by nobody. Returns their ids."""
    async with engine.begin() as conn:
        return (await release_leases_of(conn, [member]))[member]


async def lease_of(db: Reads, station_id: str) -> Lease | None:
    row = await db.first(
        select(station_leases.c.member, station_leases.c.epoch, station_leases.c.protocol).where(
            station_leases.c.station_id == station_id
        )
    )
    if row is None:
        return None
    return Lease(station_id, row["member"], int(row["epoch"]), row["protocol"])


async def held_counts(db: Reads) -> dict[str, int]:
    """Stations held, per member."""
    rows = await db.all(
        select(station_leases.c.member, func.count().label("held"))
        .where(station_leases.c.member.is_not(None))
        .group_by(station_leases.c.member)
    )
    return {row["member"]: int(row["held"]) for row in rows}


async def reclaim_leases(engine: AsyncEngine, member: str, held: list[tuple[str, int]]) -> set[str]:
    """``member`` still holds these (station, epoch) sockets after being taken for dead: its
    leases come back, unless the station connected elsewhere since (a newer epoch). Returns the
    stations taken back."""
    taken: set[str] = set()
    if not held:
        return taken
    async with engine.begin() as conn:
        for station, epoch in held:
            result = await conn.execute(
                update(station_leases)
                .where(
                    station_leases.c.station_id == station,
                    station_leases.c.epoch == epoch,
                    station_leases.c.member.is_(None),
                )
                .values(member=member)
            )
            if result.rowcount:
                taken.add(station)
    return taken
