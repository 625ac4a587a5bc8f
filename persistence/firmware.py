"""Firmware updates, campaigns and publications, as the CSMS asked for them and as the stations
reported on them (OCPP 1.6 UpdateFirmware and FirmwareStatusNotification, the 1.6 security
whitepaper's SignedUpdateFirmware, 2.0.1 L01-L04).

One row per update of one station: its id is what operators see; ``request_id`` is the OCPP
requestId of its latest attempt (a retry gets a new one, so a late notification of an earlier
attempt is not taken for the current one). What the states mean is ``csms.firmware``'s business:
the ops here apply the changes it decides, each inside one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    insert,
    or_,
    select,
    update,
)

from persistence.connections import WriteConnection
from persistence.database import dialect_insert
from persistence.models import AutoId, id_counters, metadata, stations
from persistence.pages import Page, id_of_cursor, page_of
from persistence.reads import Reads
from persistence.sqltypes import UtcDateTime, utcnow
from persistence.writer import Custom, WriteOp

firmware_campaigns = Table(
    "firmware_campaigns",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("location", Text(), nullable=False),
    Column("signature", Text(), nullable=True),
    Column("signing_certificate", Text(), nullable=True),
    # Explicit station ids, or None when ``filter`` selects them at start_at.
    Column("stations", JSON(), nullable=True),
    # {"vendor", "model", "firmware_version"}: stations whose boot matches every key given.
    Column("filter", JSON(), nullable=True),
    Column("start_at", UtcDateTime(), nullable=False),
    Column("install_at", UtcDateTime(), nullable=True),
    Column("concurrency", Integer(), nullable=False),
    # Sent to the station: its own download retries and the seconds between them.
    Column("retries", Integer(), nullable=True),
    Column("retry_interval", Integer(), nullable=True),
    # voltmesh's: how many times it sends the update again after it failed, and after how long.
    Column("resends", Integer(), nullable=True),
    Column("resend_interval", Integer(), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_firmware_campaigns_status", "status"),
)

firmware_updates = Table(
    "firmware_updates",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("station_id", String(64), nullable=False),
    Column("campaign_id", BigInteger(), nullable=True),
    # The OCPP requestId of the latest attempt (None: a 1.6 UpdateFirmware sent as a raw command).
    Column("request_id", Integer(), nullable=True),
    # UpdateFirmware or SignedUpdateFirmware (1.6 security), as last sent.
    Column("action", String(32), nullable=True),
    Column("location", Text(), nullable=False),
    Column("retrieve_at", UtcDateTime(), nullable=True),
    Column("install_at", UtcDateTime(), nullable=True),
    # Sent to the station: its own download retries and the seconds between them.
    Column("retries", Integer(), nullable=True),
    Column("retry_interval", Integer(), nullable=True),
    # voltmesh's: how many times it sends the update again after it failed, and after how long.
    Column("resends", Integer(), nullable=True),
    Column("resend_interval", Integer(), nullable=True),
    Column("signature", Text(), nullable=True),
    Column("signing_certificate", Text(), nullable=True),
    Column("status", String(32), nullable=False),
    # Attempts sent so far (the first included).
    Column("attempts", Integer(), nullable=False),
    # When the retry loop sends it (again): a queued campaign member or a failure with retries left.
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    # Why it failed, as far as the CSMS knows (a CALLERROR, no answer, not connected).
    Column("detail", Text(), nullable=True),
    # The last news of it: sent, answered, or a notification (the loop's TimedOut is measured here).
    Column("last_status_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_firmware_updates_station_id_request_id", "station_id", "request_id"),
    Index("ix_firmware_updates_campaign_id", "campaign_id"),
    Index("ix_firmware_updates_status", "status"),
)

firmware_publications = Table(
    "firmware_publications",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("station_id", String(64), nullable=False),
    Column("request_id", Integer(), nullable=False),
    Column("location", Text(), nullable=False),
    Column("checksum", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    # The URIs the local controller publishes the firmware at (status Published).
    Column("published_at", JSON(), nullable=True),
    Column("detail", Text(), nullable=True),
    Column("last_status_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_firmware_publications_station_id_request_id", "station_id", "request_id"),
)

Row = dict[str, Any]
Change = Callable[[Row], Mapping[str, Any] | None]
"""What to set on a row, seen as it is inside the transaction; None: leave it."""


async def next_request_id(conn: WriteConnection, counter: str) -> int:
    """The next OCPP requestId of ``counter`` (``id_counters``), unique across members and restarts."""
    bump = (
        update(id_counters)
        .where(id_counters.c.name == counter)
        .values(next_value=id_counters.c.next_value + 1)
        .returning(id_counters.c.next_value)
    )
    end = (await conn.execute(bump)).scalar()
    if end is None:
        await conn.execute(
            dialect_insert(conn, id_counters)
            .values(name=counter, next_value=1)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        end = (await conn.execute(bump)).scalar_one()
    return int(end) - 1


REQUEST_COUNTER = "firmware_request"
PUBLICATION_COUNTER = "firmware_publication"


def update_created(values: Mapping[str, Any], *, with_request_id: bool = True) -> WriteOp:
    """A new update (the CSMS is about to send it, or a campaign queued it); returns its row."""

    async def apply(conn: WriteConnection) -> Row:
        now = utcnow()
        row = {
            "attempts": 0,
            "last_status_at": now,
            "created_at": now,
            "updated_at": now,
            **values,
        }
        if with_request_id and row.get("request_id") is None:
            row["request_id"] = await next_request_id(conn, REQUEST_COUNTER)
        result = await conn.execute(
            insert(firmware_updates).values(row).returning(firmware_updates)
        )
        return dict(result.mappings().one())

    return Custom(apply)


def updates_created(rows: Iterable[Mapping[str, Any]]) -> WriteOp:
    """Many updates without a request id yet (a campaign's members, queued)."""
    rows = list(rows)

    async def apply(conn: WriteConnection) -> None:
        now = utcnow()
        if rows:
            await conn.execute(
                insert(firmware_updates),
                [
                    {
                        "request_id": None,
                        "action": None,
                        "attempts": 0,
                        "next_attempt_at": None,
                        "detail": None,
                        "last_status_at": now,
                        "created_at": now,
                        "updated_at": now,
                        **row,
                    }
                    for row in rows
                ],
            )

    return Custom(apply)


def _changed(
    table: Table,
    find: Callable[[WriteConnection], Any],
    change: Change,
    otherwise: Mapping[str, Any] | None = None,
) -> WriteOp:
    async def apply(conn: WriteConnection) -> Row | None:
        found = (await conn.execute(find(conn))).mappings().first()
        if found is None:
            if otherwise is None:
                return None
            now = utcnow()
            new = {"last_status_at": now, "created_at": now, "updated_at": now, **otherwise}
            result = await conn.execute(insert(table).values(new).returning(table))
            return dict(result.mappings().one())
        row = dict(found)
        values = change(row)
        if values is None:
            return None
        values = {**values, "updated_at": utcnow()}
        await conn.execute(table.update().where(table.c.id == row["id"]).values(values))
        return {**row, **values}

    return Custom(apply)


def update_changed(update_id: int, change: Change) -> WriteOp:
    """Change one update (by its id); returns the row as changed, None if unchanged or absent."""
    c = firmware_updates.c
    return _changed(
        firmware_updates, lambda _: select(firmware_updates).where(c.id == update_id), change
    )


def station_update_changed(
    station_id: str,
    request_id: int | None,
    active: Iterable[str] | None,
    change: Change,
    otherwise: Mapping[str, Any] | None = None,
    *,
    location: str | None = None,
) -> WriteOp:
    """Change the station's latest update of ``request_id`` (any, when None: a 1.6
    FirmwareStatusNotification names none) whose status is one of ``active`` (any, when None)
    and, when given, of ``location``. None found: ``otherwise`` is inserted (when given).
    Returns the row as changed or inserted; None if unchanged or absent."""
    c = firmware_updates.c
    statuses = None if active is None else list(active)

    def find(_: WriteConnection) -> Any:
        query = select(firmware_updates).where(c.station_id == station_id)
        if request_id is not None:
            query = query.where(c.request_id == request_id)
        if location is not None:
            query = query.where(c.location == location)
        if statuses is not None:
            query = query.where(c.status.in_(statuses))
        return query.order_by(c.id.desc()).limit(1)

    return _changed(firmware_updates, find, change, otherwise)


def attempt_started(
    update_id: int, action: str, status: str, *, unless: Iterable[str] = ()
) -> WriteOp:
    """The CSMS is about to send the update (again): a new requestId, one more attempt; returns
    the row as changed (None if it is gone, or its status is one of ``unless`` now)."""
    c = firmware_updates.c
    refused = set(unless)

    async def apply(conn: WriteConnection) -> Row | None:
        found = (
            (await conn.execute(select(firmware_updates).where(c.id == update_id)))
            .mappings()
            .first()
        )
        if found is None or found["status"] in refused:
            return None
        now = utcnow()
        values = {
            "request_id": await next_request_id(conn, REQUEST_COUNTER),
            "action": action,
            "status": status,
            "attempts": found["attempts"] + 1,
            "next_attempt_at": None,
            "detail": None,
            "last_status_at": now,
            "updated_at": now,
        }
        await conn.execute(update(firmware_updates).where(c.id == update_id).values(values))
        return {**dict(found), **values}

    return Custom(apply)


def updates_superseded(
    station_id: str,
    keep_id: int,
    active: Iterable[str],
    status: str,
    *,
    detail: str | None = None,
    now: datetime | None = None,
) -> WriteOp:
    """The station dropped its other updates in progress for this one (2.x and 1.6 security
    AcceptedCanceled; a 1.6 UpdateFirmware, which replaces the one before it). Returns the rows as
    changed, by id."""
    c = firmware_updates.c
    statuses = list(active)

    async def apply(conn: WriteConnection) -> list[Row]:
        at = now or utcnow()
        values: dict[str, Any] = {
            "status": status,
            "next_attempt_at": None,
            "last_status_at": at,
            "updated_at": utcnow(),
        }
        if detail is not None:
            values["detail"] = detail[:1000]
        where = (c.station_id == station_id, c.id != keep_id, c.status.in_(statuses))
        found = (await conn.execute(select(firmware_updates).where(*where))).mappings().all()
        if not found:
            return []
        await conn.execute(
            update(firmware_updates)
            .where(*where, c.id.in_([row["id"] for row in found]))
            .values(values)
        )
        return sorted(({**dict(row), **values} for row in found), key=lambda row: row["id"])

    return Custom(apply)


async def get_update(db: Reads, update_id: int) -> Row | None:
    row = await db.first(select(firmware_updates).where(firmware_updates.c.id == update_id))
    return dict(row) if row else None


async def newest_first(
    db: Reads, table: Table, *, station_id: str | None, limit: int, after: str | None
) -> Page[Row]:
    """A page of ``table``'s rows (those of ``station_id`` when given), newest (highest ``id``)
    first, after the row ``after`` names."""
    query = select(table).order_by(table.c.id.desc()).limit(limit + 1)
    if station_id is not None:
        query = query.where(table.c.station_id == station_id)
    if after:
        query = query.where(table.c.id < id_of_cursor(after))
    return page_of(await db.all(query), limit, dict, lambda r: (str(r["id"]),))


async def list_station_updates(
    db: Reads, station_id: str, *, limit: int, after: str | None
) -> Page[Row]:
    """A station's updates, newest first."""
    return await newest_first(db, firmware_updates, station_id=station_id, limit=limit, after=after)


async def due_updates(db: Reads, statuses: Iterable[str], now: datetime) -> list[Row]:
    """Updates in one of ``statuses`` whose next attempt is due."""
    c = firmware_updates.c
    query = (
        select(firmware_updates)
        .where(c.status.in_(list(statuses)), c.next_attempt_at <= now)
        .order_by(c.next_attempt_at, c.id)
        .limit(1000)
    )
    return [dict(r) for r in await db.all(query)]


async def silent_updates(db: Reads, statuses: Iterable[str], before: datetime) -> list[Row]:
    """Updates in one of ``statuses`` with no news since ``before``, leaving out those told to
    download or install after it (silent until then by design)."""
    c = firmware_updates.c
    query = (
        select(firmware_updates)
        .where(
            c.status.in_(list(statuses)),
            c.last_status_at < before,
            or_(c.retrieve_at.is_(None), c.retrieve_at < before),
            or_(c.install_at.is_(None), c.install_at < before),
        )
        .order_by(c.id)
        .limit(1000)
    )
    return [dict(r) for r in await db.all(query)]


# -- campaigns -------------------------------------------------------------------------------


def campaign_created(values: Mapping[str, Any]) -> WriteOp:
    async def apply(conn: WriteConnection) -> Row:
        now = utcnow()
        row = {"created_at": now, "updated_at": now, **values}
        result = await conn.execute(
            insert(firmware_campaigns).values(row).returning(firmware_campaigns)
        )
        return dict(result.mappings().one())

    return Custom(apply)


def campaign_changed(campaign_id: int, values: Mapping[str, Any]) -> WriteOp:
    async def apply(conn: WriteConnection) -> int:
        result = await conn.execute(
            update(firmware_campaigns)
            .where(firmware_campaigns.c.id == campaign_id)
            .values({**values, "updated_at": utcnow()})
        )
        return int(result.rowcount)

    return Custom(apply)


def campaign_started(campaign_id: int, members: Iterable[Mapping[str, Any]]) -> WriteOp:
    """A Scheduled campaign starts: it becomes Running and its members' updates are queued, in
    one transaction (False, nothing done: it was not Scheduled any more)."""
    rows = list(members)

    async def apply(conn: WriteConnection) -> bool:
        now = utcnow()
        result = await conn.execute(
            update(firmware_campaigns)
            .where(
                firmware_campaigns.c.id == campaign_id, firmware_campaigns.c.status == "Scheduled"
            )
            .values(status="Running", updated_at=now)
        )
        if result.rowcount != 1:
            return False
        await updates_created(rows).apply(conn)
        return True

    return Custom(apply)


def campaign_canceled(campaign_id: int) -> WriteOp:
    """The operator stops a campaign: it is Canceled and so are its updates that were not sent
    (queued, or waiting for a retry). Returns None when there is no such campaign."""

    async def apply(conn: WriteConnection) -> bool | None:
        now = utcnow()
        result = await conn.execute(
            update(firmware_campaigns)
            .where(firmware_campaigns.c.id == campaign_id)
            .values(status="Canceled", updated_at=now)
        )
        if result.rowcount != 1:
            return None
        c = firmware_updates.c
        await conn.execute(
            update(firmware_updates)
            .where(c.campaign_id == campaign_id, c.next_attempt_at.is_not(None))
            .values(status="Canceled", next_attempt_at=None, last_status_at=now, updated_at=now)
        )
        return True

    return Custom(apply)


async def get_campaign(db: Reads, campaign_id: int) -> Row | None:
    row = await db.first(select(firmware_campaigns).where(firmware_campaigns.c.id == campaign_id))
    return dict(row) if row else None


async def list_campaigns(db: Reads, *, limit: int, after: str | None) -> Page[Row]:
    """Campaigns, newest first."""
    return await newest_first(db, firmware_campaigns, station_id=None, limit=limit, after=after)


async def campaigns_in(db: Reads, statuses: Iterable[str], now: datetime) -> list[Row]:
    """Campaigns in one of ``statuses`` that have started by ``now``."""
    c = firmware_campaigns.c
    query = (
        select(firmware_campaigns)
        .where(c.status.in_(list(statuses)), c.start_at <= now)
        .order_by(c.id)
    )
    return [dict(r) for r in await db.all(query)]


async def campaign_counts(db: Reads, campaign_id: int) -> dict[str, int]:
    """Status -> how many of the campaign's updates are in it."""
    c = firmware_updates.c
    query = (
        select(c.status, func.count().label("count"))
        .where(c.campaign_id == campaign_id)
        .group_by(c.status)
        .order_by(c.status)
    )
    return {r["status"]: int(r["count"]) for r in await db.all(query)}


async def campaign_count(
    db: Reads, campaign_id: int, statuses: Iterable[str], *, waiting: bool = False
) -> int:
    """How many of the campaign's updates are in one of ``statuses`` (and, when ``waiting``,
    have an attempt to come)."""
    c = firmware_updates.c
    query = select(func.count().label("count")).where(
        c.campaign_id == campaign_id, c.status.in_(list(statuses))
    )
    if waiting:
        query = query.where(c.next_attempt_at.is_not(None))
    row = await db.first(query)
    return int(row["count"]) if row else 0


async def campaign_due(
    db: Reads, campaign_id: int, statuses: Iterable[str], now: datetime, limit: int
) -> list[Row]:
    """The campaign's updates in one of ``statuses`` whose attempt is due, oldest due first, at
    most ``limit`` (a round reads what it may send, not the whole campaign)."""
    if limit <= 0:
        return []
    c = firmware_updates.c
    query = (
        select(firmware_updates)
        .where(
            c.campaign_id == campaign_id,
            c.status.in_(list(statuses)),
            c.next_attempt_at <= now,
        )
        .order_by(c.next_attempt_at, c.id)
        .limit(limit)
    )
    return [dict(r) for r in await db.all(query)]


async def existing_stations(db: Reads, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` that are stations the store knows."""
    wanted = list(ids)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            r["id"] for r in await db.all(select(stations.c.id).where(stations.c.id.in_(chunk)))
        )
    return found


async def stations_matching(db: Reads, wanted: Mapping[str, str]) -> list[str]:
    """Registered stations whose boot matches every key of ``wanted`` (vendor, model,
    firmware_version), by id."""
    c = stations.c
    query = select(c.id).where(c.registered.is_(True)).order_by(c.id)
    for key in ("vendor", "model", "firmware_version"):
        if key in wanted:
            query = query.where(c[key] == wanted[key])
    return [r["id"] for r in await db.all(query)]


# -- publications (2.x local controllers, L03/L04) ------------------------------------------


def publication_created(values: Mapping[str, Any]) -> WriteOp:
    async def apply(conn: WriteConnection) -> Row:
        now = utcnow()
        row = {"last_status_at": now, "created_at": now, "updated_at": now, **values}
        if row.get("request_id") is None:
            row["request_id"] = await next_request_id(conn, PUBLICATION_COUNTER)
        result = await conn.execute(
            insert(firmware_publications).values(row).returning(firmware_publications)
        )
        return dict(result.mappings().one())

    return Custom(apply)


def publication_changed(
    station_id: str,
    *,
    request_id: int | None,
    publication_id: int | None,
    change: Change,
    otherwise: Mapping[str, Any] | None = None,
) -> WriteOp:
    """Change the station's publication of ``request_id`` (or by id); None: its latest."""
    c = firmware_publications.c

    def find(_: WriteConnection) -> Any:
        query = select(firmware_publications).where(c.station_id == station_id)
        if publication_id is not None:
            query = query.where(c.id == publication_id)
        elif request_id is not None:
            query = query.where(c.request_id == request_id)
        return query.order_by(c.id.desc()).limit(1)

    return _changed(firmware_publications, find, change, otherwise)


def publications_unpublished(station_id: str, checksum: str, now: datetime) -> WriteOp:
    """The station stopped publishing the firmware of ``checksum``; returns the rows changed."""
    c = firmware_publications.c

    async def apply(conn: WriteConnection) -> list[Row]:
        query = select(firmware_publications).where(
            c.station_id == station_id, c.checksum == checksum, c.status != "Unpublished"
        )
        rows = [dict(r) for r in (await conn.execute(query)).mappings().all()]
        values = {"status": "Unpublished", "last_status_at": now, "updated_at": now}
        for row in rows:
            await conn.execute(
                update(firmware_publications).where(c.id == row["id"]).values(values)
            )
        return [{**row, **values} for row in rows]

    return Custom(apply)


async def get_publication(db: Reads, station_id: str, publication_id: int) -> Row | None:
    c = firmware_publications.c
    row = await db.first(
        select(firmware_publications).where(c.id == publication_id, c.station_id == station_id)
    )
    return dict(row) if row else None


async def list_publications(
    db: Reads, station_id: str, *, limit: int, after: str | None
) -> Page[Row]:
    """A station's publications, newest first."""
    return await newest_first(
        db, firmware_publications, station_id=station_id, limit=limit, after=after
    )
