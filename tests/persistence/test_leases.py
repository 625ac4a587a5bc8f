"""Station leases, epoch fencing of the writer and cluster members, on a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import create_engine
from persistence.errors import PersistenceError, StaleEpoch
from persistence.leases import (
    Lease,
    TakenLease,
    held_counts,
    lease_of,
    release_lease,
    release_member_leases,
    take_lease,
)
from persistence.members import (
    declare_dead,
    list_members,
    mark_dead,
    refresh_member,
    register_member,
)
from persistence.models import members, station_events, stations
from persistence.reads import EngineReads
from persistence.writer import Fence, FencedWriter, GroupCommitWriter, Insert
from tests.persistence.helpers import count, station_row
from tests.timing import UNIT


@pytest.fixture
def reads(main_engine: AsyncEngine) -> EngineReads:
    return EngineReads(main_engine)


@pytest.fixture
async def writer(main_engine: AsyncEngine) -> AsyncIterator[GroupCommitWriter]:
    writer = GroupCommitWriter(main_engine, max_delay=UNIT / 5)
    await writer.start()
    yield writer
    await writer.stop()


@pytest.fixture
async def batching_writer(main_engine: AsyncEngine) -> AsyncIterator[GroupCommitWriter]:
    """Collects long enough that submissions queued one after the other share a batch."""
    writer = GroupCommitWriter(main_engine, max_delay=2 * UNIT)
    await writer.start()
    yield writer
    await writer.stop()


async def take(writer: GroupCommitWriter, station_id: str, member: str) -> TakenLease:
    (taken,) = await writer.submit(take_lease(station_id, member, "ocpp2.0.1"))
    assert isinstance(taken, TakenLease)
    return taken


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


# --- leases ---------------------------------------------------------------------------------------


async def test_each_take_raises_the_epoch_and_names_the_previous_member(
    writer: GroupCommitWriter, reads: EngineReads
) -> None:
    assert await lease_of(reads, "cp-1") is None
    assert await take(writer, "cp-1", "node-a/0") == TakenLease("cp-1", 1, None)
    assert await take(writer, "cp-1", "node-b/0") == TakenLease("cp-1", 2, "node-a/0")
    assert await lease_of(reads, "cp-1") == Lease("cp-1", "node-b/0", 2, "ocpp2.0.1")
    # Another station's epochs are its own.
    assert await take(writer, "cp-2", "node-a/0") == TakenLease("cp-2", 1, None)


async def test_a_member_taking_its_own_station_again_is_its_previous_member(
    writer: GroupCommitWriter,
) -> None:
    await take(writer, "cp-1", "node-a/0")
    assert await take(writer, "cp-1", "node-a/0") == TakenLease("cp-1", 2, "node-a/0")


async def test_release_by_an_old_epoch_leaves_the_new_holder(
    writer: GroupCommitWriter, reads: EngineReads
) -> None:
    await take(writer, "cp-1", "node-a/0")
    await take(writer, "cp-1", "node-b/0")
    # The first connection closes late, after the station moved: nothing changes.
    await writer.submit(release_lease("cp-1", "node-a/0", 1))
    assert await lease_of(reads, "cp-1") == Lease("cp-1", "node-b/0", 2, "ocpp2.0.1")
    # The right member with a stale epoch (a reconnect to the same member) changes nothing either.
    await take(writer, "cp-1", "node-b/0")
    await writer.submit(release_lease("cp-1", "node-b/0", 2))
    assert await lease_of(reads, "cp-1") == Lease("cp-1", "node-b/0", 3, "ocpp2.0.1")


async def test_release_by_the_current_epoch_clears_the_member_and_keeps_the_epoch(
    writer: GroupCommitWriter, reads: EngineReads
) -> None:
    await take(writer, "cp-1", "node-a/0")
    await take(writer, "cp-1", "node-b/0")
    await writer.submit(release_lease("cp-1", "node-b/0", 2))
    assert await lease_of(reads, "cp-1") == Lease("cp-1", None, 2, "ocpp2.0.1")
    # The epoch keeps rising from where it stood.
    assert await take(writer, "cp-1", "node-a/0") == TakenLease("cp-1", 3, None)


async def test_release_member_leases_returns_its_stations(
    main_engine: AsyncEngine, writer: GroupCommitWriter, reads: EngineReads
) -> None:
    for station_id in ("cp-1", "cp-2", "cp-3"):
        await take(writer, station_id, "node-a/0")
    await take(writer, "cp-4", "node-b/0")
    await take(writer, "cp-5", "node-b/1")
    assert await held_counts(reads) == {"node-a/0": 3, "node-b/0": 1, "node-b/1": 1}

    assert sorted(await release_member_leases(main_engine, "node-a/0")) == ["cp-1", "cp-2", "cp-3"]
    assert await held_counts(reads) == {"node-b/0": 1, "node-b/1": 1}
    assert await lease_of(reads, "cp-2") == Lease("cp-2", None, 1, "ocpp2.0.1")
    assert await lease_of(reads, "cp-4") == Lease("cp-4", "node-b/0", 1, "ocpp2.0.1")
    # Nothing left to release.
    assert await release_member_leases(main_engine, "node-a/0") == []
    assert await release_member_leases(main_engine, "node-c/0") == []


async def test_a_member_declared_dead_loses_its_leases_in_the_same_transaction(
    main_engine: AsyncEngine, writer: GroupCommitWriter, reads: EngineReads
) -> None:
    for node, shard in (("node-a", 0), ("node-b", 0)):
        await register(main_engine, node, shard)
    for station_id in ("cp-1", "cp-2"):
        await take(writer, station_id, "node-a/0")
    await take(writer, "cp-3", "node-b/0")
    await set_last_seen(main_engine, "node-a/0", datetime.now(UTC) - timedelta(minutes=5))

    assert await declare_dead(main_engine, silent_for=timedelta(minutes=1)) == {"node-a/0": 2}
    assert await held_counts(reads) == {"node-b/0": 1}
    assert await lease_of(reads, "cp-1") == Lease("cp-1", None, 1, "ocpp2.0.1")


@pytest.fixture
async def two_writers(main_engine: AsyncEngine) -> AsyncIterator[list[GroupCommitWriter]]:
    """Two writers on two engines of the same database, as two member processes have them. Small
    batches make their transactions interleave."""
    url = main_engine.url.render_as_string(hide_password=False)
    engines = [create_engine(url, immediate=True) for _ in range(2)]
    writers = [GroupCommitWriter(engine, max_delay=UNIT / 10, max_batch=4) for engine in engines]
    try:
        for writer in writers:
            await writer.start()
        yield writers
    finally:
        for writer in writers:
            await writer.stop()
        for engine in engines:
            await engine.dispose()


async def test_concurrent_takes_by_two_processes_get_distinct_epochs(
    two_writers: list[GroupCommitWriter], reads: EngineReads
) -> None:
    # The lease row exists (the station connected once): each take reads and raises it under its
    # lock. The first take of a station, without a row to lock, is the next test's.
    assert await take(two_writers[0], "cp-1", "node-a/0") == TakenLease("cp-1", 1, None)
    takes_each = 50

    async def take_many(writer: GroupCommitWriter, member: str) -> list[int]:
        # One after the other within a process: a writer with a queue always full would take
        # SQLite's write lock again before the other's busy handler retries.
        return [(await take(writer, "cp-1", member)).epoch for _ in range(takes_each)]

    async with asyncio.timeout(200 * UNIT):
        epochs_a, epochs_b = await asyncio.gather(
            take_many(two_writers[0], "node-a/0"), take_many(two_writers[1], "node-b/0")
        )
    assert sorted(epochs_a + epochs_b) == list(range(2, 2 * takes_each + 2))
    # The two writers' transactions interleaved: the race did happen.
    assert min(epochs_a) < max(epochs_b) and min(epochs_b) < max(epochs_a), (epochs_a, epochs_b)
    lease = await lease_of(reads, "cp-1")
    assert lease is not None
    assert lease.epoch == 2 * takes_each + 1


async def test_concurrent_first_takes_by_two_processes_get_distinct_epochs(
    two_writers: list[GroupCommitWriter], reads: EngineReads
) -> None:
    # The station's first connection: no lease row exists yet, so there is no row to lock.
    stations_count = 20
    for n in range(stations_count):
        station_id = f"cp-{n}"
        async with asyncio.timeout(40 * UNIT):
            first, second = await asyncio.gather(
                take(two_writers[0], station_id, "node-a/0"),
                take(two_writers[1], station_id, "node-b/0"),
            )
        assert sorted([first.epoch, second.epoch]) == [1, 2], (station_id, first, second)
        lease = await lease_of(reads, station_id)
        assert lease is not None
        assert lease.epoch == 2


# --- fencing --------------------------------------------------------------------------------------


async def test_a_stale_fence_writes_nothing_while_its_batch_commits(
    batching_writer: GroupCommitWriter, main_engine: AsyncEngine
) -> None:
    writer = batching_writer
    await take(writer, "cp-1", "node-a/0")
    await take(writer, "cp-1", "node-b/0")
    batches = writer.stats.batches

    stale = writer.submit_nowait(
        Insert(stations, [station_row("written-by-a")]), event("cp-1", 1), fence=Fence("cp-1", 1)
    )
    other = writer.submit_nowait(Insert(stations, [station_row("other")]))
    results = await asyncio.gather(stale, other, return_exceptions=True)

    assert writer.stats.batches == batches + 1, "both submissions must share one batch"
    assert isinstance(results[0], StaleEpoch), results
    assert isinstance(results[0], PersistenceError)
    assert results[1] == [None]
    assert await count(main_engine, stations, stations.c.id == "written-by-a") == 0
    assert await count(main_engine, station_events) == 0
    assert await count(main_engine, stations, stations.c.id == "other") == 1
    assert writer.stats.stale == 1
    assert writer.stats.failures == 0


async def test_the_current_fence_commits(
    writer: GroupCommitWriter, main_engine: AsyncEngine
) -> None:
    await take(writer, "cp-1", "node-a/0")
    taken = await take(writer, "cp-1", "node-b/0")
    assert await writer.submit(event("cp-1", 1), fence=Fence("cp-1", taken.epoch)) == [None]
    assert await count(main_engine, station_events) == 1
    assert writer.stats.stale == 0


async def test_a_released_lease_still_fences_by_its_epoch(
    writer: GroupCommitWriter, main_engine: AsyncEngine
) -> None:
    await take(writer, "cp-1", "node-a/0")
    await take(writer, "cp-1", "node-a/0")
    await writer.submit(release_lease("cp-1", "node-a/0", 2))
    # The last connection's actors may still flush after its close; the first's may not.
    assert await writer.submit(event("cp-1", 2), fence=Fence("cp-1", 2)) == [None]
    with pytest.raises(StaleEpoch):
        await writer.submit(event("cp-1", 1), fence=Fence("cp-1", 1))
    assert await count(main_engine, station_events) == 1


async def test_a_fence_of_a_station_without_a_lease_commits(
    batching_writer: GroupCommitWriter, main_engine: AsyncEngine
) -> None:
    writer = batching_writer
    await take(writer, "cp-leased", "node-a/0")
    batches = writer.stats.batches
    # In one batch with a stale fence of another station: only the stale one is refused.
    free = writer.submit_nowait(event("cp-free", 1), fence=Fence("cp-free", 7))
    stale = writer.submit_nowait(event("cp-leased", 1), fence=Fence("cp-leased", 0))
    results = await asyncio.gather(free, stale, return_exceptions=True)
    assert writer.stats.batches == batches + 1, "both submissions must share one batch"
    assert results[0] == [None]
    assert isinstance(results[1], StaleEpoch), results
    assert await count(main_engine, station_events, station_events.c.station_id == "cp-free") == 1
    assert await count(main_engine, station_events) == 1


async def test_a_stale_write_queued_after_the_take_in_one_batch_is_refused(
    batching_writer: GroupCommitWriter, main_engine: AsyncEngine
) -> None:
    # The station reconnects to the same member: the new connection takes the lease while the
    # old connection's actors still flush, into the same batch, after the take.
    writer = batching_writer
    await take(writer, "cp-1", "node-a/0")
    batches = writer.stats.batches
    taken = writer.submit_nowait(take_lease("cp-1", "node-a/0", "ocpp2.0.1"))
    stale = writer.submit_nowait(event("cp-1", 1), fence=Fence("cp-1", 1))
    results = await asyncio.gather(taken, stale, return_exceptions=True)
    assert writer.stats.batches == batches + 1, "both submissions must share one batch"
    assert results[0] == [TakenLease("cp-1", 2, "node-a/0")]
    assert isinstance(results[1], StaleEpoch), results
    assert await count(main_engine, station_events) == 0


async def test_fenced_writer_passes_its_fence(
    writer: GroupCommitWriter, main_engine: AsyncEngine
) -> None:
    await take(writer, "cp-1", "node-a/0")
    old = FencedWriter(writer, Fence("cp-1", 1))
    assert await old.submit(event("cp-1", 1)) == [None]
    await take(writer, "cp-1", "node-b/0")
    current = FencedWriter(writer, Fence("cp-1", 2))

    with pytest.raises(StaleEpoch):
        await old.submit(event("cp-1", 2))
    with pytest.raises(StaleEpoch):
        await old.submit_nowait(event("cp-1", 3))
    assert await current.submit(event("cp-1", 4)) == [None]
    assert await current.submit_nowait(event("cp-1", 5)) == [None]
    # An explicit fence takes the place of the writer's own.
    with pytest.raises(StaleEpoch):
        await current.submit(event("cp-1", 6), fence=Fence("cp-1", 1))
    assert await old.submit(event("cp-1", 7), fence=Fence("cp-1", 2)) == [None]

    async with main_engine.connect() as conn:
        written = (await conn.execute(station_events.select())).mappings().all()
    assert sorted(row["payload"]["n"] for row in written) == [1, 4, 5, 7]
    assert writer.stats.stale == 3


# --- members --------------------------------------------------------------------------------------


async def register(engine: AsyncEngine, node: str, shard: int) -> None:
    await register_member(
        engine, name=f"{node}/{shard}", node=node, shard=shard, address=f"{node}:{1900 + shard}"
    )


async def set_last_seen(engine: AsyncEngine, name: str, when: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(members).where(members.c.name == name).values(last_seen=when))


async def test_register_and_refresh(main_engine: AsyncEngine, reads: EngineReads) -> None:
    record = await register_member(
        main_engine, name="node-a/0", node="node-a", shard=0, address="10.0.0.1:1900"
    )
    assert (record.name, record.node, record.shard, record.address, record.alive) == (
        "node-a/0",
        "node-a",
        0,
        "10.0.0.1:1900",
        True,
    )
    assert record.started_at == record.last_seen
    assert await list_members(reads) == [record]

    long_ago = datetime.now(UTC) - timedelta(hours=1)
    await set_last_seen(main_engine, "node-a/0", long_ago)
    assert await refresh_member(main_engine, "node-a/0") is True
    (refreshed,) = await list_members(reads)
    assert refreshed.last_seen > long_ago + timedelta(minutes=59)
    assert refreshed.started_at == record.started_at
    # Nobody registered under that name.
    assert await refresh_member(main_engine, "node-z/0") is False


async def test_declare_dead_only_takes_members_silent_longer_than_the_cutoff(
    main_engine: AsyncEngine, reads: EngineReads
) -> None:
    for node, shard in (("node-a", 0), ("node-a", 1), ("node-b", 0)):
        await register(main_engine, node, shard)
    now = datetime.now(UTC)
    await set_last_seen(main_engine, "node-a/1", now - timedelta(minutes=5))
    await set_last_seen(main_engine, "node-b/0", now - timedelta(seconds=20))

    # Stations released per member declared dead (none held here).
    assert await declare_dead(main_engine, silent_for=timedelta(minutes=1)) == {"node-a/1": 0}
    alive = {m.name: m.alive for m in await list_members(reads)}
    assert alive == {"node-a/0": True, "node-a/1": False, "node-b/0": True}
    # Already dead: not declared twice.
    assert await declare_dead(main_engine, silent_for=timedelta(minutes=1)) == {}

    # A member declared dead learns it at its next refresh, and stays dead.
    assert await refresh_member(main_engine, "node-a/1") is False
    assert await refresh_member(main_engine, "node-b/0") is True
    alive = {m.name: m.alive for m in await list_members(reads)}
    assert alive == {"node-a/0": True, "node-a/1": False, "node-b/0": True}

    # Registering again (the shard restarted) makes it alive.
    await register(main_engine, "node-a", 1)
    assert await refresh_member(main_engine, "node-a/1") is True


async def test_a_member_marked_dead_cannot_refresh(
    main_engine: AsyncEngine, reads: EngineReads
) -> None:
    await register(main_engine, "node-a", 0)
    await register(main_engine, "node-a", 1)
    await mark_dead(main_engine, "node-a/0")
    assert await refresh_member(main_engine, "node-a/0") is False
    assert await refresh_member(main_engine, "node-a/1") is True
    assert [(m.name, m.alive) for m in await list_members(reads)] == [
        ("node-a/0", False),
        ("node-a/1", True),
    ]


async def test_list_members_is_ordered_by_node_then_shard(
    main_engine: AsyncEngine, reads: EngineReads
) -> None:
    for node, shard in (
        ("node-b", 10),
        ("node-a", 2),
        ("node-b", 2),
        ("node-a", 10),
        ("node-a", 0),
    ):
        await register(main_engine, node, shard)
    assert [m.name for m in await list_members(reads)] == [
        "node-a/0",
        "node-a/2",
        "node-a/10",
        "node-b/2",
        "node-b/10",
    ]
