"""Sites: grid connections, their limits, and the stations and EVSEs behind them.

Three tables:

- ``sites``: one row per grid connection: its limit (per phase in A, or total in W), the minimum
  current a session may be given, an optional time-of-day schedule of limit values, and when its
  allocation was last computed.
- ``site_members``: the stations and EVSEs of a site. ``evse_id`` 0 stands for the whole station
  (as EVSE 0 does in OCPP 2.x), so the key has no NULL in it; an EVSE is in at most one site.
- ``site_allocations``: the last allocation of each site, one row per active session: the limit
  computed for it, what the station last accepted, and the state of the profile that carries it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Integer,
    PrimaryKeyConstraint,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from persistence.connections import WriteConnection
from persistence.models import TRANSACTION_ID, device_variables, metadata, transactions
from persistence.pages import Page, decode_cursor, page_of
from persistence.reads import Reads
from persistence.sqltypes import UtcDateTime, utcnow
from persistence.writer import Custom, WriteOp

WHOLE_STATION = 0
"""``site_members.evse_id`` of a member that is a whole station."""

sites = Table(
    "sites",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text(), nullable=False),
    # "A": limit_value is per phase in amperes; "W": the connection's total in watts.
    Column("limit_unit", String(1), nullable=False),
    Column("limit_value", Float(), nullable=False),
    Column("phases", Integer(), nullable=False),
    # Amperes per phase: a session that cannot get this much gets nothing (2.0.1 K08).
    Column("min_current", Float(), nullable=False),
    # [{"start": "HH:MM", "value": float}, ...] in UTC, sorted by start; None: limit_value always.
    Column("schedule", JSON(), nullable=True),
    Column("allocated_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

site_members = Table(
    "site_members",
    metadata,
    Column("site_id", String(64), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("evse_id", Integer(), nullable=False),
    # Higher is served first.
    Column("priority", Integer(), nullable=False),
    PrimaryKeyConstraint("site_id", "station_id", "evse_id"),
    # An EVSE is in one site at most, even when two sites are saved at once; also the index of
    # sites_of_station (the sites a station belongs to).
    UniqueConstraint("station_id", "evse_id"),
)

site_allocations = Table(
    "site_allocations",
    metadata,
    Column("site_id", String(64), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("evse_id", Integer(), nullable=False),
    Column("transaction_id", TRANSACTION_ID, nullable=True),
    Column("limit_value", Float(), nullable=False),
    Column("unit", String(1), nullable=False),
    Column("priority", Integer(), nullable=False),
    # "pending" (not sent yet), "sent", "accepted", "rejected" (or not answered).
    Column("status", String(16), nullable=False),
    # The last limit the station accepted for this session; None: none yet.
    Column("accepted_limit", Float(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("site_id", "station_id", "evse_id"),
)


@dataclass(frozen=True, slots=True)
class SiteMember:
    """A station (``evse_id`` None) or one of its EVSEs, inside a site."""

    station_id: str
    evse_id: int | None
    """None: the whole station; 1.6 connector N is EVSE N."""
    priority: int = 0
    """Higher is served first."""


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """From ``start`` (UTC, minutes since midnight) until the next entry, the limit is ``value``."""

    start_minute: int
    value: float


@dataclass(frozen=True, slots=True)
class Site:
    """A grid connection and what is behind it."""

    id: str
    name: str
    limit_unit: str
    """"A" (per phase) or "W" (total)."""
    limit_value: float
    phases: int
    min_current: float
    """Amperes per phase."""
    schedule: tuple[ScheduleEntry, ...] = ()
    members: tuple[SiteMember, ...] = ()
    allocated_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AllocationRow:
    """One session's share of its site, as last computed and sent."""

    station_id: str
    evse_id: int
    transaction_id: str | None
    limit: float
    unit: str
    priority: int
    status: str
    accepted_limit: float | None = None
    updated_at: datetime | None = field(default=None, compare=False)


def _schedule_json(schedule: Sequence[ScheduleEntry]) -> list[dict[str, Any]] | None:
    if not schedule:
        return None
    return [
        {"start": f"{e.start_minute // 60:02d}:{e.start_minute % 60:02d}", "value": e.value}
        for e in schedule
    ]


