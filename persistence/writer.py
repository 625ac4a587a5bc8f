"""Group commit: the writes of many actors, committed together, each caller resolved after the COMMIT.

The durability rule of the architecture: the answer to a transaction message is sent only after its data
is committed. One transaction per message would cost one fsync (SQLite) or one round trip plus WAL
flush (PostgreSQL) each; grouping turns N of them into one.

A caller submits write operations and awaits the returned future::

    await writer.submit(Insert(meter_values, rows, on_conflict_do_nothing=("sample_key",)))

One task drains the queue: it takes the first submission, collects more for up to ``max_delay`` seconds
or ``max_batch`` operations, runs all of them in one database transaction and commits. Only then are
the futures resolved, so a resolved submit means the rows are visible to every other connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Executable, Table, and_, bindparam, select
from sqlalchemy.exc import DBAPIError, OperationalError

from persistence.connections import Transactions, WriteConnection
from persistence.database import dialect_insert, dialect_name
from persistence.errors import StaleEpoch, WriterClosed
from persistence.models import station_leases

log = logging.getLogger(__name__)


class WriteOp(Protocol):
    """One write; ``apply`` runs inside the writer's transaction and must not commit."""

    async def apply(self, conn: WriteConnection) -> Any: ...


@dataclass(frozen=True, slots=True)
class Insert:
    """Insert rows; the writer merges consecutive compatible inserts into one executemany.

    ``apply`` returns None (a merged executemany has no per-submission row count). A ``deferred``
    insert waits until the other ops of its batch have run (before the mergeable updates) and is
    merged with every compatible deferred insert of the batch, wherever they stand in it: use it for
    rows nothing else in the batch reads or depends on, such as meter samples and event logs.
    """

    table: Table
    """Target table."""
    rows: Sequence[Mapping[str, Any]]
    """Rows as column name -> value; rows with different column sets are executed separately."""
    on_conflict_do_nothing: tuple[str, ...] | None = None
    """Index elements (primary key or unique columns): a row that conflicts there is skipped."""
    deferred: bool = False
    """May wait until the end of the batch and merge there (see above)."""

    async def apply(self, conn: WriteConnection) -> None:
        for rows in _same_columns(self.rows):
            await _insert(conn, self.table, rows, self.on_conflict_do_nothing)

    def runs(self) -> list[tuple[InsertKey, list[Mapping[str, Any]]]]:
        """The rows by the executemany they can join: (table, columns, conflict option)."""
        return [
            ((self.table, frozenset(rows[0]), self.on_conflict_do_nothing), rows)
            for rows in _same_columns(self.rows)
        ]


InsertKey = tuple[Table, frozenset[str], tuple[str, ...] | None]


@dataclass(frozen=True, slots=True)
class Update:
    """``UPDATE table SET values WHERE column = value AND ...``; ``apply`` returns the row count.

    A ``mergeable`` update is applied after every other op of its batch, together with the batch's
    other mergeable updates of the same shape (table, WHERE columns, SET columns) as one executemany;
    its result is then None. Use it for updates nothing else in the batch reads, such as the running
    meter reading of a transaction.
    """

    table: Table
    """Target table."""
    where: Mapping[str, Any]
    """Equality conditions, column name -> value, joined with AND; must not be empty."""
    values: Mapping[str, Any]
    """New values, column name -> value."""
    mergeable: bool = False
    """May be deferred to the end of the batch and merged (see above)."""

    async def apply(self, conn: WriteConnection) -> int:
        if not self.where:
            raise ValueError(f"Update of {self.table.name} without a WHERE would touch every row")
        condition = and_(*(self.table.c[name] == value for name, value in self.where.items()))
        result = await conn.execute(self.table.update().where(condition).values(dict(self.values)))
        return int(result.rowcount)

    @property
    def shape(self) -> tuple[Table, tuple[str, ...], tuple[str, ...]]:
        return (self.table, tuple(self.where), tuple(self.values))


