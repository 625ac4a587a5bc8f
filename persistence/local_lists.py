"""Local authorization lists (OCPP 1.6 sections 3.5, 5.10, 5.15; 2.0.1 D01-D02): per station,
the filter that picks its entries from the id tokens, the versions sent and confirmed, and the
entries the station holds as its accepted SendLocalList updates told them.

Which lists need an update is counted, not flagged: every change that may touch a station's list
(an id token edited, its filter changed) raises its ``generation``; a sync remembers the generation
it computed the list from and, once the station accepted it, writes it as ``synced_generation``. A
change that lands while a sync is on its way leaves the list behind, and the next round sends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    case,
    delete,
    select,
    update,
)

from persistence.connections import WriteConnection
from persistence.database import dialect_insert
from persistence.models import metadata
from persistence.reads import Reads
from persistence.sqltypes import UtcDateTime, utcnow
from persistence.writer import Custom, Upsert, WriteOp

local_lists = Table(
    "local_lists",
    metadata,
    Column("station_id", String(64), primary_key=True),
    # Which id tokens the list holds; None: voltmesh does not build this station's list (it only
    # keeps what was sent to it through the raw command endpoint).
    Column("filter", JSON(), nullable=True),
    Column("generation", Integer(), nullable=False, default=0, server_default="0"),
    Column("synced_generation", Integer(), nullable=False, default=0, server_default="0"),
    # The highest version number handed out for this station, accepted or not.
    Column("version_sent", Integer(), nullable=False, default=0, server_default="0"),
    # The version of the last update the station accepted.
    Column("version_confirmed", Integer(), nullable=True),
    # What GetLocalListVersion last answered, and when.
    Column("version_reported", Integer(), nullable=True),
    Column("reported_at", UtcDateTime(), nullable=True),
    # The last SendLocalList the station answered: when, Full/Differential, its status.
    Column("last_sync_at", UtcDateTime(), nullable=True),
    Column("last_sync_type", String(16), nullable=True),
    Column("last_sync_status", String(16), nullable=True),
    # The last attempt, answered or not, and what went wrong with it (no answer, a CALLERROR...).
    Column("last_attempt_at", UtcDateTime(), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

local_list_entries = Table(
    "local_list_entries",
    metadata,
    Column("station_id", String(64), primary_key=True),
    Column("id_token", String(255), primary_key=True, index=True),
    Column("token_type", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("expiry_date", UtcDateTime(), nullable=True),
    Column("parent_id_token", String(255), nullable=True),
    # 2.x: the EVSEs the token is valid at (IdTokenInfo.evseId); None: all of them.
    Column("evse_ids", JSON(), nullable=True),
    # The list version that last set it.
    Column("version", Integer(), nullable=False),
)


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One id token of a local list, as the station holds it (1.6 AuthorizationData, 2.x
    AuthorizationData less what is derived)."""

    id_token: str
    token_type: str | None
    status: str
    expiry_date: datetime | None
    parent_id_token: str | None
    evse_ids: tuple[int, ...] | None = None
    """2.x IdTokenInfo.evseId: the EVSEs the token is valid at; None: all of them."""


@dataclass(frozen=True, slots=True)
class LocalListState:
    """A station's list as stored."""

    station_id: str
    filter: dict[str, Any] | None
    generation: int
    synced_generation: int
    version_sent: int
    version_confirmed: int | None
    version_reported: int | None
    reported_at: datetime | None
    last_sync_at: datetime | None
    last_sync_type: str | None
    last_sync_status: str | None
    last_attempt_at: datetime | None
    last_error: str | None

    @property
    def dirty(self) -> bool:
        """Whether something changed that the station was not sent yet."""
        return self.filter is not None and self.generation > self.synced_generation


def _state(row: RowMapping) -> LocalListState:
    return LocalListState(**{c.name: row[c.name] for c in local_lists.c if c.name != "updated_at"})


