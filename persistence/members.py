"""Cluster members as stored: each shard process of each pod registers itself and refreshes its row
while it lives; a row not refreshed for a while is a dead member, whose stations nobody holds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import dialect_insert
from persistence.models import members
from persistence.reads import Reads
from persistence.sqltypes import utcnow


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


async def declare_dead(engine: AsyncEngine, *, silent_for: timedelta) -> list[str]:
    """Members alive on record whose row was not refreshed for ``silent_for``: marked dead, and
    returned (the caller releases their leases)."""
    cutoff = utcnow() - silent_for
    async with engine.begin() as conn:
        names = list(
            (
                await conn.execute(
                    select(members.c.name).where(
                        members.c.alive.is_(True), members.c.last_seen < cutoff
                    )
                )
            ).scalars()
        )
        if names:
            await conn.execute(
                update(members)
                .where(members.c.name.in_(names), members.c.last_seen < cutoff)
                .values(alive=False)
            )
    return names


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
