"""Operator edits of one row by its key (REST API): they run on their own connection, outside the
group-commit writer, because the operator waits for each one and nothing batches with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.writer import WriteOp


async def create_or_update(
    engine: AsyncEngine, key: Column[Any], value: str, values: dict[str, Any], now: datetime
) -> bool:
    """Update the row whose ``key`` is ``value``, or insert it; True when it was inserted. Two
    concurrent creations of one row: the loser's insert fails on the key and it updates instead."""
    table = key.table
    async with engine.begin() as conn:
        updated = await conn.execute(table.update().where(key == value).values(values))
    if updated.rowcount:
        return False
    try:
        async with engine.begin() as conn:
            await conn.execute(
                table.insert().values({key.name: value, "created_at": now, **values})
            )
    except IntegrityError:
        async with engine.begin() as conn:
            await conn.execute(table.update().where(key == value).values(values))
        return False
    return True


async def delete_by_key(engine: AsyncEngine, key: Column[Any], value: str) -> bool:
    """Delete the row whose ``key`` is ``value``; True when there was one."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(key.table).where(key == value))
    return bool(result.rowcount)


async def run_alone(engine: AsyncEngine, op: WriteOp) -> Any:
    """One write op in a transaction of its own: an operator's edit, which nothing batches with."""
    async with engine.begin() as conn:
        return await op.apply(conn)
