"""OCPP 1.6 transaction ids: unique across allocators sharing a database and across restarts."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import create_engine
from persistence.ids import IdAllocator
from persistence.models import id_counters
from persistence.writer import GroupCommitWriter
from tests.timing import UNIT


async def _take(allocator: IdAllocator, n: int) -> list[int]:
    return [await allocator.next() for _ in range(n)]


async def test_ids_start_at_one_and_increase(main_engine: AsyncEngine) -> None:
    writer = GroupCommitWriter(main_engine, max_delay=UNIT / 10)
    await writer.start()
    try:
        ids = await _take(IdAllocator(writer, block=4), 10)
    finally:
        await writer.stop()
    assert ids == list(range(1, 11))
    async with main_engine.connect() as conn:
        stored = (await conn.execute(select(id_counters.c.next_value))).scalar_one()
    assert stored == 13  # three blocks of four reserved


async def test_two_allocators_on_one_database_never_collide(main_engine: AsyncEngine) -> None:
    """Two processes: separate engines, writers and allocators on the same database."""
    other = create_engine(main_engine.url.render_as_string(hide_password=False))
    writers = [GroupCommitWriter(e, max_delay=UNIT / 10) for e in (main_engine, other)]
    for w in writers:
        await w.start()
    try:
        allocators = [IdAllocator(w, block=7) for w in writers]
        # Many concurrent callers on each allocator as well.
        batches = await asyncio.gather(*(_take(a, 30) for a in allocators for _ in range(4)))
    finally:
        for w in writers:
            await w.stop()
        await other.dispose()
    ids = [i for batch in batches for i in batch]
    assert len(ids) == 240
    assert len(set(ids)) == len(ids)
    assert min(ids) >= 1
    assert all(batch == sorted(batch) for batch in batches)


async def test_ids_after_a_restart_are_new(main_engine: AsyncEngine) -> None:
    seen: set[int] = set()
    for _ in range(3):
        writer = GroupCommitWriter(main_engine, max_delay=UNIT / 10)
        await writer.start()
        try:
            ids = await _take(IdAllocator(writer, block=50), 5)
        finally:
            await writer.stop()
        assert not seen & set(ids)
        assert min(ids) > max(seen, default=0)
        seen |= set(ids)


async def test_counters_are_independent(main_engine: AsyncEngine) -> None:
    writer = GroupCommitWriter(main_engine, max_delay=UNIT / 10)
    await writer.start()
    try:
        a = IdAllocator(writer, name="transaction", block=3)
        b = IdAllocator(writer, name="reservation", block=3)
        assert [await a.next(), await b.next(), await a.next()] == [1, 1, 2]
    finally:
        await writer.stop()


async def test_block_must_be_positive(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        with pytest.raises(ValueError, match="block"):
            IdAllocator(GroupCommitWriter(engine), block=0)
    finally:
        await engine.dispose()
