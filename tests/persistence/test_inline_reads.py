"""Inline reads of a SQLite file: one kept connection that always sees the latest commit and
never writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError

from persistence.database import create_engine
from persistence.migrate import migrate
from persistence.models import stations
from persistence.reads import EngineReads, InlineSqliteReads, hot_path_reads

BY_ID = select(stations.c.id).where(stations.c.id == bindparam("id"))


async def test_each_read_sees_the_commits_made_since_the_last(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/main.db")
    try:
        await migrate(engine, "main")
        reads = hot_path_reads(engine)
        assert isinstance(reads, InlineSqliteReads)
        try:
            assert await reads.first(BY_ID, {"id": "CP1"}) is None
            with sqlite3.connect(tmp_path / "main.db") as other:  # another process's commit
                other.execute(
                    "INSERT INTO stations (id, created_at, updated_at)"
                    " VALUES ('CP1', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            found = await reads.first(BY_ID, {"id": "CP1"})
            assert found is not None and found["id"] == "CP1"
            assert [row["id"] for row in await reads.all(select(stations.c.id))] == ["CP1"]
            with pytest.raises(OperationalError, match="readonly"):
                await reads.first(text("DELETE FROM stations"))
            # A failed statement leaves the kept connection usable.
            assert await reads.first(BY_ID, {"id": "CP1"}) is not None
        finally:
            reads.close()
    finally:
        await engine.dispose()


async def test_a_memory_database_is_read_through_its_engine() -> None:
    engine = create_engine("sqlite://")
    try:
        assert isinstance(hot_path_reads(engine), EngineReads)
    finally:
        await engine.dispose()
