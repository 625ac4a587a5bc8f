"""Log requests (2.0.1 N01 GetLog, the 1.6 security whitepaper's GetLog, 1.6 GetDiagnostics) as the
CSMS sent them and the stations reported on them, and the file each station uploaded.

``token`` is the secret part of the upload URL made for the request (stations without a password
authenticate with it); it is never shown through the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from persistence.connections import WriteConnection
from persistence.firmware import newest_first, next_request_id
from persistence.models import AutoId, metadata
from persistence.pages import Page
from persistence.reads import Reads
from persistence.sqltypes import UtcDateTime, utcnow
from persistence.writer import Custom, WriteOp

log_requests = Table(
    "log_requests",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("station_id", String(64), nullable=False),
    Column("request_id", Integer(), nullable=True),
    # GetLog, or GetDiagnostics (1.6 without the security extension), as sent.
    Column("action", String(32), nullable=True),
    Column("log_type", String(32), nullable=False),
    Column("oldest", UtcDateTime(), nullable=True),
    Column("latest", UtcDateTime(), nullable=True),
    Column("retries", Integer(), nullable=True),
    Column("retry_interval", Integer(), nullable=True),
    Column("token", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("detail", Text(), nullable=True),
    # The file the station announced (GetLog/GetDiagnostics answer).
    Column("announced_name", Text(), nullable=True),
    # The file it sent: its name as given (sanitised), where it is kept under the data directory,
    # its size and digest.
    Column("file_name", Text(), nullable=True),
    Column("stored_path", Text(), nullable=True),
    Column("file_size", BigInteger(), nullable=True),
    Column("file_sha256", String(64), nullable=True),
    Column("uploaded_at", UtcDateTime(), nullable=True),
    Column("last_status_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_log_requests_station_id_request_id", "station_id", "request_id"),
    Index("ix_log_requests_status", "status"),
)

Row = dict[str, Any]
Change = Callable[[Row], Mapping[str, Any] | None]
"""What to set on a row, seen as it is inside the transaction; None: leave it."""

REQUEST_COUNTER = "log_request"


def log_request_created(values: Mapping[str, Any], *, with_request_id: bool = True) -> WriteOp:
    """A new log request (about to be sent, with a requestId of the CSMS's unless one is given or
    ``with_request_id`` is False); returns its row."""

    async def apply(conn: WriteConnection) -> Row:
        now = utcnow()
        row = {"last_status_at": now, "created_at": now, "updated_at": now, **values}
        if with_request_id and row.get("request_id") is None:
            row["request_id"] = await next_request_id(conn, REQUEST_COUNTER)
        result = await conn.execute(insert(log_requests).values(row).returning(log_requests))
        return dict(result.mappings().one())

    return Custom(apply)


def log_request_changed(
    *,
    change: Change,
    log_id: int | None = None,
    station_id: str | None = None,
    request_id: int | None = None,
    active: Iterable[str] | None = None,
    action: str | None = None,
) -> WriteOp:
    """Change one log request: by id; else the station's latest of ``request_id`` (any, when
    None: a 1.6 DiagnosticsStatusNotification names none), of ``action`` and with a status in
    ``active`` when they are given. Returns the row as changed; None if unchanged or absent."""
    c = log_requests.c
    statuses = None if active is None else list(active)

    async def apply(conn: WriteConnection) -> Row | None:
        query = select(log_requests)
        if log_id is not None:
            query = query.where(c.id == log_id)
        else:
            query = query.where(c.station_id == station_id)
            if request_id is not None:
                query = query.where(c.request_id == request_id)
            if statuses is not None:
                query = query.where(c.status.in_(statuses))
            if action is not None:
                query = query.where(c.action == action)
        found = (await conn.execute(query.order_by(c.id.desc()).limit(1))).mappings().first()
        now = utcnow()
        if found is None:
            return None
        row = dict(found)
        values = change(row)
        if values is None:
            return None
        values = {**values, "updated_at": now}
        await conn.execute(update(log_requests).where(c.id == row["id"]).values(values))
        return {**row, **values}

    return Custom(apply)


def log_requests_canceled(
    station_id: str, keep_id: int, active: Iterable[str], status: str
) -> WriteOp:
    """The station canceled its other uploads in progress for a new one (AcceptedCanceled);
    returns the rows changed."""
    c = log_requests.c
    statuses = list(active)

    async def apply(conn: WriteConnection) -> list[Row]:
        query = select(log_requests).where(
            c.station_id == station_id, c.id != keep_id, c.status.in_(statuses)
        )
        rows = [dict(r) for r in (await conn.execute(query)).mappings().all()]
        now = utcnow()
        values = {"status": status, "last_status_at": now, "updated_at": now}
        for row in rows:
            await conn.execute(update(log_requests).where(c.id == row["id"]).values(values))
        return [{**row, **values} for row in rows]

    return Custom(apply)


async def get_log_request(db: Reads, log_id: int) -> Row | None:
    row = await db.first(select(log_requests).where(log_requests.c.id == log_id))
    return dict(row) if row else None


async def list_station_log_requests(
    db: Reads, station_id: str, *, limit: int, after: str | None
) -> Page[Row]:
    """A station's log requests, newest first."""
    return await newest_first(db, log_requests, station_id=station_id, limit=limit, after=after)


async def silent_log_requests(db: Reads, statuses: Iterable[str], before: datetime) -> list[Row]:
    """Log requests in one of ``statuses`` with no news since ``before``."""
    c = log_requests.c
    query = (
        select(log_requests)
        .where(c.status.in_(list(statuses)), c.last_status_at < before)
        .order_by(c.id)
        .limit(1000)
    )
    return [dict(r) for r in await db.all(query)]
