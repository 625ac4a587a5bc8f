"""The group-commit writer's transactions on a SQLite file, run on the event loop itself.

Through aiosqlite every statement is a hop to the connection's thread and back, each a wakeup of the
event loop and a hand-over of the GIL. A transaction message's commit runs several statements (the
EVSE's open transactions, the token, the row, the running register), so the hops, not SQLite, were
most of what it cost. In WAL mode with ``synchronous=NORMAL`` a commit does not wait for the disk,
and the writer's statements are indexed point writes and executemany batches: inline they cost
microseconds each.

Two things could still stall the loop, and neither may:

- the write lock, held by another shard's writer: ``BEGIN IMMEDIATE`` here never waits inside
  SQLite (busy timeout 0). The writer yields to the loop and tries again, backing off, for as long
  as the other connections would wait (`LOCK_TIMEOUT`);
- a checkpoint, which copies the log into the database file and syncs it: automatic checkpoints
  are off on this connection, and a worker thread runs a PASSIVE checkpoint at most every
  `CHECKPOINT_INTERVAL` seconds while commits come in.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import Connection, CursorResult, Dialect, Engine, Executable, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from persistence.connections import WriteConnection
from persistence.database import (
    BUSY_TIMEOUT,
    JSON_CODEC,
    SQLITE_SETTINGS,
    no_driver_begin,
    run_pragmas,
)

log = logging.getLogger(__name__)

LOCK_TIMEOUT = BUSY_TIMEOUT
"""Seconds a transaction waits for another process's write lock (the other connections' busy
timeout) before it fails."""
CHECKPOINT_INTERVAL = 1.0
"""Seconds between checkpoints while commits come in: the log grows by at most what one second of
commits writes."""
_FIRST_RETRY = 0.0005
_LONGEST_RETRY = 0.02

# No wait inside SQLite for the lock, and no checkpoint on the loop (see above).
_PRAGMAS = ("PRAGMA busy_timeout=0", *SQLITE_SETTINGS, "PRAGMA wal_autocheckpoint=0")


def _prepare(dbapi_connection: Any, record: Any) -> None:
    no_driver_begin(dbapi_connection, record)
    run_pragmas(dbapi_connection, _PRAGMAS)


class _InlineConnection:
    """A synchronous connection behind the writer's async interface: each call runs at once."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Dialect:
        return self._conn.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return self._conn.execute(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return self._conn.scalar(statement, parameters)


class InlineSqliteWrites:
    """Write transactions on one SQLite file, on the calling thread; ``begin()`` as the writer
    expects of `persistence.connections.Transactions`. ``close()`` when done."""

    def __init__(self, url: URL, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        if url.database in (None, "", ":memory:"):
            raise ValueError("inline writes need a SQLite file")
        self._path = url.database
        self._engine: Engine = create_sync_engine(
            url.set(drivername="sqlite+pysqlite"), **JSON_CODEC
        )
        event.listen(self._engine, "connect", _prepare)
        self._lock_timeout = lock_timeout
        self._last_checkpoint = 0.0
        self._checkpoint: asyncio.Future[None] | None = None
        self._checkpointer: sqlite3.Connection | None = None

    def begin(self) -> AbstractAsyncContextManager[WriteConnection]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[WriteConnection]:
        with self._engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            await self._take_write_lock(raw)
            try:
                yield _InlineConnection(conn)
            except BaseException:
                conn.rollback()
                if raw.in_transaction:
                    raw.rollback()
                raise
            conn.commit()
            if raw.in_transaction:  # BEGIN IMMEDIATE with no statement after it
                raw.commit()
        self._after_commit()

    async def _take_write_lock(self, raw: sqlite3.Connection) -> None:
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        delay = _FIRST_RETRY
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
                now = loop.time()
                if deadline is None:
                    deadline = now + self._lock_timeout
                elif now >= deadline:
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
            await asyncio.sleep(delay)
            delay = min(2 * delay, _LONGEST_RETRY)

    # --- checkpoints ------------------------------------------------------------------------------

    def _after_commit(self) -> None:
        loop = asyncio.get_running_loop()
        if (
            self._checkpoint is not None
            or loop.time() - self._last_checkpoint < CHECKPOINT_INTERVAL
        ):
            return
        self._last_checkpoint = loop.time()
        try:
            self._checkpoint = loop.run_in_executor(None, self._run_checkpoint)
        except RuntimeError as exc:
            # The loop's executor is shut down (the process is ending). The transaction has
            # committed: failing it now would make the writer apply its writes again.
            log.warning("checkpoint of %s not started: %r", self._path, exc)
            return
        self._checkpoint.add_done_callback(self._checkpoint_done)

    def _run_checkpoint(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False
            )
            self._checkpointer.execute("PRAGMA busy_timeout=1000")
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _checkpoint_done(self, done: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not done.cancelled() and done.exception() is not None:
            # The next one tries again; the log only grows meanwhile.
            log.warning("checkpoint of %s failed: %r", self._path, done.exception())

    async def checkpointed(self) -> None:
        """Return once no checkpoint is under way."""
        if self._checkpoint is not None:
            await asyncio.wait([self._checkpoint])

    async def close(self) -> None:
        """Wait for a checkpoint under way, then close every connection."""
        try:
            await self.checkpointed()
        finally:
            # A checkpoint still running (the wait was cancelled) keeps its connection.
            if self._checkpointer is not None and self._checkpoint is None:
                self._checkpointer.close()
                self._checkpointer = None
            self._engine.dispose()


def inline_writes(url: URL) -> InlineSqliteWrites | None:
    """Inline write transactions for a SQLite file URL; None for anything else."""
    database = url.database or ""
    if (
        url.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
    ):
        return InlineSqliteWrites(url)
    return None