async def get_local_list(db: Reads, station_id: str) -> LocalListState | None:
    row = await db.first(select(local_lists).where(local_lists.c.station_id == station_id))
    return _state(row) if row is not None else None


async def list_entries(db: Reads, station_id: str) -> list[ListEntry]:
    """What the station holds, by id token."""
    e = local_list_entries.c
    rows = await db.all(
        select(local_list_entries).where(e.station_id == station_id).order_by(e.id_token)
    )
    return [
        ListEntry(
            r["id_token"],
            r["token_type"],
            r["status"],
            r["expiry_date"],
            r["parent_id_token"],
            tuple(r["evse_ids"]) if r["evse_ids"] is not None else None,
        )
        for r in rows
    ]


async def managed_lists(db: Reads) -> list[tuple[str, dict[str, Any]]]:
    """(station, filter) of every list voltmesh builds."""
    rows = await db.all(
        select(local_lists.c.station_id, local_lists.c.filter).where(
            local_lists.c.filter.is_not(None)
        )
    )
    return [(r["station_id"], r["filter"]) for r in rows if r["filter"] is not None]


async def holders_of(db: Reads, id_token: str) -> list[str]:
    """Stations whose list holds this id token."""
    rows = await db.all(
        select(local_list_entries.c.station_id).where(local_list_entries.c.id_token == id_token)
    )
    return [r["station_id"] for r in rows]


async def dirty_lists(db: Reads) -> list[LocalListState]:
    """Lists with changes their station was not sent yet."""
    c = local_lists.c
    rows = await db.all(
        select(local_lists)
        .where(c.filter.is_not(None), c.generation > c.synced_generation)
        .order_by(c.station_id)
    )
    return [_state(r) for r in rows]


def _new_row(station_id: str, now: datetime) -> dict[str, Any]:
    return {
        "station_id": station_id,
        "filter": None,
        "generation": 0,
        "synced_generation": 0,
        "version_sent": 0,
        "updated_at": now,
    }


async def _ensure_row(conn: WriteConnection, station_id: str, now: datetime) -> None:
    await conn.execute(
        dialect_insert(conn, local_lists)
        .values(_new_row(station_id, now))
        .on_conflict_do_nothing(index_elements=["station_id"])
    )


async def _update_row(conn: WriteConnection, station_id: str, now: datetime, **values: Any) -> None:
    """The station's row, made first if it has none, updated with ``values`` at ``now``."""
    await _ensure_row(conn, station_id, now)
    await conn.execute(
        update(local_lists)
        .where(local_lists.c.station_id == station_id)
        .values(**values, updated_at=now)
    )


def filter_set(station_id: str, list_filter: Mapping[str, Any] | None) -> WriteOp:
    """The operator set the station's filter (None: voltmesh stops building its list): its list
    needs an update."""
    now = utcnow()

    async def run(conn: WriteConnection) -> None:
        await _update_row(
            conn,
            station_id,
            now,
            filter=dict(list_filter) if list_filter is not None else None,
            generation=local_lists.c.generation + 1,
            # A new filter is a new start: a station that refused lists is tried again.
            last_sync_status=case(
                (local_lists.c.last_sync_status == "NotSupported", None),
                else_=local_lists.c.last_sync_status,
            ),
            last_error=None,
        )

    return Custom(run)


def lists_changed(station_ids: Iterable[str]) -> WriteOp:
    """Something these stations' lists are built from changed (an id token)."""
    wanted = sorted(set(station_ids))
    now = utcnow()

    async def run(conn: WriteConnection) -> None:
        if wanted:
            await conn.execute(
                update(local_lists)
                .where(local_lists.c.station_id.in_(wanted))
                .values(generation=local_lists.c.generation + 1, updated_at=now)
            )

    return Custom(run)


