"""The sync loop's bookkeeping without a server: one piece of work per station at a time, with
what was asked meanwhile run next; and the stations that arrived, read from an internal
subscription that is renewed when the bus drops it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from csms.events import SUBSCRIBER_QUEUE, EventBus
from csms.local_lists.loop import Arrivals, StationWork, Work
from tests.timing import eventually


async def test_work_asked_while_a_station_is_busy_runs_next() -> None:
    gate = asyncio.Event()
    ran: list[str] = []

    def work(name: str, *, wait: bool = False, fail: bool = False) -> Work:
        async def run() -> None:
            if wait:
                await gate.wait()
            ran.append(name)
            if fail:
                raise RuntimeError(name)

        return run

    async with asyncio.TaskGroup() as group:
        stations = StationWork(group)
        stations.start("CP-1", work("connected", wait=True, fail=True))
        assert stations.busy("CP-1")  # until the first work (waiting for its answer) ends
        # A boot and another one come meanwhile: the latest runs after, once.
        stations.start("CP-1", work("booted-1"))
        stations.start("CP-1", work("booted-2"))
        stations.start("CP-2", work("other"))
        gate.set()
    assert ran.index("connected") < ran.index("booted-2")
    assert sorted(ran) == ["booted-2", "connected", "other"]
    assert not stations.busy("CP-1") and not stations.busy("CP-2")


@contextlib.asynccontextmanager
async def following(bus: EventBus) -> AsyncIterator[Arrivals]:
    arrivals = Arrivals(bus)
    task = asyncio.create_task(arrivals.follow())
    try:
        yield arrivals
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert bus.subscriber_count() == 0 and not bus._subscribers  # closed


async def test_arrivals_are_the_latest_per_station_and_not_an_operator_stream() -> None:
    bus = EventBus()
    async with following(bus) as arrivals:
        assert bus.subscriber_count() == 0  # not an operator's stream
        bus.publish("station.connected", "A", {})
        bus.publish("transaction.started", "A", {})
        bus.publish("station.connected", "B", {})
        bus.publish("station.booted", "A", {"boot_status": "Accepted"})
        await eventually(lambda: arrivals.pending() == 2, what="two stations arrived")
        taken = arrivals.take()
        assert taken is not None
        assert [(e.station_id, e.type) for e in taken] == [
            ("B", "station.connected"),
            ("A", "station.booted"),
        ]
        assert arrivals.take() == []


async def test_dropped_arrivals_say_so_and_subscribe_again() -> None:
    bus = EventBus()
    async with following(bus) as arrivals:
        # More than a subscriber may have waiting, before the loop had a turn: dropped.
        for n in range(SUBSCRIBER_QUEUE + 1):
            bus.publish("station.connected", f"S-{n}", {})
        await eventually(lambda: arrivals.take() is None, what="arrivals missed")
        bus.publish("station.booted", "LATE", {"boot_status": "Accepted"})
        await eventually(lambda: arrivals.pending() == 1, what="the late arrival")
        taken = arrivals.take()
        assert taken is not None and [e.station_id for e in taken] == ["LATE"]
