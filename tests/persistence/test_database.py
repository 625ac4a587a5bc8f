"""Engines, URLs, dialect helpers and the UTC timestamp type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import async_url, create_engine, default_urls, dialect_insert
from persistence.errors import PersistenceError, UnsupportedDatabase
from persistence.models import stations, transactions
from tests.persistence.helpers import station_row


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("sqlite+aiosqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("postgresql://u:p@db:5432/vm", "postgresql+asyncpg://u:p@db:5432/vm"),
        ("postgres://u@db/vm", "postgresql+asyncpg://u@db/vm"),
        ("postgresql+asyncpg://u@db/vm", "postgresql+asyncpg://u@db/vm"),
    ],
)
def test_urls_get_the_async_driver(url: str, expected: str) -> None:
    assert async_url(url).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize(
    "url", ["mysql://u@db/vm", "postgresql+psycopg2://u@db/vm", "sqlite+pysqlcipher:///x.db"]
)
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabase):
        async_url(url)
    assert issubclass(UnsupportedDatabase, PersistenceError)


def test_default_urls(tmp_path: Path) -> None:
    assert default_urls(tmp_path) == (
        f"sqlite+aiosqlite:///{tmp_path}/voltmesh.db",
        f"sqlite+aiosqlite:///{tmp_path}/status.db",
    )


async def test_sqlite_engine_creates_its_directory_and_sets_pragmas(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/a/b/voltmesh.db")
    try:
        async with engine.connect() as conn:
            values = [
                (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            ]
    finally:
        await engine.dispose()
    # synchronous: 1 is NORMAL.
    assert values == ["wal", 1, 10000, 1]
    assert (tmp_path / "a" / "b" / "voltmesh.db").exists()


async def test_dialect_insert_supports_both_conflict_clauses(main_engine: AsyncEngine) -> None:
    insert = dialect_insert(main_engine, stations)
    async with main_engine.begin() as conn:
        await conn.execute(insert.values(station_row("s", vendor="one")))
        await conn.execute(
            dialect_insert(conn, stations)
            .values(station_row("s", vendor="ignored"))
            .on_conflict_do_nothing(index_elements=["id"])
        )
        upsert = dialect_insert(main_engine.dialect.name, stations).values(
            station_row("s", vendor="two")
        )
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["id"], set_={"vendor": upsert.excluded.vendor}
            )
        )
        assert (await conn.execute(select(stations.c.vendor))).scalar_one() == "two"
    with pytest.raises(UnsupportedDatabase):
        dialect_insert("mysql", stations)


async def test_timestamps_are_stored_in_utc(main_engine: AsyncEngine) -> None:
    plus_two = timezone(timedelta(hours=2))
    start = datetime(2025, 3, 1, 14, 0, tzinfo=plus_two)  # 12:00 UTC
    stop = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    async with main_engine.begin() as conn:
        await conn.execute(
            transactions.insert().values(
                id="1", station_id="s", protocol="ocpp1.6", start_time=start, stop_time=stop
            )
        )
    async with main_engine.connect() as conn:
        row = (await conn.execute(select(transactions))).mappings().one()
        # Comparisons with an aware value of another offset agree with the instants.
        later = (
            await conn.execute(
                select(transactions.c.id).where(
                    transactions.c.stop_time > datetime(2025, 3, 1, 14, 15, tzinfo=plus_two)
                )
            )
        ).scalar()
        if main_engine.dialect.name == "sqlite":
            raw = (await conn.execute(text("SELECT start_time FROM transactions"))).scalar()
            assert str(raw).startswith("2025-03-01 12:00:00")
    assert row["start_time"] == start
    assert row["start_time"].utcoffset() == timedelta(0)
    assert row["created_at"].tzinfo is not None
    assert row["stale"] is False
    assert later == "1"
