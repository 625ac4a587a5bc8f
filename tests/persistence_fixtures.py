"""Database fixtures: every store test runs on SQLite (a temp dir) and on PostgreSQL.

PostgreSQL tests get a fresh database ``voltmesh_test_<hex>`` on the server of
``VOLTMESH_TEST_POSTGRES_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``),
dropped afterwards. Without a reachable server they are skipped, except under ``CI`` where they fail.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import create_engine
from persistence.migrate import migrate
from tests.timing import UNIT

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT = 100 * UNIT


def _server_url() -> str:
    return os.environ.get("VOLTMESH_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new empty database on the test server; yields its SQLAlchemy URL, drops it after."""
    server = _server_url()
    try:
        admin = await asyncpg.connect(_asyncpg_dsn(server), timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL at {make_url(server).render_as_string()} unreachable: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"voltmesh_test_{secrets.token_hex(6)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield (
                make_url(server)
                .set(drivername="postgresql+asyncpg", database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            # FORCE ends connections a failed test left open (PostgreSQL 13+).
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Main store URL of a SQLite file in a temp dir (the directory is created by the engine)."""
    return f"sqlite+aiosqlite:///{tmp_path}/db/voltmesh.db"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """URL of a fresh PostgreSQL database, dropped after the test."""
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Main store URL, once per database kind."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def status_db_url(db_url: str, tmp_path: Path) -> str:
    """Status store URL of the same database kind as ``db_url``: on SQLite a second file (the
    default layout), on PostgreSQL the same database (the two stores' tables and version tables
    are distinct, and one database per test is faster)."""
    if db_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path}/db/status.db"
    return db_url


@pytest.fixture
async def main_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """Engine of a migrated main store; disposed after the test."""
    engine = create_engine(db_url)
    try:
        await migrate(engine, "main")
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def status_engine(status_db_url: str) -> AsyncIterator[AsyncEngine]:
    """Engine of a migrated status store; disposed after the test."""
    engine = create_engine(status_db_url)
    try:
        await migrate(engine, "status")
        yield engine
    finally:
        await engine.dispose()
