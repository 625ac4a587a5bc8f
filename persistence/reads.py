"""Where reads of the main store run: through the async engine, or inline for embedded SQLite.

Through aiosqlite every cursor operation is a hop to the connection's thread and back (five or so per
query, each a GIL hand-over), which makes a point read cost hundreds of microseconds. In WAL mode a
SQLite reader never waits for the writer, and an indexed point read takes a few microseconds, so the
message handlers read SQLite inline on the event loop instead. Long reads (REST listings) stay on the
async engine, where a slow query cannot stall the chargers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, RowMapping, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from persistence.database import JSON_CODEC


class Reads(Protocol):
    """Runs a read-only statement and returns its rows as mappings."""

    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> RowMapping | None: ...

    async def all(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]: ...


class EngineReads:
    """Reads through an async engine (PostgreSQL, and SQLite for long reads)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> RowMapping | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(statement, params)).mappings().first()

    async def all(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]:
        async with self.engine.connect() as conn:
            return (await conn.execute(statement, params)).mappings().all()


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # A reader never writes; a checkpoint or WAL recovery in progress is waited for briefly.
        cursor.execute("PRAGMA query_only=1")
        cursor.execute("PRAGMA busy_timeout=1000")
    finally:
        cursor.close()


class InlineSqliteReads:
    """Short reads of a SQLite store, run synchronously on the calling thread (the event loop).

    They run one at a time (nothing awaits inside a read), so one connection serves them all,
    kept open: taking a connection from the pool and giving it back cost as much as the read.
    Each read ends its transaction, so no snapshot outlives it and the next sees every commit."""

    def __init__(self, engine: AsyncEngine) -> None:
        url = engine.url.set(drivername="sqlite+pysqlite")
        self._engine: Engine = create_sync_engine(url, **JSON_CODEC)
        event.listen(self._engine, "connect", _read_only)
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self._engine.connect()
        return self._conn

    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> RowMapping | None:
        conn = self._connection()
        try:
            return conn.execute(statement, params).mappings().first()
        finally:
            conn.rollback()

    async def all(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]:
        conn = self._connection()
        try:
            return conn.execute(statement, params).mappings().all()
        finally:
            conn.rollback()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()


def hot_path_reads(engine: AsyncEngine) -> EngineReads | InlineSqliteReads:
    """Inline reads for a SQLite file, the engine otherwise."""
    database = engine.url.database or ""
    if engine.url.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
        return InlineSqliteReads(engine)
    return EngineReads(engine)
