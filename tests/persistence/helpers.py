"""Shared bits of the persistence tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine


def station_row(station_id: str, **values: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"id": station_id, "created_at": now, "updated_at": now, **values}


async def count(engine: AsyncEngine, table: Table, *where: Any) -> int:
    """Rows of ``table`` as seen by a fresh connection of ``engine``."""
    async with engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
        )