def _schedule_of(value: Any) -> tuple[ScheduleEntry, ...]:
    entries = []
    for item in value or ():
        hours, minutes = str(item["start"]).split(":")
        entries.append(ScheduleEntry(int(hours) * 60 + int(minutes), float(item["value"])))
    return tuple(entries)


def _member_row(site_id: str, member: SiteMember) -> dict[str, Any]:
    return {
        "site_id": site_id,
        "station_id": member.station_id,
        "evse_id": WHOLE_STATION if member.evse_id is None else member.evse_id,
        "priority": member.priority,
    }


class SiteConflict(Exception):
    """Members of a site that another site already has (an EVSE draws from one grid connection),
    or a change made at the same time as another to the same site or members."""

    def __init__(self, clashes: Sequence[tuple[str, SiteMember]]) -> None:
        self.clashes = list(clashes)
        if not clashes:
            super().__init__("the site or its members changed at the same time: try again")
            return
        described = ", ".join(
            f"{m.station_id}" + ("" if m.evse_id is None else f" EVSE {m.evse_id}") + f" ({site})"
            for site, m in clashes
        )
        super().__init__(f"already in another site: {described}")


async def save_site(engine: AsyncEngine, site: Site) -> tuple[bool, Site | None]:
    """Create or replace a site with its members, in one transaction; returns (created, the site
    as it was before). Raises ``SiteConflict`` if a member overlaps one of another site. Its last
    allocation stays until the next one replaces it."""
    try:
        return await _save_site(engine, site)
    except IntegrityError:
        # The same site created twice at once, or one EVSE put in two sites at once.
        raise SiteConflict([]) from None


SAVE_LOCK = int.from_bytes(hashlib.sha256(b"voltmesh.sites.save").digest()[:8], "big", signed=True)
"""``pg_advisory_xact_lock`` key that makes saves of sites one at a time on PostgreSQL."""


async def _save_site(engine: AsyncEngine, site: Site) -> tuple[bool, Site | None]:
    async with engine.begin() as conn:
        # Saves go one at a time: the check for overlapping members reads rows another save may
        # be inserting (a whole station in one site and one of its EVSEs in another: no unique
        # key catches that).
        if conn.dialect.name == "postgresql":
            await conn.execute(select(func.pg_advisory_xact_lock(SAVE_LOCK)))
        else:
            # SQLite: a write as the transaction's first statement takes the database's write
            # lock (waiting for it, with a fresh snapshot) before the check reads anything.
            await conn.execute(
                update(sites).where(sites.c.id == site.id).values(updated_at=sites.c.updated_at)
            )
        clashes = await _clashes(conn, site.id, site.members)
        if clashes:
            raise SiteConflict(clashes)
        before = await _site_in(conn, site.id)
        now = utcnow()
        values = {
            "name": site.name,
            "limit_unit": site.limit_unit,
            "limit_value": site.limit_value,
            "phases": site.phases,
            "min_current": site.min_current,
            "schedule": _schedule_json(site.schedule),
            "updated_at": now,
        }
        if before is None:
            await conn.execute(insert(sites).values(id=site.id, created_at=now, **values))
        else:
            await conn.execute(update(sites).where(sites.c.id == site.id).values(values))
        await conn.execute(delete(site_members).where(site_members.c.site_id == site.id))
        if site.members:
            await conn.execute(
                insert(site_members), [_member_row(site.id, m) for m in site.members]
            )
    return before is None, before


async def delete_site(engine: AsyncEngine, site_id: str) -> Site | None:
    """Delete a site, its members and its allocation; returns the site as it was (None: none)."""
    async with engine.begin() as conn:
        before = await _site_in(conn, site_id)
        if before is not None:
            await conn.execute(delete(site_members).where(site_members.c.site_id == site_id))
            await conn.execute(
                delete(site_allocations).where(site_allocations.c.site_id == site_id)
            )
            await conn.execute(delete(sites).where(sites.c.id == site_id))
    return before


class _ConnectionReads:
    """``Reads`` inside a transaction that is under way."""

    def __init__(self, conn: WriteConnection) -> None:
        self._conn = conn

    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> RowMapping | None:
        return (await self._conn.execute(statement, params)).mappings().first()

    async def all(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]:
        return (await self._conn.execute(statement, params)).mappings().all()


