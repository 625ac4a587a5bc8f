"""Operator edits by key on a real database: create, then update, then delete, each reported."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.keyed_rows import create_or_update, delete_by_key
from persistence.models import stations
from tests.persistence.helpers import count


async def test_create_then_update_then_delete(main_engine: AsyncEngine) -> None:
    key = stations.c.id
    now = datetime.now(UTC)
    values = {"registered": True, "allowed": True, "lenient": False, "updated_at": now}
    assert await create_or_update(main_engine, key, "CP-1", values, now) is True
    assert (
        await create_or_update(main_engine, key, "CP-1", {**values, "allowed": False}, now) is False
    )
    assert await count(main_engine, stations) == 1
    async with main_engine.connect() as conn:
        allowed = (await conn.execute(select(stations.c.allowed))).scalar_one()
    assert allowed is False
    assert await delete_by_key(main_engine, key, "CP-1") is True
    assert await delete_by_key(main_engine, key, "CP-1") is False
    assert await count(main_engine, stations) == 0
