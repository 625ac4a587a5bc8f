"""Charging profiles a station accepted, the limits it reported as set by other systems, and the
parts of its ReportChargingProfiles (OCPP 1.6 Smart Charging, 2.0.1 K).

A kept profile is one row per (station, profile id); its EVSE, stack level, purpose, the
transaction of a TxProfile and the end of its validity are columns so that replacement (2.0.1
K01.FR.05, 1.6 section 5.16), clearing (ClearChargingProfile criteria) and the read-time filters
are plain statements. The reads leave out a TxProfile whose transaction has ended (stopped,
abandoned or marked stale) and a profile past its ``validTo``: neither limits anything any more.

ReportChargingProfiles parts are bounded per station, since a station may send them unasked, under
any requestId and with ``tbc`` true, without end (2.0.1 K09 puts no limit on the parts of a
report): at most ``REPORT_PARTS_KEPT`` parts of one request are kept (later ones are not, so the
report stays incomplete rather than wrong), and only the ``REPORTS_KEPT`` requests that received
a part most recently; the parts of older ones are deleted as a new part is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Index,
    Integer,
    String,
    Table,
    and_,
    delete,
    false,
    func,
    or_,
    select,
)

from persistence.connections import WriteConnection
from persistence.models import TRANSACTION_ID, AutoId, metadata, transactions
from persistence.reads import Reads
from persistence.sqltypes import UtcDateTime, utcnow
from persistence.writer import Custom, Upsert, WriteOp

charging_profiles = Table(
    "charging_profiles",
    metadata,
    Column("station_id", String(64), primary_key=True),
    Column("profile_id", Integer(), primary_key=True),
    # 0: the whole station (1.6 connector 0).
    Column("evse_id", Integer(), nullable=False),
    Column("stack_level", Integer(), nullable=False),
    # 2.x names (ChargingStationMaxProfile, TxDefaultProfile, TxProfile...).
    Column("purpose", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    # The stored id of a TxProfile's transaction.
    Column("transaction_id", TRANSACTION_ID, nullable=True),
    # validTo: after it the profile no longer applies (None: until cleared).
    Column("valid_to", UtcDateTime(), nullable=True),
    # The version-neutral view (csms.smart_charging.model.profile_view).
    Column("profile", JSON(), nullable=False),
    # The profile as the station accepted it, on the wire of its version.
    Column("wire", JSON(), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("accepted_at", UtcDateTime(), nullable=False),
)

charging_limits = Table(
    "charging_limits",
    metadata,
    Column("station_id", String(64), primary_key=True),
    # 0: the whole station.
    Column("evse_id", Integer(), primary_key=True),
    # ChargingLimitSourceEnumType: EMS, Other, SO, CSO.
    Column("source", String(20), primary_key=True),
    Column("grid_critical", Boolean(), nullable=True),
    # The chargingLimit object as reported (2.1 adds fields).
    Column("charging_limit", JSON(), nullable=False),
    # The reported chargingSchedule list (2.x wire form); None: no schedule given.
    Column("schedules", JSON(), nullable=True),
    Column("reported_at", UtcDateTime(), nullable=False),
)

charging_profile_reports = Table(
    "charging_profile_reports",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("station_id", String(64), nullable=False),
    Column("request_id", Integer(), nullable=False),
    Column("evse_id", Integer(), nullable=False),
    Column("source", String(20), nullable=False),
    Column("tbc", Boolean(), nullable=False),
    # The chargingProfile list of the part, as reported.
    Column("profiles", JSON(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Index("ix_charging_profile_reports_station_id_request_id", "station_id", "request_id"),
)


# -- kept profiles ---------------------------------------------------------------------------


def profile_kept(
    station_id: str,
    *,
    evse_id: int,
    profile_id: int,
    stack_level: int,
    purpose: str,
    kind: str,
    transaction_id: str | None,
    valid_to: datetime | None,
    view: Mapping[str, Any],
    wire: Mapping[str, Any],
    protocol: str,
    replaces_same_level: bool,
) -> WriteOp:
    """A station accepted a profile: it replaces the one with the same id (1.6 section 5.16,
    2.0.1 K01.FR.05) and, when ``replaces_same_level`` (OCPP 1.6), the one with the same stack
    level and purpose on the same EVSE. A 2.x station refuses such a profile when the validity
    periods overlap (2.0.1 K01.FR.06, K01.FR.39), so the one it accepted beside it stays."""
    c = charging_profiles.c
    row = {
        "station_id": station_id,
        "profile_id": profile_id,
        "evse_id": evse_id,
        "stack_level": stack_level,
        "purpose": purpose,
        "kind": kind,
        "transaction_id": transaction_id,
        "valid_to": valid_to,
        "profile": dict(view),
        "wire": dict(wire),
        "protocol": protocol,
        "accepted_at": utcnow(),
    }

    replaced = c.profile_id == profile_id
    if replaces_same_level:
        replaced = or_(
            replaced,
            and_(c.evse_id == evse_id, c.stack_level == stack_level, c.purpose == purpose),
        )

    async def run(conn: WriteConnection) -> None:
        await conn.execute(delete(charging_profiles).where(c.station_id == station_id, replaced))
        await conn.execute(charging_profiles.insert(), [row])

    return Custom(run)


def profiles_cleared(
    station_id: str,
    *,
    profile_id: int | None = None,
    evse_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
) -> WriteOp:
    """A station cleared profiles (ClearChargingProfile Accepted or Unknown): the one with
    ``profile_id``, else every one matching the other criteria given (none: all of the
    station's). The op returns the ids removed, in order."""
    c = charging_profiles.c
    conditions: list[ColumnElement[bool]] = [c.station_id == station_id]
    if profile_id is not None:
        conditions.append(c.profile_id == profile_id)
    else:
        for column, value in (
            (c.evse_id, evse_id),
            (c.purpose, purpose),
            (c.stack_level, stack_level),
        ):
            if value is not None:
                conditions.append(column == value)

    async def run(conn: WriteConnection) -> list[int]:
        found = await conn.execute(select(c.profile_id).where(*conditions).order_by(c.profile_id))
        ids = [int(r[0]) for r in found]
        if ids:
            await conn.execute(delete(charging_profiles).where(*conditions))
        return ids

    return Custom(run)


def _in_force(now: datetime) -> ColumnElement[bool]:
    """Not past its ``validTo``, nor a TxProfile of a transaction that has ended (stopped,
    abandoned, or marked stale)."""
    c, t = charging_profiles.c, transactions.c
    return and_(
        or_(c.valid_to.is_(None), c.valid_to > now),
        or_(
            c.transaction_id.is_(None),
            t.id.is_(None),
            and_(t.stop_time.is_(None), t.stale == false()),
        ),
    )


def _kept_query(station_id: str) -> Any:
    c = charging_profiles.c
    return (
        select(charging_profiles)
        .select_from(
            charging_profiles.outerjoin(transactions, transactions.c.id == c.transaction_id)
        )
        .where(c.station_id == station_id, _in_force(utcnow()))
    )


async def list_profiles(
    db: Reads, station_id: str, *, evse_id: int | None = None, purpose: str | None = None
) -> list[dict[str, Any]]:
    """The station's kept profiles in force, by EVSE, purpose, stack level and id."""
    c = charging_profiles.c
    query = _kept_query(station_id).order_by(c.evse_id, c.purpose, c.stack_level, c.profile_id)
    if evse_id is not None:
        query = query.where(c.evse_id == evse_id)
    if purpose is not None:
        query = query.where(c.purpose == purpose)
    return [{str(k): v for k, v in row.items()} for row in await db.all(query)]


async def get_profile(db: Reads, station_id: str, profile_id: int) -> dict[str, Any] | None:
    """One kept profile in force."""
    row = await db.first(
        _kept_query(station_id).where(charging_profiles.c.profile_id == profile_id)
    )
    return None if row is None else {str(k): v for k, v in row.items()}


async def active_transaction(
    db: Reads, station_id: str, evse_id: int
) -> tuple[str, datetime | None] | None:
    """(stored id, start time) of the newest transaction running on an EVSE (1.6: connector)."""
    t = transactions.c
    row = await db.first(
        select(t.id, t.start_time)
        .where(
            t.station_id == station_id,
            or_(t.evse_id == evse_id, and_(t.evse_id.is_(None), t.connector_id == evse_id)),
            t.stop_time.is_(None),
            t.stale == false(),
        )
        .order_by(t.start_time.desc())
    )
    return None if row is None else (row["id"], row["start_time"])


# -- limits reported by the station (2.0.1 K12, K13) -----------------------------------------


def limit_reported(
    station_id: str,
    *,
    evse_id: int,
    source: str,
    charging_limit: Mapping[str, Any],
    schedules: list[Any] | None,
) -> WriteOp:
    """NotifyChargingLimit: the limit of ``source`` on the EVSE (0: the station), replacing the
    one it reported before."""
    grid = charging_limit.get("isGridCritical")
    return Upsert(
        charging_limits,
        [
            {
                "station_id": station_id,
                "evse_id": evse_id,
                "source": source,
                "grid_critical": None if grid is None else bool(grid),
                "charging_limit": dict(charging_limit),
                "schedules": schedules,
                "reported_at": utcnow(),
            }
        ],
        ("station_id", "evse_id", "source"),
    )


def limit_cleared(station_id: str, *, source: str, evse_id: int) -> WriteOp:
    """ClearedChargingLimit: the limit of ``source`` on the EVSE (0: the station) is gone."""
    c = charging_limits.c

    async def run(conn: WriteConnection) -> int:
        result = await conn.execute(
            delete(charging_limits).where(
                c.station_id == station_id, c.source == source, c.evse_id == evse_id
            )
        )
        return int(result.rowcount)

    return Custom(run)


async def list_limits(db: Reads, station_id: str) -> list[dict[str, Any]]:
    """The external limits a station reports in force, by EVSE and source."""
    c = charging_limits.c
    query = select(charging_limits).where(c.station_id == station_id).order_by(c.evse_id, c.source)
    return [{str(k): v for k, v in row.items()} for row in await db.all(query)]


# -- ReportChargingProfiles (2.0.1 K09) ------------------------------------------------------

REPORT_PARTS_KEPT = 256
"""Parts kept of one report: far more than a station's profiles need (a part carries any number
of profiles of one EVSE and source)."""

REPORTS_KEPT = 16
"""Requests kept per station: the operator reads a report as it completes, so a few suffice."""


def report_part_received(
    station_id: str,
    *,
    request_id: int,
    evse_id: int,
    source: str,
    tbc: bool,
    profiles: list[Any],
) -> WriteOp:
    """One ReportChargingProfiles part, as reported, unless its request has ``REPORT_PARTS_KEPT``
    parts already; the station's requests past the latest ``REPORTS_KEPT`` go. The op returns
    whether the part was kept."""
    c = charging_profile_reports.c
    row = {
        "station_id": station_id,
        "request_id": request_id,
        "evse_id": evse_id,
        "source": source,
        "tbc": tbc,
        "profiles": profiles,
        "received_at": utcnow(),
    }

    async def run(conn: WriteConnection) -> bool:
        parts = await conn.scalar(
            select(func.count())
            .select_from(charging_profile_reports)
            .where(c.station_id == station_id, c.request_id == request_id)
        )
        if int(parts or 0) >= REPORT_PARTS_KEPT:
            return False
        await conn.execute(charging_profile_reports.insert(), [row])
        await _forget_old_reports(conn, station_id)
        return True

    return Custom(run)


async def _forget_old_reports(conn: WriteConnection, station_id: str) -> None:
    """The parts of the station's requests past the ``REPORTS_KEPT`` that received a part most
    recently."""
    c = charging_profile_reports.c
    older = (
        select(c.request_id)
        .where(c.station_id == station_id)
        .group_by(c.request_id)
        .order_by(func.max(c.id).desc())
        .offset(REPORTS_KEPT)
    )
    stale = [int(i) for (i,) in await conn.execute(older)]
    if stale:
        await conn.execute(
            delete(charging_profile_reports).where(
                c.station_id == station_id, c.request_id.in_(stale)
            )
        )


async def report_parts(db: Reads, station_id: str, request_id: int) -> list[dict[str, Any]]:
    """The parts of one report received so far, in arrival order."""
    c = charging_profile_reports.c
    query = (
        select(charging_profile_reports)
        .where(c.station_id == station_id, c.request_id == request_id)
        .order_by(c.id)
    )
    return [{str(k): v for k, v in row.items()} for row in await db.all(query)]
