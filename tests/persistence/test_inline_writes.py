"""The writer's transactions on a SQLite file, run on the event loop: commit, rollback, waiting for
another process's write lock without stalling the loop, and checkpoints off the loop."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence import inline_writes as inline_module
from persistence import writer as writer_module
from persistence.connections import WriteConnection
from persistence.database import create_engine
from persistence.inline_writes import InlineSqliteWrites, inline_writes
from persistence.migrate import migrate
from persistence.models import station_events
from persistence.writer import Custom, GroupCommitWriter, Insert
from tests.timing import UNIT


@pytest.fixture
async def database(tmp_path: Path) -> Path:
    path = tmp_path / "main.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        await migrate(engine, "main")
    finally:
        await engine.dispose()
    return path


@pytest.fixture
async def writes(database: Path) -> AsyncIterator[InlineSqliteWrites]:
    inline = inline_writes(make_url(f"sqlite+aiosqlite:///{database}"))
    assert inline is not None
    yield inline
    await inline.close()


def event(station_id: str) -> Insert:
    return Insert(
        station_events,
        [
            {
                "station_id": station_id,
                "kind": "Test",
                "payload": {},
                "received_at": datetime.now(UTC),
            }
        ],
    )


def stored_events(path: Path) -> int:
    with sqlite3.connect(path) as other:
        found: int = other.execute("SELECT count(*) FROM station_events").fetchone()[0]
        return found


def test_only_a_sqlite_file_is_written_inline(tmp_path: Path) -> None:
    assert inline_writes(make_url("sqlite+aiosqlite://")) is None
    assert inline_writes(make_url("sqlite+aiosqlite:///:memory:")) is None
    assert inline_writes(make_url("postgresql+asyncpg://u@127.0.0.1/db")) is None
    found = inline_writes(make_url(f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    assert isinstance(found, InlineSqliteWrites)


async def test_a_commit_is_visible_to_other_connections(
    writes: InlineSqliteWrites, database: Path
) -> None:
    writer = GroupCommitWriter(writes, max_delay=UNIT / 5)
    await writer.start()
    try:

        async def counted(conn: WriteConnection) -> Any:
            return await conn.scalar(select(func.count()).select_from(station_events))

        results = await writer.submit(event("CP1"), event("CP2"), Custom(counted))
        assert results[2] == 2  # the op sees the rows of its own transaction
        assert stored_events(database) == 2
    finally:
        await writer.stop()


async def test_a_failed_submission_leaves_nothing_and_others_commit(
    writes: InlineSqliteWrites, database: Path
) -> None:
    writer = GroupCommitWriter(writes, max_delay=2 * UNIT)
    await writer.start()
    try:

        async def duplicate(conn: WriteConnection) -> None:
            row: dict[str, Any] = {
                "station_id": "CP9",
                "kind": "Test",
                "payload": {},
                "received_at": None,
            }
            await conn.execute(station_events.insert(), [row])  # received_at NOT NULL

        good = writer.submit_nowait(event("CP1"))
        bad = writer.submit_nowait(event("CP2"), Custom(duplicate))
        await good
        with pytest.raises(IntegrityError):
            await bad
        assert stored_events(database) == 1
    finally:
        await writer.stop()


async def test_another_writer_holding_the_lock_is_waited_for_without_stalling_the_loop(
    writes: InlineSqliteWrites, database: Path
) -> None:
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another shard's writer, mid-transaction
    writer = GroupCommitWriter(writes, max_delay=UNIT / 5)
    await writer.start()
    try:
        loop = asyncio.get_running_loop()
        submitted = asyncio.ensure_future(writer.submit(event("CP1")))
        longest_gap, last = 0.0, loop.time()
        for _ in range(20):  # the loop keeps serving while the submission waits
            await asyncio.sleep(UNIT / 10)
            longest_gap, last = max(longest_gap, loop.time() - last), loop.time()
        assert not submitted.done()
        assert longest_gap < 2 * UNIT
        other.execute("COMMIT")
        await asyncio.wait_for(submitted, 40 * UNIT)
        assert stored_events(database) == 1
    finally:
        other.close()
        await writer.stop()


async def test_a_lock_held_too_long_fails_the_batch_as_a_store_failure(database: Path) -> None:
    writes = InlineSqliteWrites(make_url(f"sqlite+aiosqlite:///{database}"), lock_timeout=4 * UNIT)
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    writer = GroupCommitWriter(writes, max_delay=UNIT / 5, retries=0)
    await writer.start()
    try:
        with pytest.raises(OperationalError, match="locked"):
            await asyncio.wait_for(writer.submit(event("CP1")), 100 * UNIT)
        assert writer.failing_since is not None
    finally:
        other.execute("ROLLBACK")
        other.close()
        await writer.stop()
        await writes.close()
    assert stored_events(database) == 0


async def test_commits_reach_the_database_file_through_checkpoints(
    writes: InlineSqliteWrites, database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inline_module, "CHECKPOINT_INTERVAL", UNIT / 10)
    writer = GroupCommitWriter(writes, max_delay=UNIT / 10)
    await writer.start()
    try:
        for n in range(5):
            await writer.submit(event(f"CP{n}"))
            await asyncio.sleep(UNIT / 5)
        await writes.checkpointed()
        # The database file alone, without its log, while every connection is open (closing the
        # last one would checkpoint by itself): what the checkpoints copied into it.
        alone = tmp_path / "alone.db"
        shutil.copyfile(database, alone)
        assert stored_events(alone) >= 4
    finally:
        await writer.stop()


async def test_the_writer_connection_never_checkpoints_by_itself(
    writes: InlineSqliteWrites,
) -> None:
    async with writes.begin() as conn:
        pages = await conn.scalar(select(func.count()).select_from(station_events))
        assert pages == 0
        result = await conn.execute(select(func.count()).select_from(station_events))
        assert result.scalar_one() == 0
    # A checkpoint on the loop could stall it for as long as the disk takes to sync.
    with writes._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 0


async def test_engine_and_inline_writers_share_one_file(database: Path) -> None:
    """Two shards: one through aiosqlite, one inline, both committing to one file."""
    engine: AsyncEngine = create_engine(f"sqlite:///{database}", immediate=True)
    inline = InlineSqliteWrites(make_url(f"sqlite+aiosqlite:///{database}"))
    writers = [GroupCommitWriter(engine, max_delay=UNIT / 10), GroupCommitWriter(inline)]
    for writer in writers:
        await writer.start()
    try:
        await asyncio.gather(
            *(writers[n % 2].submit(event(f"CP{n}")) for n in range(40)),
        )
    finally:
        for writer in writers:
            await writer.stop()
        await inline.close()
        await engine.dispose()
    assert stored_events(database) == 40


async def test_a_large_write_yields_to_the_loop_between_chunks(
    writes: InlineSqliteWrites, database: Path
) -> None:
    """Tens of thousands of rows (a campaign, a full local list) must not hold the loop at once."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    seen: list[int] = []

    class Recording:
        def __init__(self, conn: WriteConnection) -> None:
            self.conn = conn
            self.dialect = conn.dialect

        async def execute(self, statement: Any, parameters: Any = None) -> Any:
            seen.append(ticks)
            return await self.conn.execute(statement, parameters)

        async def scalar(self, statement: Any, parameters: Any = None) -> Any:
            return await self.conn.scalar(statement, parameters)

    rows = 2 * writer_module.CHUNK_ROWS + 1
    ticking = asyncio.create_task(ticker())
    try:
        await asyncio.sleep(0)
        async with writes.begin() as conn:
            await Insert(station_events, list(event("CP").rows) * rows).apply(Recording(conn))
    finally:
        ticking.cancel()
    assert len(seen) == 3  # three executemany chunks
    assert seen[0] < seen[1] < seen[2]  # the loop ran between them
    assert stored_events(database) == rows
