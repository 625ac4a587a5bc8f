"""Cluster members as stored: each shard process of each pod registers itself and refreshes its row
while it lives; a row not refreshed for a while is a dead member, whose stations nobody holds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.connections import WriteConnection
from persistence.database import dialect_insert
from persistence.leases import release_leases_of
from persistence.models import members
from persistence.reads import Reads
from persistence.sqltypes import utcnow
from persistence.writer import Custom, WriteOp


@dataclass(frozen=True, slots=True)
class MemberRecord:
    name: str
    """``<node>/<shard>``: unique in the cluster, the same across a shard's restarts."""
    node: str
    """The pod (``VOLTMESH_NODE_NAME``)."""
    shard: int
    pid: int
    """Its process id within its pod."""
    address: str
    """host:port of its control-plane actor."""
    started_at: datetime
    last_seen: datetime
    alive: bool


async def register_member(
    engine: AsyncEngine, *, name: str, node: str, shard: int, address: str
) -> MemberRecord:
    """This member (re)starts: its row says alive, with a new start time and address."""
    now = utcnow()
    pid = os.getpid()
    values = {
        "node": node,
        "shard": shard,
        "pid": pid,
        "address": address,
        "started_at": now,
        "last_seen": now,
        "alive": True,
    }
    async with engine.begin() as conn:
        statement = dialect_insert(conn, members).values(name=name, **values)
        await conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))
    return MemberRecord(name, node, shard, pid, address, now, now, True)


async def refresh_member(engine: AsyncEngine, name: str) -> bool:
    """This member is alive; False if another member declared it dead meanwhile."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(members)
            .where(members.c.name == name, members.c.alive.is_(True))
            .values(last_seen=utcnow())
        )
    return bool(result.rowcount)


async def declare_dead(engine: AsyncEngine, *, silent_for: timedelta) -> dict[str, int]:
    """Members alive on record whose row was not refreshed for ``silent_for`` are marked dead and
    their leases released, in one transaction: a member that comes back meanwhile finds either
    both done (and takes its stations back) or neither. Returns stations released per member.

    The statement that marks them writes first, so on SQLite it takes the write lock before it
    reads anything another process could change."""
    cutoff = utcnow() - silent_for
    async with engine.begin() as conn:
        names = list(
            (
                await conn.execute(
                    update(members)
                    .where(members.c.alive.is_(True), members.c.last_seen < cutoff)
                    .values(alive=False)
                    .returning(members.c.name)
                )
            ).scalars()
        )
        if not names:
            return {}
        released = await release_leases_of(conn, names)
    return {member: len(stations) for member, stations in released.items()}


async def mark_dead(engine: AsyncEngine, name: str) -> None:
    """A member stopped (drained) or its process died."""
    async with engine.begin() as conn:
        await conn.execute(update(members).where(members.c.name == name).values(alive=False))


async def list_members(db: Reads) -> list[MemberRecord]:
    rows = await db.all(select(members).order_by(members.c.node, members.c.shard))
    return [
        MemberRecord(
            r["name"],
            r["node"],
            int(r["shard"]),
            int(r["pid"]),
            r["address"],
            r["started_at"],
            r["last_seen"],
            bool(r["alive"]),
        )
        for r in rows
    ]


def member_seen(name: str) -> WriteOp:
    """A real write, for a writer to find out whether the store takes writes again."""

    async def seen(conn: WriteConnection) -> None:
        await conn.execute(update(members).where(members.c.name == name).values(last_seen=utcnow()))

    return Custom(seen)