async def _site_in(conn: WriteConnection, site_id: str) -> Site | None:
    return await get_site(_ConnectionReads(conn), site_id)


async def _clashes(
    conn: WriteConnection, site_id: str, members: Sequence[SiteMember]
) -> list[tuple[str, SiteMember]]:
    return await members_in_other_sites(_ConnectionReads(conn), site_id, members)


def allocation_recorded(
    site_id: str, computed_at: datetime, rows: Sequence[AllocationRow]
) -> WriteOp:
    """Replace a site's allocation by ``rows`` (its active sessions now). Nothing is written if
    the site was deleted meanwhile."""

    async def run(conn: WriteConnection) -> None:
        stamped = await conn.execute(
            update(sites).where(sites.c.id == site_id).values(allocated_at=computed_at)
        )
        await conn.execute(delete(site_allocations).where(site_allocations.c.site_id == site_id))
        if stamped.rowcount and rows:
            await conn.execute(
                insert(site_allocations),
                [
                    {
                        "site_id": site_id,
                        "station_id": r.station_id,
                        "evse_id": r.evse_id,
                        "transaction_id": r.transaction_id,
                        "limit_value": r.limit,
                        "unit": r.unit,
                        "priority": r.priority,
                        "status": r.status,
                        "accepted_limit": r.accepted_limit,
                        "updated_at": computed_at,
                    }
                    for r in rows
                ],
            )

    return Custom(run)


async def sites_of_station(reads: Reads, station_id: str) -> list[str]:
    """The ids of the sites a station, or any of its EVSEs, belongs to, sorted."""
    c = site_members.c
    rows = await reads.all(
        select(c.site_id).where(c.station_id == station_id).distinct().order_by(c.site_id)
    )
    return [row["site_id"] for row in rows]


async def members_in_other_sites(
    reads: Reads, site_id: str, members: Sequence[SiteMember]
) -> list[tuple[str, SiteMember]]:
    """Members of other sites that overlap ``members`` (the same EVSE, or a whole station and one
    of its EVSEs), as (other site id, its member): an EVSE draws from one grid connection only."""
    if not members:
        return []
    c = site_members.c
    station_ids = sorted({m.station_id for m in members})
    rows = await reads.all(
        select(site_members)
        .where(c.station_id.in_(station_ids), c.site_id != site_id)
        .order_by(c.site_id, c.station_id, c.evse_id)
    )
    clashes = []
    for row in rows:
        for member in members:
            if member.station_id != row["station_id"]:
                continue
            theirs = row["evse_id"]
            mine = WHOLE_STATION if member.evse_id is None else member.evse_id
            if WHOLE_STATION in (theirs, mine) or theirs == mine:
                clashes.append((row["site_id"], _member(row)))
                break
    return clashes


def _member(row: Any) -> SiteMember:
    evse_id = row["evse_id"]
    return SiteMember(
        station_id=row["station_id"],
        evse_id=None if evse_id == WHOLE_STATION else evse_id,
        priority=row["priority"],
    )


