"""Schema migrations, applied on start from code (no alembic.ini on disk).

Two trees, one per store: ``persistence/migrations/main`` (version table ``alembic_version``) and
``persistence/migrations/status`` (``alembic_version_status``), so both stores may even share one
PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, MetaData, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

Tree = Literal["main", "status"]

_TREES = Path(__file__).parent / "migrations"


def _lock_key(which: Tree) -> int:
    """A stable bigint per tree for ``pg_advisory_xact_lock``."""
    digest = hashlib.sha256(f"voltmesh.migrate.{which}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def alembic_config(which: Tree) -> Config:
    """Alembic configuration of one tree, built in code."""
    config = Config()
    # ConfigParser interpolates "%": escape it in the path.
    config.set_main_option("script_location", str(_TREES / which).replace("%", "%%"))
    return config


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine, which: Tree) -> None:
    """Upgrade the store behind ``engine`` to the newest revision of tree ``which``.

    Idempotent. Processes that start at the same time take turns: on PostgreSQL through a
    transaction-scoped advisory lock, on SQLite through ``BEGIN IMMEDIATE`` (the database write lock),
    and the one that comes second finds the schema at head and does nothing. The whole upgrade runs
    in one transaction (both databases have transactional DDL), so a failed upgrade leaves no half
    schema behind.
    """
    config = alembic_config(which)
    for attempt in range(_SQLITE_LOCK_RETRIES + 1):
        try:
            await _migrate_once(engine, config, which)
            return
        except OperationalError as exc:
            # SQLite answers "database is locked" without waiting when connections open a new
            # file at the same moment (the switch to WAL takes an exclusive lock that its busy
            # handler does not cover). Taking turns a moment later works.
            if "locked" not in str(exc) or attempt == _SQLITE_LOCK_RETRIES:
                raise
            await asyncio.sleep(0.05 * 2**attempt)


_SQLITE_LOCK_RETRIES = 6


async def _migrate_once(engine: AsyncEngine, config: Config, which: Tree) -> None:
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(select(func.pg_advisory_xact_lock(_lock_key(which))))
        elif conn.dialect.name == "sqlite":
            # The sqlite3 module opens transactions only before DML; take the write lock explicitly
            # so that DDL and the version stamp commit together.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        await conn.run_sync(_upgrade, config)
        await conn.commit()


def run_environment(metadata: MetaData, *, version_table: str) -> None:
    """Body of a tree's ``env.py``: migrate the connection that ``migrate`` handed over."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("voltmesh migrations run through persistence.migrate.migrate() only")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        # Future revisions that alter SQLite tables need the copy-and-move batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
