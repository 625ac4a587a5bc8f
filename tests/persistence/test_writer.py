"""Group-commit writer on a real database: commit before resolve, grouping, isolation of failures."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from persistence.database import create_engine
from persistence.errors import PersistenceError, WriterClosed
from persistence.migrate import migrate
from persistence.models import station_events, stations
from persistence.writer import Custom, GroupCommitWriter, Insert, Update, Upsert
from tests.persistence.helpers import count, station_row
from tests.timing import UNIT


@pytest.fixture
async def other_engine(main_engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """A second engine on the same database: what another process would see."""
    engine = create_engine(main_engine.url.render_as_string(hide_password=False))
    yield engine
    await engine.dispose()


@pytest.fixture
async def writer(main_engine: AsyncEngine) -> AsyncIterator[GroupCommitWriter]:
    writer = GroupCommitWriter(main_engine, max_delay=UNIT / 5)
    await writer.start()
    yield writer
    await writer.stop()


def event(station_id: str, n: int) -> Insert:
    return Insert(
        station_events,
        [
            {
                "station_id": station_id,
                "kind": "Test",
                "payload": {"n": n},
                "received_at": datetime.now(UTC),
            }
        ],
    )


async def test_future_resolves_only_after_the_commit(
    main_engine: AsyncEngine, other_engine: AsyncEngine
) -> None:
    writer = GroupCommitWriter(main_engine, max_delay=4 * UNIT)
    await writer.start()
    try:
        future = writer.submit_nowait(Insert(stations, [station_row("cp-1")]))
        await asyncio.sleep(UNIT)
        # Still collecting: neither resolved nor visible.
        assert not future.done()
        assert await count(other_engine, stations) == 0
        assert await future == [None]
        # Resolved means committed: another connection sees the row at once.
        assert await count(other_engine, stations, stations.c.id == "cp-1") == 1
    finally:
        await writer.stop()


async def test_concurrent_submits_share_commits(
    writer: GroupCommitWriter, other_engine: AsyncEngine
) -> None:
    n = 50
    await asyncio.gather(*(writer.submit(event("cp-1", i)) for i in range(n)))
    assert await count(other_engine, station_events) == n
    assert writer.stats.commits < n
    assert writer.stats.batches < n
    assert writer.stats.ops == n


async def test_max_batch_limits_the_ops_per_transaction(main_engine: AsyncEngine) -> None:
    writer = GroupCommitWriter(main_engine, max_delay=UNIT, max_batch=10)
    await writer.start()
    try:
        await asyncio.gather(*(writer.submit(event("cp-1", i)) for i in range(25)))
        # A submission's ops are never split across transactions.
        await writer.submit(*(event("cp-2", i) for i in range(15)))
    finally:
        await writer.stop()
    assert writer.stats.batches == 4
    assert await count(main_engine, station_events) == 40


async def test_one_bad_submission_fails_alone(
    main_engine: AsyncEngine, writer: GroupCommitWriter, other_engine: AsyncEngine
) -> None:
    await writer.submit(Insert(stations, [station_row("taken")]))
    good = [writer.submit_nowait(Insert(stations, [station_row(f"ok-{i}")])) for i in range(5)]
    # Atomic together: the first insert of this submission must not survive the duplicate key.
    bad = writer.submit_nowait(
        Insert(stations, [station_row("half")]), Insert(stations, [station_row("taken")])
    )
    good += [writer.submit_nowait(event("cp", i)) for i in range(5)]
    results = await asyncio.gather(*good, bad, return_exceptions=True)
    assert all(r == [None] for r in results[:-1]), results
    assert isinstance(results[-1], IntegrityError)
    assert await count(other_engine, stations) == 6
    assert await count(other_engine, stations, stations.c.id == "half") == 0
    assert await count(other_engine, station_events) == 5
    assert writer.stats.failures == 1


async def test_results_of_each_op(main_engine: AsyncEngine, writer: GroupCommitWriter) -> None:
    async def read_name(conn: AsyncConnection) -> Any:
        return (await conn.execute(select(stations.c.vendor).where(stations.c.id == "a"))).scalar()

    results = await writer.submit(
        Insert(stations, [station_row("a"), station_row("b", vendor="v-b")]),
        Update(stations, {"id": "a"}, {"vendor": "v-a"}),
        Update(stations, {"id": "missing"}, {"vendor": "x"}),
        Custom(read_name),
    )
    assert results == [None, 1, 0, "v-a"]
    async with main_engine.connect() as conn:
        rows = dict((await conn.execute(select(stations.c.id, stations.c.vendor))).all())
    assert rows == {"a": "v-a", "b": "v-b"}


async def test_inserts_merge_but_keep_their_order_and_conflict_option(
    main_engine: AsyncEngine, writer: GroupCommitWriter
) -> None:
    first = Insert(stations, [station_row("s1", vendor="first")])
    again = Insert(stations, [station_row("s1", vendor="again")], on_conflict_do_nothing=("id",))
    other = Insert(stations, [station_row("s2")], on_conflict_do_nothing=("id",))
    await asyncio.gather(writer.submit(first), writer.submit(again), writer.submit(other))
    async with main_engine.connect() as conn:
        rows = dict((await conn.execute(select(stations.c.id, stations.c.vendor))).all())
    assert rows == {"s1": "first", "s2": None}


async def test_upsert_inserts_then_updates(
    main_engine: AsyncEngine, writer: GroupCommitWriter
) -> None:
    await writer.submit(Upsert(stations, [station_row("u", vendor="one")], key=("id",)))
    await writer.submit(Upsert(stations, [station_row("u", vendor="two")], key=("id",)))
    async with main_engine.connect() as conn:
        assert (await conn.execute(select(stations.c.vendor))).scalars().all() == ["two"]


async def test_stop_commits_what_is_queued_at_once(
    main_engine: AsyncEngine, other_engine: AsyncEngine
) -> None:
    writer = GroupCommitWriter(main_engine, max_delay=100 * UNIT)
    await writer.start()
    futures = [writer.submit_nowait(event("cp", i)) for i in range(20)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    await writer.stop()
    # Not the collection delay: stop does not wait for more submissions.
    assert loop.time() - started < 20 * UNIT
    assert all(f.done() and f.result() == [None] for f in futures)
    assert await count(other_engine, station_events) == 20


async def test_writer_closed_before_start_and_after_stop(main_engine: AsyncEngine) -> None:
    writer = GroupCommitWriter(main_engine)
    with pytest.raises(WriterClosed):
        writer.submit_nowait(event("cp", 0))
    await writer.start()
    await writer.submit(event("cp", 1))
    await writer.stop()
    with pytest.raises(WriterClosed):
        await writer.submit(event("cp", 2))
    assert issubclass(WriterClosed, PersistenceError)
    await writer.stop()  # idempotent


@pytest.mark.postgres
async def test_lost_connection_is_retried(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    await migrate(engine, "main")
    writer = GroupCommitWriter(engine, retry_delay=UNIT / 5)
    await writer.start()
    attempts = 0

    async def dies_once(conn: AsyncConnection) -> int:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            # What a server restart does to an open transaction.
            await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return attempts

    try:
        results = await writer.submit(Insert(stations, [station_row("r")]), Custom(dies_once))
        assert results == [None, 2]
        assert writer.stats.retries == 1
        assert await count(engine, stations) == 1
    finally:
        await writer.stop()
        await engine.dispose()


async def test_mergeable_updates_are_grouped_and_applied_last(
    main_engine: AsyncEngine, writer: GroupCommitWriter
) -> None:
    await writer.submit(Insert(stations, [station_row(f"m{i}") for i in range(3)]))
    submissions = [
        writer.submit_nowait(
            Update(stations, {"id": f"m{i}"}, {"vendor": f"v{i}"}, mergeable=True),
            # A later op of the same submission still runs first; the update lands after it.
            Update(stations, {"id": f"m{i}"}, {"vendor": "overwritten"}),
        )
        for i in range(3)
    ]
    results = await asyncio.gather(*submissions)
    assert results == [[None, 1]] * 3
    async with main_engine.connect() as conn:
        rows = dict(
            (
                await conn.execute(select(stations.c.id, stations.c.vendor).order_by(stations.c.id))
            ).all()
        )
    assert rows == {"m0": "v0", "m1": "v1", "m2": "v2"}


async def test_mergeable_update_without_where_is_refused(writer: GroupCommitWriter) -> None:
    with pytest.raises(ValueError, match="WHERE"):
        await writer.submit(Update(stations, {}, {"vendor": "x"}, mergeable=True))


async def test_deferred_inserts_merge_across_the_batch_and_run_after_the_others(
    main_engine: AsyncEngine, writer: GroupCommitWriter
) -> None:
    executed: list[tuple[str, int]] = []

    def note(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO STATION_EVENTS"):
            executed.append(("events", len(params) if many else 1))
        elif statement.lstrip().upper().startswith("INSERT INTO STATIONS"):
            executed.append(("stations", len(params) if many else 1))

    listener_target = main_engine.sync_engine
    sqlalchemy_event.listen(listener_target, "before_cursor_execute", note)
    try:
        submissions = [
            writer.submit_nowait(
                Insert(stations, [station_row(f"d{i}")]),
                dataclasses.replace(event(f"d{i}", i), deferred=True),
                # Reads its submission's deferred row: it runs before the row exists.
                Custom(lambda conn, i=i: _events_of(conn, f"d{i}")),
            )
            for i in range(3)
        ]
        results = await asyncio.gather(*submissions)
    finally:
        sqlalchemy_event.remove(listener_target, "before_cursor_execute", note)
    assert [r[2] for r in results] == [0, 0, 0]
    # The three submissions' station inserts are interleaved with the custom reads, so they run
    # one by one; their deferred event rows go as one executemany at the end.
    assert executed == [("stations", 1)] * 3 + [("events", 3)]
    assert await count(main_engine, station_events) == 3


async def _events_of(conn: AsyncConnection, station_id: str) -> int:
    statement = select(func.count()).where(station_events.c.station_id == station_id)
    return int((await conn.execute(statement)).scalar_one())