async def _update_many(conn: WriteConnection, updates: Sequence[Update]) -> None:
    """Updates of one shape as a single executemany (bind names prefixed: a column may be in both)."""
    table, where_columns, value_columns = updates[0].shape
    if not where_columns:
        raise ValueError(f"Update of {table.name} without a WHERE would touch every row")
    statement = (
        table.update()
        .where(and_(*(table.c[c] == bindparam(f"w_{c}") for c in where_columns)))
        .values({c: bindparam(f"v_{c}") for c in value_columns})
    )
    params = [
        {
            **{f"w_{c}": u.where[c] for c in where_columns},
            **{f"v_{c}": u.values[c] for c in value_columns},
        }
        for u in updates
    ]
    await _execute_in_chunks(conn, statement, params)


@dataclass(frozen=True, slots=True)
class Upsert:
    """Insert rows, or update the existing row with the same key to these values (returns None).
    Rows with the same columns go as one executemany."""

    table: Table
    """Target table."""
    rows: Sequence[Mapping[str, Any]]
    """Full rows, column name -> value."""
    key: tuple[str, ...]
    """Columns of the primary key or of a unique constraint that identify a row."""
    update_only: tuple[str, ...] | None = None
    """Columns an existing row takes from the new one; None: every column but the key."""

    async def apply(self, conn: WriteConnection) -> None:
        for rows in _same_columns(self.rows):
            insert = dialect_insert(conn, self.table)
            names = self.update_only if self.update_only is not None else tuple(rows[0])
            changed = {name: insert.excluded[name] for name in names if name not in self.key}
            statement = (
                insert.on_conflict_do_update(index_elements=list(self.key), set_=changed)
                if changed
                else insert.on_conflict_do_nothing(index_elements=list(self.key))
            )
            await conn.execute(statement, [dict(row) for row in rows])


@dataclass(frozen=True, slots=True)
class Custom:
    """Any statements; ``apply`` returns what ``fn`` returns. ``fn`` must not commit or roll back."""

    fn: Callable[[WriteConnection], Awaitable[Any]]
    """Runs inside the writer's transaction, possibly more than once if the transaction is retried."""

    async def apply(self, conn: WriteConnection) -> Any:
        return await self.fn(conn)


@dataclass(slots=True)
class WriterStats:
    """Counters of a writer, for metrics."""

    commits: int = 0
    """Transactions committed."""
    ops: int = 0
    """Operations committed."""
    batches: int = 0
    """Batches taken off the queue (one or more submissions each)."""
    failures: int = 0
    """Submissions whose future got an exception."""
    retries: int = 0
    """Transactions retried after a lost connection."""
    stale: int = 0
    """Submissions refused because their station had moved on (``StaleEpoch``)."""


@dataclass(frozen=True, slots=True)
class Fence:
    """The station lease a submission was made under: it is applied only while the station's
    lease still has this epoch (or none was ever taken)."""

    station_id: str
    epoch: int


@dataclass(frozen=True, slots=True)
class TakenLease:
    """What taking a station's lease returns; the writer fences the rest of its batch by it."""

    station_id: str
    epoch: int
    previous_member: str | None
    """Who held the station until now (None: nobody); it may be the taker itself."""


@dataclass(slots=True)
class _Submission:
    ops: tuple[WriteOp, ...]
    future: asyncio.Future[list[Any]]
    fence: Fence | None = None
    results: list[Any] = field(default_factory=list)
    stale: bool = False


def _same_columns(
    rows: Sequence[Mapping[str, Any]],
) -> list[list[Mapping[str, Any]]]:
    """Split rows into runs with the same column set (one executemany each)."""
    runs: list[list[Mapping[str, Any]]] = []
    last: frozenset[str] | None = None
    for row in rows:
        columns = frozenset(row)
        if columns != last:
            runs.append([])
            last = columns
        runs[-1].append(row)
    return runs


async def _insert(
    conn: WriteConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    on_conflict_do_nothing: tuple[str, ...] | None,
) -> None:
    if not rows:
        return
    if on_conflict_do_nothing is None:
        await _execute_in_chunks(conn, table.insert(), [dict(r) for r in rows])
        return
    statement = dialect_insert(conn, table).on_conflict_do_nothing(
        index_elements=list(on_conflict_do_nothing)
    )
    await _execute_in_chunks(conn, statement, [dict(r) for r in rows])


CHUNK_ROWS = 1000
"""Rows per executemany of a large write (a campaign's updates, a full local list)."""