def next_version(station_id: str) -> WriteOp:
    """Hand out the station's next list version (greater than every one sent or confirmed, 1.6
    section 5.15, 2.0.1 D01: each update carries a higher version); applying it returns
    the version."""
    now = utcnow()
    c = local_lists.c

    async def run(conn: WriteConnection) -> int:
        await _ensure_row(conn, station_id, now)
        # Past what the station confirmed or reported (a list an earlier store or another
        # central system sent), then one up in a single statement: concurrent senders get
        # different versions.
        for known in (c.version_confirmed, c.version_reported):
            await conn.execute(
                update(local_lists)
                .where(c.station_id == station_id, known.is_not(None), c.version_sent < known)
                .values(version_sent=known)
            )
        bump = (
            update(local_lists)
            .where(c.station_id == station_id)
            .values(version_sent=c.version_sent + 1, last_attempt_at=now, updated_at=now)
            .returning(c.version_sent)
        )
        version = int((await conn.execute(bump)).scalar_one())
        return version

    return Custom(run)


def update_answered(
    station_id: str,
    *,
    version: int,
    update_type: str,
    status: str,
    entries: Sequence[ListEntry],
    removed: Sequence[str],
) -> WriteOp:
    """The station answered a SendLocalList: its status kept, and when Accepted its version and
    entries (a Full update replaces them all, a Differential one changes ``entries`` and drops
    ``removed``)."""
    now = utcnow()
    e = local_list_entries.c

    async def run(conn: WriteConnection) -> None:
        confirmed = {"version_confirmed": version} if status == "Accepted" else {}
        await _update_row(
            conn,
            station_id,
            now,
            last_sync_at=now,
            last_sync_type=update_type,
            last_sync_status=status,
            last_attempt_at=now,
            last_error=None,
            **confirmed,
        )
        if status != "Accepted":
            return
        if update_type == "Full":
            await conn.execute(delete(local_list_entries).where(e.station_id == station_id))
        elif removed:
            await conn.execute(
                delete(local_list_entries).where(
                    e.station_id == station_id, e.id_token.in_(list(removed))
                )
            )
        rows = [
            {
                "station_id": station_id,
                "id_token": entry.id_token,
                "token_type": entry.token_type,
                "status": entry.status,
                "expiry_date": entry.expiry_date,
                "parent_id_token": entry.parent_id_token,
                "evse_ids": list(entry.evse_ids) if entry.evse_ids is not None else None,
                "version": version,
            }
            for entry in entries
        ]
        if rows:
            await Upsert(local_list_entries, rows, ("station_id", "id_token")).apply(conn)

    return Custom(run)


def version_reported(station_id: str, version: int) -> WriteOp:
    """The station answered GetLocalListVersion."""
    now = utcnow()

    async def run(conn: WriteConnection) -> None:
        await _update_row(conn, station_id, now, version_reported=version, reported_at=now)

    return Custom(run)


def synced(station_id: str, generation: int) -> WriteOp:
    """The station accepted the list computed at ``generation``."""
    c = local_lists.c

    async def run(conn: WriteConnection) -> None:
        await conn.execute(
            update(local_lists)
            .where(c.station_id == station_id, c.synced_generation < generation)
            .values(synced_generation=generation)
        )

    return Custom(run)


def attempt_failed(station_id: str, error: str) -> WriteOp:
    """A SendLocalList got no usable answer (none in time, a CALLERROR, not connected)."""
    now = utcnow()

    async def run(conn: WriteConnection) -> None:
        await _update_row(conn, station_id, now, last_attempt_at=now, last_error=error[:500])

    return Custom(run)


def list_forgotten(station_id: str) -> WriteOp:
    """The station was deleted: its list, and what it held, are forgotten (a station registered
    again under its id starts without a filter)."""

    async def run(conn: WriteConnection) -> None:
        await conn.execute(
            delete(local_list_entries).where(local_list_entries.c.station_id == station_id)
        )
        await conn.execute(delete(local_lists).where(local_lists.c.station_id == station_id))

    return Custom(run)