def _site(row: Any, members: Sequence[SiteMember]) -> Site:
    return Site(
        id=row["id"],
        name=row["name"],
        limit_unit=row["limit_unit"],
        limit_value=row["limit_value"],
        phases=row["phases"],
        min_current=row["min_current"],
        schedule=_schedule_of(row["schedule"]),
        members=tuple(members),
        allocated_at=row["allocated_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _with_members(reads: Reads, rows: Sequence[Any]) -> list[Site]:
    if not rows:
        return []
    c = site_members.c
    ids = [row["id"] for row in rows]
    by_site: dict[str, list[SiteMember]] = {site_id: [] for site_id in ids}
    for member in await reads.all(
        select(site_members).where(c.site_id.in_(ids)).order_by(c.station_id, c.evse_id)
    ):
        by_site[member["site_id"]].append(_member(member))
    return [_site(row, by_site[row["id"]]) for row in rows]


async def get_site(reads: Reads, site_id: str) -> Site | None:
    row = await reads.first(select(sites).where(sites.c.id == site_id))
    if row is None:
        return None
    return (await _with_members(reads, [row]))[0]


async def list_sites(reads: Reads, *, limit: int, after: str | None) -> Page[Site]:
    """Sites ordered by id; ``after`` is the cursor of the previous page."""
    query = select(sites).order_by(sites.c.id).limit(limit + 1)
    if after:
        (last_id,) = decode_cursor(after, 1)
        query = query.where(sites.c.id > last_id)
    rows = await reads.all(query)
    return page_of(
        await _with_members(reads, rows[: limit + 1]), limit, lambda s: s, lambda s: (s.id,)
    )


async def all_sites(reads: Reads, site_ids: Sequence[str] | None = None) -> list[Site]:
    """Every site (or those of ``site_ids``) with its members, by id."""
    query = select(sites).order_by(sites.c.id)
    if site_ids is not None:
        query = query.where(sites.c.id.in_(list(site_ids)))
    return await _with_members(reads, await reads.all(query))


async def allocation_of(reads: Reads, site_id: str) -> list[AllocationRow]:
    """A site's last allocation, by station and EVSE."""
    c = site_allocations.c
    rows = await reads.all(
        select(site_allocations).where(c.site_id == site_id).order_by(c.station_id, c.evse_id)
    )
    return [
        AllocationRow(
            station_id=r["station_id"],
            evse_id=r["evse_id"],
            transaction_id=r["transaction_id"],
            limit=r["limit_value"],
            unit=r["unit"],
            priority=r["priority"],
            status=r["status"],
            accepted_limit=r["accepted_limit"],
            updated_at=r["updated_at"],
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """An open transaction at one of a site's members."""

    station_id: str
    evse_id: int
    transaction_id: str
    priority: int
    """The priority of the member it is at (an EVSE's own membership before its station's)."""
    stored_at: datetime
    """When the CSMS stored its start (``transactions.created_at``, the CSMS's clock)."""


async def active_sessions(reads: Reads, site: Site) -> list[ActiveSession]:
    """The open transactions (not stopped, not marked stale) at ``site``'s members, in the order
    they started, the newest of each EVSE. A transaction whose EVSE is unknown cannot be given a
    profile, and is left out."""
    if not site.members:
        return []
    t = transactions.c
    by_member = {(m.station_id, m.evse_id): m.priority for m in site.members}
    rows = await reads.all(
        select(t.id, t.station_id, t.evse_id, t.created_at)
        .where(
            t.station_id.in_(sorted({m.station_id for m in site.members})),
            t.stop_time.is_(None),
            t.stale == false(),
            t.evse_id.is_not(None),
            t.evse_id > 0,
        )
        .order_by(t.created_at, t.id)
    )
    # One session per EVSE: a newer one supersedes an older that was never closed (its charger
    # started another there), which then draws nothing.
    by_evse: dict[tuple[str, int], ActiveSession] = {}
    for row in rows:
        station_id, evse_id = row["station_id"], row["evse_id"]
        priority = by_member.get((station_id, evse_id), by_member.get((station_id, None)))
        if priority is not None:
            by_evse.pop((station_id, evse_id), None)
            by_evse[(station_id, evse_id)] = ActiveSession(
                station_id, evse_id, row["id"], priority, row["created_at"]
            )
    return list(by_evse.values())


async def evse_power_ratings(
    reads: Reads, station_ids: Sequence[str]
) -> dict[tuple[str, int], float]:
    """(station, EVSE) -> the most power in W the EVSE can deliver, where a 2.x station reported
    it: the ``maxLimit`` of its EVSE component's ``Power`` variable (2.0.1 part 2 appendix,
    referenced components)."""
    if not station_ids:
        return {}
    d = device_variables.c
    rows = await reads.all(
        select(d.station_id, d.evse_id, d.characteristics).where(
            d.station_id.in_(sorted(set(station_ids))),
            d.component == "EVSE",
            d.variable == "Power",
            d.evse_id.is_not(None),
        )
    )
    ratings: dict[tuple[str, int], float] = {}
    for row in rows:
        limit = (row["characteristics"] or {}).get("maxLimit")
        if isinstance(limit, int | float) and not isinstance(limit, bool) and limit > 0:
            key = (row["station_id"], row["evse_id"])
            ratings[key] = max(ratings.get(key, 0.0), float(limit))
    return ratings
