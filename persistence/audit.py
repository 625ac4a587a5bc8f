"""The audit log: one row per state-changing operator request (who, role, when, what, outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.models import audit_log
from persistence.pages import Page, id_of_cursor, page_of
from persistence.reads import Reads
from persistence.sqltypes import utcnow

# Column widths of ``audit_log`` (migration main_0003): longer values are cut, never refused,
# because a request must not fail for being recorded.
_ACTOR_MAX = 64
_ROLE_MAX = 16
_METHOD_MAX = 8
_STATION_MAX = 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded request."""

    id: int
    at: datetime
    actor: str
    role: str
    method: str
    path: str
    station_id: str | None
    status: int


def _entry(row: RowMapping) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        role=row["role"],
        method=row["method"],
        path=row["path"],
        station_id=row["station_id"],
        status=row["status"],
    )


async def record(
    engine: AsyncEngine,
    *,
    actor: str,
    role: str,
    method: str,
    path: str,
    station_id: str | None,
    status: int,
    at: datetime | None = None,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            audit_log.insert().values(
                at=at or utcnow(),
                actor=actor[:_ACTOR_MAX],
                role=role[:_ROLE_MAX],
                method=method[:_METHOD_MAX],
                path=path,
                station_id=station_id[:_STATION_MAX] if station_id is not None else None,
                status=status,
            )
        )


async def list_audit(
    db: Reads,
    *,
    limit: int,
    after: str | None,
    actor: str | None = None,
    station_id: str | None = None,
) -> Page[AuditEntry]:
    """Newest first; ``after`` is the cursor of the previous page."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit + 1)
    if after:
        query = query.where(audit_log.c.id < id_of_cursor(after))
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if station_id is not None:
        query = query.where(audit_log.c.station_id == station_id)
    return page_of(await db.all(query), limit, _entry, lambda e: (str(e.id),))