async def _execute_in_chunks(
    conn: WriteConnection, statement: Executable, params: list[dict[str, Any]]
) -> None:
    """``statement`` for every row of ``params``, in chunks with a yield to the event loop between
    them: a SQLite file's writes run on the loop (`persistence.inline_writes`), and tens of
    thousands of rows at once would hold every charger's messages for their whole duration. The
    transaction keeps the write lock meanwhile; other writers wait for it as before."""
    for start in range(0, len(params), CHUNK_ROWS):
        if start:
            await asyncio.sleep(0)
        await conn.execute(statement, params[start : start + CHUNK_ROWS])


class Writer(Protocol):
    """What submitters use of a group-commit writer."""

    def submit_nowait(
        self, *ops: WriteOp, fence: Fence | None = None
    ) -> asyncio.Future[list[Any]]: ...

    async def submit(self, *ops: WriteOp, fence: Fence | None = None) -> list[Any]: ...


def submit_detached(writer: Writer, *ops: WriteOp, what: str) -> asyncio.Future[list[Any]] | None:
    """Queue ``ops`` that nobody waits for (a socket's close, a history record, a probe): the
    caller goes on at once, and a failure, or a writer that no longer runs (None), is logged
    naming ``what`` instead of being lost silently."""
    try:
        future = writer.submit_nowait(*ops)
    except WriterClosed as exc:
        log.warning("%s not written: %s", what, exc)
        return None

    def logged(done: asyncio.Future[list[Any]]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.warning("%s not written: %r", what, done.exception())

    future.add_done_callback(logged)
    return future


class FencedWriter:
    """A writer whose submissions all carry the fence of one station connection: what the actors
    of that connection write is refused once the station has connected again elsewhere."""

    __slots__ = ("_writer", "fence")

    def __init__(self, writer: Writer, fence: Fence) -> None:
        self._writer = writer
        self.fence = fence

    def submit_nowait(self, *ops: WriteOp, fence: Fence | None = None) -> asyncio.Future[list[Any]]:
        return self._writer.submit_nowait(*ops, fence=fence or self.fence)

    async def submit(self, *ops: WriteOp, fence: Fence | None = None) -> list[Any]:
        return await self._writer.submit(*ops, fence=fence or self.fence)


async def _lease_epochs(conn: WriteConnection, batch: list[_Submission]) -> dict[str, int]:
    """The lease epochs of the stations the batch's fenced submissions write for: one read for
    the whole batch. On PostgreSQL the lease rows are locked (FOR SHARE) until the commit, so a
    lease taken meanwhile by another member waits for it; a SQLite writer holds the database's
    write lock from its BEGIN."""
    stations = {s.fence.station_id for s in batch if s.fence is not None}
    if not stations:
        return {}
    query = select(station_leases.c.station_id, station_leases.c.epoch).where(
        station_leases.c.station_id.in_(stations)
    )
    if dialect_name(conn) == "postgresql":
        query = query.with_for_update(read=True)
    return {row.station_id: int(row.epoch) for row in await conn.execute(query)}


# PostgreSQL SQLSTATEs worth retrying: connection exceptions (class 08), the server shutting down
# (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now), and the two conflicts that
# the server asks clients to retry (40001 serialization_failure, 40P01 deadlock_detected).
_TRANSIENT_STATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})


