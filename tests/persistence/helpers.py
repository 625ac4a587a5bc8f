"""Shared bits of the persistence tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

UNIT = 0.05
"""One test time unit in seconds; every timeout is a multiple of it."""


def station_row(station_id: str, **values: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"id": station_id, "created_at": now, "updated_at": now, **values}


async def count(engine: AsyncEngine, table: Table, *where: Any) -> int:
    """Rows of ``table`` as seen by a fresh connection of ``engine``."""
    async with engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
        )


async def eventually(check: Callable[[], Any], *, units: int = 40) -> None:
    """Poll the async ``check`` until it returns true, for at most ``units`` test units."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + units * UNIT
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not true after {units * UNIT:.2f} s")
        await asyncio.sleep(UNIT / 5)
