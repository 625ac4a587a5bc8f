"""Migrations: idempotent, safe to run concurrently, and equal to the metadata."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect, text

from persistence.database import create_engine
from persistence.migrate import Tree, migrate
from persistence.models import metadata
from persistence.status_models import status_metadata

VERSION_TABLES = {"main": "alembic_version", "status": "alembic_version_status"}
METADATA = {"main": metadata, "status": status_metadata}
TREES: tuple[Tree, ...] = ("main", "status")


def _diff(connection: Connection, which: Tree, target: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "version_table": VERSION_TABLES[which],
            "compare_type": True,
            "compare_server_default": True,
            # Only this tree's tables: both trees may share one database.
            "include_name": lambda name, type_, _parent: type_ != "table" or name in target.tables,
        },
    )
    return list(compare_metadata(context, target))


def _version(connection: Connection, which: Tree) -> list[str]:
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLES[which]}"))
    return [r[0] for r in rows]


async def test_migrated_schema_equals_metadata_and_rerun_is_a_no_op(db_url: str) -> None:
    """Both trees into one database (their tables and version tables are distinct), each twice."""
    engine = create_engine(db_url)
    try:
        for which in TREES + TREES:
            await migrate(engine, which)
        async with engine.connect() as conn:
            for which in TREES:
                assert await conn.run_sync(_diff, which, METADATA[which]) == []
                assert await conn.run_sync(_version, which) == [f"{which}_0001"]
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert tables == {*metadata.tables, *status_metadata.tables, *VERSION_TABLES.values()}
    finally:
        await engine.dispose()


async def test_concurrent_migrations_take_turns(db_url: str) -> None:
    """Two processes starting at once: one migrates, the other finds the schema at head."""
    engines = [create_engine(db_url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(e, "main") for e in engines))
        async with engines[0].connect() as conn:
            assert await conn.run_sync(_version, "main") == ["main_0001"]
            assert await conn.run_sync(_diff, "main", metadata) == []
    finally:
        for engine in engines:
            await engine.dispose()