def is_transient(exc: BaseException) -> bool:
    """Whether a failed transaction is worth running again (lost connection, server restarting)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return isinstance(state, str) and (state.startswith("08") or state in _TRANSIENT_STATES)
    # Connecting while the server restarts fails before any DBAPI error exists.
    return isinstance(exc, OSError)


class GroupCommitWriter:
    """Collects writes of many callers and commits them in shared transactions, opened by
    ``transactions``: an async engine, or `persistence.inline_writes.InlineSqliteWrites` for a
    SQLite file.

    Call ``start()`` before submitting and ``stop()`` when done: ``stop`` refuses new submissions,
    commits everything queued and ends the drain task.
    """

    def __init__(
        self,
        transactions: Transactions,
        *,
        max_delay: float = 0.002,
        max_batch: int = 512,
        retries: int = 5,
        retry_delay: float = 0.05,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._transactions = transactions
        self._max_delay = max_delay
        self._max_batch = max_batch
        self._retries = retries
        self._retry_delay = retry_delay
        self._pending: deque[_Submission] = deque()
        self._pending_ops = 0
        self._first_at = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._collecting = False
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.stats = WriterStats()
        """Counters for metrics."""
        self.failing_since: float | None = None
        """Event-loop time of the first of the latest run of failed commits that the store itself
        caused (a lost connection, a full disk, a lock timeout); None once a commit succeeds."""

    @property
    def running(self) -> bool:
        """Started and not stopping."""
        return self._task is not None and not self._closing

    async def start(self) -> None:
        """Start the drain task. Call once."""
        if self._task is not None:
            raise RuntimeError("writer already started")
        self._task = asyncio.create_task(self._drain(), name="group-commit-writer")

    def submit_nowait(self, *ops: WriteOp, fence: Fence | None = None) -> asyncio.Future[list[Any]]:
        """Queue ``ops`` (atomic together) and return the future of their results, resolved after
        the commit that includes them. Raises ``WriterClosed`` when the writer is not running.
        With a ``fence``, the ops are applied only if the station's lease still has its epoch;
        otherwise the future gets ``StaleEpoch``.

        The ops are written even if the caller stops waiting for the future."""
        if not self.running:
            raise WriterClosed("the writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if not self._pending:
            self._first_at = loop.time()
        self._pending.append(_Submission(ops, future, fence))
        self._pending_ops += len(ops)
        # Wake the drain task when it idles, or when the batch it is collecting is full.
        if not self._collecting or self._pending_ops >= self._max_batch:
            self._wake()
        return future

    async def submit(self, *ops: WriteOp, fence: Fence | None = None) -> list[Any]:
        """Write ``ops`` in one transaction and return each op's result once it is committed.

        Raises the database error if this submission failed (other submissions of the same batch
        still commit), ``WriterClosed`` if the writer is not running, ``StaleEpoch`` if the
        ``fence`` no longer holds."""
        return await self.submit_nowait(*ops, fence=fence)

    async def stop(self) -> None:
        """Refuse new submissions, commit what is queued, end the drain task. Idempotent."""
        self._closing = True
        self._wake()
        if self._task is not None:
            await self._task

    # --- drain task -------------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        handle = loop.call_later(timeout, self._wake) if timeout is not None else None
        try:
            await self._waiter
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()

    async def _drain(self) -> None:
        try:
            await self._drain_loop()
        finally:
            # Submissions are left only if the loop died (cancelled, or a bug): fail them instead
            # of leaving their callers waiting forever.
            self._closing = True
            while self._pending:
                submission = self._pending.popleft()
                if not submission.future.done():
                    submission.future.set_exception(WriterClosed("the writer task ended"))
            self._pending_ops = 0

    async def _drain_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                await self._wait(None)
                continue
            # Collect for max_delay counted from the oldest waiting submission: submissions that
            # queued up during the previous commit have waited long enough already.
            remaining = self._first_at + self._max_delay - loop.time()
            if remaining > 0 and self._pending_ops < self._max_batch and not self._closing:
                self._collecting = True
                try:
                    await self._wait(remaining)
                finally:
                    self._collecting = False
            batch = self._take_batch()
            if self._pending:
                self._first_at = loop.time()
            self.stats.batches += 1
            await self._run(batch)

    def _take_batch(self) -> list[_Submission]:
        batch = [self._pending.popleft()]
        count = len(batch[0].ops)
        while self._pending and count + len(self._pending[0].ops) <= self._max_batch:
            submission = self._pending.popleft()
            batch.append(submission)
            count += len(submission.ops)
        self._pending_ops -= count
        return batch

    async def _run(self, batch: list[_Submission]) -> None:
        try:
            await self._commit_with_retries(batch)
        except Exception as exc:
            # Only an error one submission's data can cause is worth isolating; a lock timeout, a
            # full disk or a statement timeout would fail every submission again, one by one.
            store_failed = is_transient(exc) or isinstance(exc, OperationalError | OSError)
            if store_failed and self.failing_since is None:
                self.failing_since = asyncio.get_running_loop().time()
            if len(batch) == 1 or store_failed:
                self._fail(batch, exc)
                return
            # One bad write must fail only its own submitter: run each submission alone.
            log.debug("batch of %d failed (%r); retrying submissions one by one", len(batch), exc)
            for submission in batch:
                try:
                    await self._commit_with_retries([submission])
                except Exception as single_exc:
                    self._fail([submission], single_exc)
                else:
                    self._resolve([submission])
        else:
            self._resolve(batch)

    async def _commit_with_retries(self, batch: list[_Submission]) -> None:
        attempt = 0
        while True:
            try:
                await self._commit(batch)
                return
            except Exception as exc:
                if attempt >= self._retries or not is_transient(exc):
                    raise
                # Note: a lost COMMIT acknowledgement may mean the data is in; ops are written to be
                # idempotent where charger resends matter (unique keys, ON CONFLICT DO NOTHING).
                delay = self._retry_delay * 2**attempt
                attempt += 1
                self.stats.retries += 1
                log.warning("write failed (%r); retry %d in %.2f s", exc, attempt, delay)
                await asyncio.sleep(delay)

    async def _commit(self, batch: list[_Submission]) -> None:
        for submission in batch:
            submission.results = [None] * len(submission.ops)
            submission.stale = False
        async with self._transactions.begin() as conn:
            epochs = await _lease_epochs(conn, batch)
            await self._apply(conn, batch, epochs)
        self.stats.commits += 1
        self.failing_since = None

    async def _apply(
        self, conn: WriteConnection, batch: list[_Submission], epochs: dict[str, int]
    ) -> None:
        # Runs of Inserts into the same table with the same columns and conflict option become one
        # executemany; deferred Inserts wait until the end, grouped the same way; mergeable Updates
        # come last, grouped by shape, one executemany each; everything else runs in submission
        # order.
        run_key: InsertKey | None = None
        run_rows: list[Mapping[str, Any]] = []
        late_inserts: dict[InsertKey, list[Mapping[str, Any]]] = {}
        deferred: dict[tuple[Table, tuple[str, ...], tuple[str, ...]], list[Update]] = {}
        for submission in batch:
            fence = submission.fence
            if fence is not None:
                # A lease taken earlier in this batch counts: a reconnect's take and the old
                # connection's last write may share a batch.
                epoch = epochs.get(fence.station_id)
                submission.stale = epoch is not None and epoch != fence.epoch
                if submission.stale:
                    continue
            for index, op in enumerate(submission.ops):
                if isinstance(op, Update) and op.mergeable:
                    deferred.setdefault(op.shape, []).append(op)
                    continue
                if isinstance(op, Insert) and op.deferred:
                    for key, rows in op.runs():
                        late_inserts.setdefault(key, []).extend(rows)
                    continue
                if isinstance(op, Insert):
                    for key, rows in op.runs():
                        if key != run_key:
                            if run_key is not None:
                                await _insert(conn, run_key[0], run_rows, run_key[2])
                            run_key, run_rows = key, []
                        run_rows.extend(rows)
                    continue
                if run_key is not None:
                    await _insert(conn, run_key[0], run_rows, run_key[2])
                    run_key, run_rows = None, []
                result = submission.results[index] = await op.apply(conn)
                if isinstance(result, TakenLease):
                    epochs[result.station_id] = result.epoch
        if run_key is not None:
            await _insert(conn, run_key[0], run_rows, run_key[2])
        for (table, _, conflict), rows in late_inserts.items():
            await _insert(conn, table, rows, conflict)
        for updates in deferred.values():
            await _update_many(conn, updates)

    def _resolve(self, batch: list[_Submission]) -> None:
        for submission in batch:
            if submission.stale:
                self.stats.stale += 1
                if not submission.future.done():
                    assert submission.fence is not None
                    submission.future.set_exception(
                        StaleEpoch(
                            f"{submission.fence.station_id}: lease epoch "
                            f"{submission.fence.epoch} is no longer current"
                        )
                    )
                continue
            self.stats.ops += len(submission.ops)
            if not submission.future.done():
                submission.future.set_result(submission.results)

    def _fail(self, batch: list[_Submission], exc: Exception) -> None:
        for submission in batch:
            self.stats.failures += 1
            if not submission.future.done():
                submission.future.set_exception(exc)
