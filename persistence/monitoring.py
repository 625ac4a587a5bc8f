"""Variable monitors a 2.x station holds, its monitoring base and level, and the multi-part reports
(NotifyMonitoringReport, NotifyDisplayMessages) that tell a station's truth.

What is kept follows the station's answers (OCPP 2.0.1 N02-N08): a monitor is a row once the station
accepted it (SetVariableMonitoring) or reported it (NotifyMonitoringReport), and goes when the station
cleared it or a complete report of the same scope no longer lists it.

A report comes in parts (``tbc``) under the ``requestId`` of the request that asked for it. Each part
is kept as it arrives; when the last one is in, what the report covered (its scope: the request's
criteria) and it did not list is removed, as long as it was known before the report was requested
(what the operator set meanwhile stays). A report that never ends removes nothing, and a newer
request of the same kind supersedes it; a request id used again starts a new report. Parts under
request ids nobody here asked for are kept too, and only the latest reports' progress is, so that a
station cannot grow the store without end. ``report_part`` and ``rows_removed_in_scope`` serve the
display messages as well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Integer,
    String,
    Table,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from persistence.connections import WriteConnection
from persistence.models import metadata
from persistence.pages import Page, id_of_cursor, page_of
from persistence.reads import Reads
from persistence.sqltypes import UtcDateTime, utcnow
from persistence.writer import Custom, Upsert, WriteOp

MAX_KEPT_PER_STATION = 5000
"""Monitors (and display messages) kept per station: a report that never ends, or lists ever new
ids, cannot grow the store without bound. Known rows are always updated; new ones past this are not
kept (the report's ``dropped`` counts them)."""

REPORTS_KEPT = 20
"""Reports of each kind whose progress is kept per station (the latest)."""

EARLY_PARTS_WITHIN = timedelta(minutes=2)
"""Parts under a request id nobody here asked for, heard this shortly before a request of that id
is accepted, are taken for its report: a station may send them before its answer. Older ones
are another report that happened to have the same id."""

station_monitors = Table(
    "station_monitors",
    metadata,
    Column("station_id", String(64), primary_key=True),
    # The id the station assigned (2.0.1 SetMonitoringResultType.id: unique while installed).
    Column("monitor_id", Integer(), primary_key=True, autoincrement=False),
    Column("component", String(50), nullable=False),
    Column("component_instance", String(50), nullable=True),
    Column("evse_id", Integer(), nullable=True),
    Column("connector_id", Integer(), nullable=True),
    Column("variable", String(50), nullable=False),
    Column("variable_instance", String(50), nullable=True),
    Column("type", String(32), nullable=False),
    Column("value", Float(), nullable=False),
    Column("severity", Integer(), nullable=False),
    # SetMonitoringDataType.transaction: active only while a transaction is ongoing.
    Column("transaction_only", Boolean(), nullable=False),
    # "operator": accepted through SetVariableMonitoring; "report": first learnt from a report.
    Column("source", String(16), nullable=False),
    # 2.1 VariableMonitoringType: HardWiredMonitor, PreconfiguredMonitor, CustomMonitor...
    Column("event_notification_type", String(32), nullable=True),
    # 2.1 SetMonitoringDataType.periodicEventStream, as sent.
    Column("periodic_event_stream", JSON(), nullable=True),
    # The report that listed it last (None: known from SetVariableMonitoring only).
    Column("request_id", Integer(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

station_monitoring = Table(
    "station_monitoring",
    metadata,
    Column("station_id", String(64), primary_key=True),
    # The last SetMonitoringBase the station accepted: All, FactoryDefault, HardWiredOnly.
    Column("base", String(16), nullable=True),
    Column("base_updated_at", UtcDateTime(), nullable=True),
    # The last SetMonitoringLevel severity the station accepted (0-9).
    Column("level", Integer(), nullable=True),
    Column("level_updated_at", UtcDateTime(), nullable=True),
)

monitoring_reports = Table(
    "monitoring_reports",
    metadata,
    Column("station_id", String(64), primary_key=True),
    # "monitoring" (GetMonitoringReport) or "display_messages" (GetDisplayMessages).
    Column("kind", String(32), primary_key=True),
    Column("request_id", Integer(), primary_key=True, autoincrement=False),
    # The request's criteria as sent (camelCase, without requestId); None: not seen.
    Column("criteria", JSON(), nullable=True),
    # receiving, complete, superseded (a newer request of its kind was accepted before its end).
    Column("status", String(16), nullable=False),
    Column("parts", Integer(), nullable=False),
    Column("kept", Integer(), nullable=False),
    Column("dropped", Integer(), nullable=False),
    Column("removed", Integer(), nullable=False),
    # When the station accepted the request (None: a report nobody here asked for).
    Column("requested_at", UtcDateTime(), nullable=True),
    Column("last_part_at", UtcDateTime(), nullable=True),
    Column("completed_at", UtcDateTime(), nullable=True),
)

MONITORING = "monitoring"
DISPLAY_MESSAGES = "display_messages"

InScope = Callable[[Mapping[str, Any], Mapping[str, Any] | None], bool]
"""(a kept row, a report's criteria) -> whether a report with these criteria covers the row."""


class ReportStatus:
    RECEIVING = "receiving"
    COMPLETE = "complete"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """The rows a kind of report tells: their table and the column of the station's id for them."""

    kind: str
    table: Table
    key: str


MONITORS = ReportTarget(MONITORING, station_monitors, "monitor_id")


@dataclass(frozen=True, slots=True)
class PartOutcome:
    """What one report part changed."""

    kept: list[int]
    """Ids of the rows the part listed and that are kept."""
    dropped: int
    """Listed rows not kept (past ``MAX_KEPT_PER_STATION``)."""
    removed: list[int]
    """Ids removed because the complete report no longer listed them (on the last part)."""
    status: str
    """The report's status after the part."""


# -- monitors ------------------------------------------------------------------------------------


def monitors_set(station_id: str, rows: Sequence[Mapping[str, Any]]) -> WriteOp:
    """Monitors the station accepted (SetVariableMonitoring): each replaces the row of its id."""
    now = utcnow()
    return Upsert(
        station_monitors,
        [{**row, "station_id": station_id, "updated_at": now} for row in rows],
        ("station_id", "monitor_id"),
    )


def monitors_removed(station_id: str, ids: Sequence[int]) -> WriteOp:
    """Monitors the station no longer holds (ClearVariableMonitoring Accepted or NotFound)."""
    return rows_removed(MONITORS, station_id, ids)


def monitoring_base_set(station_id: str, base: str, forgotten: Sequence[str]) -> WriteOp:
    """The station accepted SetMonitoringBase ``base``; the monitors of ``forgotten`` origins go
    with it (2.0.1 N03.FR.04/05: FactoryDefault and HardWiredOnly clear every custom monitor).
    An origin is a ``source`` ("operator") or a 2.1 ``event_notification_type``."""
    now = utcnow()
    c = station_monitors.c

    async def run(conn: WriteConnection) -> list[int]:
        await _upsert_settings(conn, station_id, {"base": base, "base_updated_at": now})
        if not forgotten:
            return []
        condition = c.source.in_(list(forgotten)) | c.event_notification_type.in_(list(forgotten))
        ids = [
            int(r[0])
            for r in await conn.execute(
                select(c.monitor_id).where(c.station_id == station_id, condition)
            )
        ]
        if ids:
            await conn.execute(
                delete(station_monitors).where(c.station_id == station_id, c.monitor_id.in_(ids))
            )
        return ids

    return Custom(run)


def monitoring_level_set(station_id: str, level: int) -> WriteOp:
    """The station accepted SetMonitoringLevel ``level`` (2.0.1 N05)."""
    now = utcnow()

    async def run(conn: WriteConnection) -> None:
        await _upsert_settings(conn, station_id, {"level": level, "level_updated_at": now})

    return Custom(run)


async def _upsert_settings(conn: WriteConnection, station_id: str, values: dict[str, Any]) -> None:
    await Upsert(
        station_monitoring,
        [{"station_id": station_id, **values}],
        ("station_id",),
        update_only=tuple(values),
    ).apply(conn)


async def list_monitors(
    db: Reads, station_id: str, *, limit: int, after: str | None
) -> Page[dict[str, Any]]:
    """A station's monitors by id."""
    c = station_monitors.c
    query = (
        select(station_monitors)
        .where(c.station_id == station_id)
        .order_by(c.monitor_id)
        .limit(limit + 1)
    )
    if after:
        query = query.where(c.monitor_id > id_of_cursor(after))
    return page_of(
        await db.all(query),
        limit,
        lambda row: {str(k): v for k, v in row.items()},
        lambda item: (str(item["monitor_id"]),),
    )


async def get_monitor(db: Reads, station_id: str, monitor_id: int) -> dict[str, Any] | None:
    c = station_monitors.c
    row = await db.first(
        select(station_monitors).where(c.station_id == station_id, c.monitor_id == monitor_id)
    )
    return {str(k): v for k, v in row.items()} if row is not None else None


async def monitoring_settings(db: Reads, station_id: str) -> dict[str, Any] | None:
    """The station's accepted monitoring base and level, if any was ever accepted."""
    row = await db.first(
        select(station_monitoring).where(station_monitoring.c.station_id == station_id)
    )
    return {str(k): v for k, v in row.items()} if row is not None else None


# -- reports -------------------------------------------------------------------------------------


def report_requested(
    target: ReportTarget, station_id: str, request_id: int, criteria: Mapping[str, Any]
) -> WriteOp:
    """The station accepted a report request: its parts follow under ``request_id``. An unfinished
    report of the same kind is superseded (its late parts are still kept, but remove nothing)."""
    now = utcnow()
    r = monitoring_reports.c
    where_report = (
        (r.station_id == station_id) & (r.kind == target.kind) & (r.request_id == request_id)
    )

    async def run(conn: WriteConnection) -> None:
        await conn.execute(
            update(monitoring_reports)
            .where(
                r.station_id == station_id,
                r.kind == target.kind,
                r.status == ReportStatus.RECEIVING,
                r.request_id != request_id,
            )
            .values(status=ReportStatus.SUPERSEDED)
        )
        found = (
            (await conn.execute(select(monitoring_reports).where(where_report))).mappings().first()
        )
        if (
            found is not None
            and found["requested_at"] is None
            and found["last_part_at"] is not None
            and now - found["last_part_at"] <= EARLY_PARTS_WITHIN
        ):
            # Its parts came just before the station's answer to the request: the report goes
            # on (complete already, when the last one came), and the rows they listed are its.
            await conn.execute(
                update(monitoring_reports)
                .where(where_report)
                .values(criteria=dict(criteria), requested_at=now)
            )
        else:
            # A new report. Rows an earlier report listed under the same id (the raw command
            # endpoint lets an operator use an id again) are not listed by this one yet.
            table = target.table
            await conn.execute(
                update(table)
                .where(table.c.station_id == station_id, table.c.request_id == request_id)
                .values(request_id=None)
            )
            await Upsert(
                monitoring_reports,
                [
                    {
                        "station_id": station_id,
                        "kind": target.kind,
                        "request_id": request_id,
                        "criteria": dict(criteria),
                        "status": ReportStatus.RECEIVING,
                        "parts": 0,
                        "kept": 0,
                        "dropped": 0,
                        "removed": 0,
                        "requested_at": now,
                        "last_part_at": None,
                        "completed_at": None,
                    }
                ],
                ("station_id", "kind", "request_id"),
            ).apply(conn)
        await _forget_old_reports(conn, station_id, target.kind)

    return Custom(run)


async def _forget_old_reports(conn: WriteConnection, station_id: str, kind: str) -> None:
    """Only the latest ``REPORTS_KEPT`` reports of a kind are worth showing: the older ones go
    (also those of request ids a station made up, which it could send without end)."""
    r = monitoring_reports.c
    older = (
        select(r.request_id)
        .where(r.station_id == station_id, r.kind == kind)
        .order_by(r.requested_at.desc().nulls_last(), r.last_part_at.desc().nulls_last())
        .offset(REPORTS_KEPT)
    )
    stale = [int(i) for (i,) in await conn.execute(older)]
    if stale:
        await conn.execute(
            delete(monitoring_reports).where(
                r.station_id == station_id, r.kind == kind, r.request_id.in_(stale)
            )
        )


def rows_removed_in_scope(
    target: ReportTarget, station_id: str, criteria: Mapping[str, Any], in_scope: InScope
) -> WriteOp:
    """The station has nothing that ``criteria`` select (GetMonitoringReport EmptyResultSet,
    GetDisplayMessages Unknown): the kept rows they cover go. Returns their ids."""

    async def run(conn: WriteConnection) -> list[int]:
        table = target.table
        rows = await conn.execute(select(table).where(table.c.station_id == station_id))
        ids = [int(row[target.key]) for row in rows.mappings() if in_scope(_plain(row), criteria)]
        await rows_removed(target, station_id, ids).apply(conn)
        return ids

    return Custom(run)


def report_part(
    target: ReportTarget,
    station_id: str,
    request_id: int,
    rows: Sequence[Mapping[str, Any]],
    *,
    last: bool,
    in_scope: InScope,
    keep_columns: tuple[str, ...] = ("source",),
) -> WriteOp:
    """One part of a report: ``rows`` (without station_id, request_id, updated_at, source) are
    kept as they arrive, each replacing the row of its id; ``keep_columns`` of a known row stay.
    On the ``last`` part of a report requested here, the rows in its scope that were known before
    the request and that the report did not list are removed. Returns a ``PartOutcome``."""
    now = utcnow()
    table, key = target.table, target.key
    r = monitoring_reports.c
    where_report = (
        (r.station_id == station_id) & (r.kind == target.kind) & (r.request_id == request_id)
    )

    async def run(conn: WriteConnection) -> PartOutcome:
        report = (await conn.execute(select(monitoring_reports).where(where_report))).mappings()
        found = report.first()
        if found is None:
            # Parts of a request this store never saw accepted: kept, but no scope to replace.
            status, requested_at, criteria = ReportStatus.RECEIVING, None, None
            await conn.execute(
                monitoring_reports.insert().values(
                    station_id=station_id,
                    kind=target.kind,
                    request_id=request_id,
                    criteria=None,
                    status=status,
                    parts=0,
                    kept=0,
                    dropped=0,
                    removed=0,
                    requested_at=None,
                )
            )
        else:
            status, requested_at, criteria = (
                found["status"],
                found["requested_at"],
                found["criteria"],
            )
        kept, dropped = await _keep(conn, target, station_id, request_id, rows, now, keep_columns)
        removed: list[int] = []
        values: dict[str, Any] = {
            "parts": r.parts + 1,
            "kept": r.kept + len(kept),
            "dropped": r.dropped + dropped,
            "last_part_at": now,
        }
        if last and status == ReportStatus.RECEIVING:
            status = ReportStatus.COMPLETE
            values.update(status=status, completed_at=now)
            if requested_at is not None:
                stale = await conn.execute(
                    select(table).where(
                        table.c.station_id == station_id,
                        table.c.updated_at < requested_at,
                        (table.c.request_id.is_(None)) | (table.c.request_id != request_id),
                    )
                )
                removed = [
                    int(row[key])
                    for row in stale.mappings()
                    if in_scope(_plain(row), criteria or {})
                ]
                await rows_removed(target, station_id, removed).apply(conn)
                values["removed"] = len(removed)
        await conn.execute(update(monitoring_reports).where(where_report).values(values))
        if found is None:
            await _forget_old_reports(conn, station_id, target.kind)
        return PartOutcome(kept, dropped, removed, status)

    return Custom(run)


async def _keep(
    conn: WriteConnection,
    target: ReportTarget,
    station_id: str,
    request_id: int,
    rows: Sequence[Mapping[str, Any]],
    now: datetime,
    keep_columns: tuple[str, ...],
) -> tuple[list[int], int]:
    """Upsert the listed rows, new ones only up to ``MAX_KEPT_PER_STATION``."""
    if not rows:
        return [], 0
    table, key = target.table, target.key
    listed = {int(row[key]): row for row in rows}
    known = {
        int(k)
        for (k,) in await conn.execute(
            select(table.c[key]).where(
                table.c.station_id == station_id, table.c[key].in_(list(listed))
            )
        )
    }
    count = await conn.scalar(
        select(func.count()).select_from(table).where(table.c.station_id == station_id)
    )
    room = max(0, MAX_KEPT_PER_STATION - int(count or 0))
    chosen: list[int] = []
    for ident in listed:
        if ident in known:
            chosen.append(ident)
        elif room > 0:
            chosen.append(ident)
            room -= 1
    full = [
        {
            **listed[ident],
            "station_id": station_id,
            "request_id": request_id,
            "updated_at": now,
            "source": "report",
        }
        for ident in chosen
    ]
    if full:
        columns = tuple(c for c in full[0] if c not in keep_columns)
        await Upsert(table, full, ("station_id", key), update_only=columns).apply(conn)
    return chosen, len(listed) - len(chosen)


def rows_removed(target: ReportTarget, station_id: str, ids: Sequence[int]) -> WriteOp:
    """The rows of these ids go (the station no longer holds them)."""
    table = target.table
    ids = list(ids)

    async def run(conn: WriteConnection) -> None:
        if ids:
            await conn.execute(
                delete(table).where(table.c.station_id == station_id, table.c[target.key].in_(ids))
            )

    return Custom(run)


def _plain(row: RowMapping) -> dict[str, Any]:
    return {str(k): v for k, v in row.items()}


async def latest_report(db: Reads, station_id: str, kind: str) -> dict[str, Any] | None:
    """The station's most recently requested report of ``kind`` (or, when none was, the one
    whose part came last)."""
    r = monitoring_reports.c
    row = await db.first(
        select(monitoring_reports)
        .where(r.station_id == station_id, r.kind == kind)
        # Requested here first: parts nobody here asked for show only when nothing was asked.
        .order_by(
            r.requested_at.desc().nulls_last(),
            r.last_part_at.desc().nulls_last(),
            r.request_id.desc(),
        )
        .limit(1)
    )
    return {str(k): v for k, v in row.items()} if row is not None else None


async def get_report(
    db: Reads, station_id: str, kind: str, request_id: int
) -> dict[str, Any] | None:
    r = monitoring_reports.c
    row = await db.first(
        select(monitoring_reports).where(
            r.station_id == station_id, r.kind == kind, r.request_id == request_id
        )
    )
    return {str(k): v for k, v in row.items()} if row is not None else None
