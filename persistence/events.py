"""Station events: what a station reported or answered that has no table of its own (notifications,
status reports, answered commands), kept as received for operators and audits."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, or_, select

from persistence.models import station_events
from persistence.pages import Page, id_of_cursor, page_of
from persistence.reads import Reads
from persistence.sqltypes import utcnow
from persistence.writer import Insert, WriteOp


def station_event(station_id: str, kind: str, payload: Mapping[str, Any]) -> WriteOp:
    return Insert(
        station_events,
        [
            {
                "station_id": station_id,
                "kind": kind,
                "payload": dict(payload),
                "received_at": utcnow(),
            }
        ],
    )


async def station_events_of(
    db: Reads, station_id: str, kind: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """A station's events, oldest first, as (kind, payload); only those of ``kind`` if given."""
    query = (
        select(station_events.c.kind, station_events.c.payload)
        .where(station_events.c.station_id == station_id)
        .order_by(station_events.c.id)
    )
    if kind is not None:
        query = query.where(station_events.c.kind == kind)
    return [(r["kind"], r["payload"]) for r in await db.all(query)]


async def latest_station_event(
    db: Reads, station_id: str, kind: str, matches: Callable[[dict[str, Any]], bool]
) -> tuple[dict[str, Any], datetime] | None:
    """The newest event of ``kind`` whose payload ``matches``, with when it was received."""
    query = (
        select(station_events.c.payload, station_events.c.received_at)
        .where(station_events.c.station_id == station_id, station_events.c.kind == kind)
        .order_by(station_events.c.id.desc())
    )
    for row in await db.all(query):
        if matches(row["payload"]):
            return row["payload"], row["received_at"]
    return None


@dataclass(frozen=True, slots=True)
class StationEvent:
    """One stored event of a station."""

    id: int
    kind: str
    payload: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True, slots=True)
class KindFilter:
    """Which kinds of event a listing wants: exact kinds, or kinds that start with a prefix
    (``Command:`` for every answered command). Empty: every kind."""

    exact: Sequence[str] = ()
    prefixes: Sequence[str] = ()

    def clause(self) -> ColumnElement[bool] | None:
        kind = station_events.c.kind
        terms: list[ColumnElement[bool]] = []
        if self.exact:
            terms.append(kind.in_(list(self.exact)))
        # autoescape: a "_" or "%" in a prefix is matched as itself, not as a LIKE wildcard.
        terms.extend(kind.startswith(prefix, autoescape=True) for prefix in self.prefixes)
        return or_(*terms) if terms else None


def _event(row: RowMapping) -> StationEvent:
    return StationEvent(
        id=row["id"], kind=row["kind"], payload=row["payload"], received_at=row["received_at"]
    )


async def list_station_events(
    db: Reads,
    station_id: str,
    *,
    kinds: KindFilter,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    after: str | None,
) -> Page[StationEvent]:
    """A station's events, newest first (by id, the order they were stored in), received at or
    after ``since`` and before ``until``; ``after`` is the cursor of the previous page."""
    query: Select[Any] = (
        select(station_events)
        .where(station_events.c.station_id == station_id)
        .order_by(station_events.c.id.desc())
        .limit(limit + 1)
    )
    kind_clause = kinds.clause()
    if kind_clause is not None:
        query = query.where(kind_clause)
    if since is not None:
        query = query.where(station_events.c.received_at >= since)
    if until is not None:
        query = query.where(station_events.c.received_at < until)
    if after:
        query = query.where(station_events.c.id < id_of_cursor(after))
    return page_of(await db.all(query), limit, _event, lambda e: (str(e.id),))
