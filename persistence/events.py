"""Station events: what a station reported or answered that has no table of its own (notifications,
status reports, answered commands), kept as received for operators and audits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from persistence.models import station_events
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
