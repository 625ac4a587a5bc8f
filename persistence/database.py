"""Engines of the two stores and the dialect-specific pieces the rest of the package needs.

Supported: SQLite through aiosqlite (the embedded default, one writing process) and PostgreSQL
through asyncpg (production, and any deployment with more than one writing process).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Dialect, Engine, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from persistence.connections import WriteConnection
from persistence.errors import UnsupportedDatabase

BUSY_TIMEOUT = 10.0
"""Seconds a SQLite connection waits for another's write lock instead of failing at once."""
SQLITE_SETTINGS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)
"""What every SQLite connection runs: WAL lets readers run beside the writer; NORMAL is durable
across application crashes in WAL mode (only a power loss can drop the latest commits)."""
# The busy timeout first, so that the settings after it wait for a lock too.
_SQLITE_PRAGMAS = (f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}", *SQLITE_SETTINGS)


def async_url(url: str) -> URL:
    """The URL with its async driver: ``sqlite://`` -> aiosqlite, ``postgresql://`` -> asyncpg."""
    parsed = make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("", "aiosqlite"):
            raise UnsupportedDatabase(f"SQLite driver {driver!r} is not supported; use aiosqlite")
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "asyncpg"):
            raise UnsupportedDatabase(f"PostgreSQL driver {driver!r} is not supported; use asyncpg")
        return parsed.set(drivername="postgresql+asyncpg")
    raise UnsupportedDatabase(f"database {backend!r} is not supported; use SQLite or PostgreSQL")


def run_pragmas(dbapi_connection: Any, pragmas: tuple[str, ...]) -> None:
    """Run ``pragmas`` on a new SQLite driver connection, in order."""
    cursor = dbapi_connection.cursor()
    try:
        for pragma in pragmas:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    run_pragmas(dbapi_connection, _SQLITE_PRAGMAS)


def _begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def no_driver_begin(dbapi_connection: Any, _record: Any) -> None:
    """A ``connect`` listener for connections whose transactions begin with our own statement."""
    # The driver would BEGIN (DEFERRED) by itself before the first write; BEGIN IMMEDIATE is ours.
    dbapi_connection.isolation_level = None


def create_engine(url: str, *, immediate: bool = False) -> AsyncEngine:
    """An async engine for ``url``; plain ``sqlite:///`` and ``postgresql://`` URLs get the async
    drivers. For a SQLite file the parent directory is created. The caller disposes the engine.

    ``immediate`` (SQLite): every transaction takes the write lock at its BEGIN. A writer that reads
    before it writes (a lease check, an id block) then never finds, at its first write, that
    another process wrote since its read: in WAL mode that fails at once (SQLITE_BUSY_SNAPSHOT)
    instead of waiting for the lock."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(parsed, **JSON_CODEC)
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        if immediate:
            event.listen(engine.sync_engine, "connect", no_driver_begin)
            event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    # pool_pre_ping replaces connections that a server restart closed while they sat in the pool.
    return create_async_engine(parsed, pool_pre_ping=True, **JSON_CODEC)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
"""orjson for JSON columns (transaction extras, event payloads): several times faster than the
standard library's json, which SQLAlchemy uses by default, on every transaction message."""


def default_urls(data_dir: Path) -> tuple[str, str]:
    """(main store URL, status store URL) of the embedded SQLite files under ``data_dir``."""
    return (
        f"sqlite+aiosqlite:///{data_dir}/voltmesh.db",
        f"sqlite+aiosqlite:///{data_dir}/status.db",
    )


def dialect_name(
    target: AsyncEngine | AsyncConnection | WriteConnection | Engine | Dialect | str,
) -> str:
    """The dialect name (``"sqlite"``, ``"postgresql"``) of an engine, connection or dialect."""
    if isinstance(target, str):
        return target
    if isinstance(target, Dialect):
        return target.name
    return target.dialect.name


def dialect_insert(
    target: AsyncEngine | AsyncConnection | WriteConnection | Engine | Dialect | str, table: Table
) -> sqlite.Insert | postgresql.Insert:
    """``INSERT`` of the target's dialect, with ``on_conflict_do_nothing(index_elements=...)`` and
    ``on_conflict_do_update(index_elements=..., set_=...)``, which both dialects provide."""
    name = dialect_name(target)
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise UnsupportedDatabase(f"no upsert for dialect {name!r}")
