from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from actors import (
    Actor,
    ActorError,
    ActorState,
    ActorStopped,
    AskTimeout,
    MailboxFull,
    spawn,
)
from tests.actors.probes import UNIT, Boom, Journal, Probe


async def test_tells_and_asks_are_processed_in_order() -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p")
    for n in range(1, 51):
        ref.tell(("add", n))
    assert await ref.ask("total") == sum(range(1, 51))
    assert journal.received[:3] == [("add", 1), ("add", 2), ("add", 3)]
    assert journal.received[-1] == "total"
    await ref.stop()


async def test_one_message_at_a_time_even_across_awaits() -> None:
    inside = 0
    overlaps = 0
    seen: list[int] = []

    class Slow(Actor):
        async def on_receive(self, message: Any) -> None:
            nonlocal inside, overlaps
            inside += 1
            overlaps += inside > 1
            # Yield to the loop in the middle of the message: the next one must still wait.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            seen.append(message)
            inside -= 1

    ref = await spawn(Slow, name="slow")

    async def sender(base: int) -> None:
        for i in range(20):
            ref.tell(base + i)
            await asyncio.sleep(0)

    async with asyncio.TaskGroup() as group:
        for base in (0, 100, 200):
            group.create_task(sender(base))
    await ref.ask("done")
    assert overlaps == 0
    assert len(seen) == 61
    # Each sender's messages keep their order.
    for base in (0, 100, 200):
        assert [m for m in seen if isinstance(m, int) and base <= m < base + 100] == list(
            range(base, base + 20)
        )
    await ref.stop()


async def test_ask_times_out_and_a_queued_expired_ask_is_dropped() -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p")
    gate = asyncio.Event()
    ref.tell(("block", gate))
    with pytest.raises(AskTimeout) as caught:
        await ref.ask("late", timeout=UNIT)
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, ActorError)
    gate.set()
    assert await ref.ask("next", timeout=10 * UNIT) == "next"
    # The expired ask was still queued when it expired: never processed.
    assert "late" not in journal.received
    await ref.stop()


async def test_cancelled_asker_drops_its_queued_ask() -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p")
    gate = asyncio.Event()
    ref.tell(("block", gate))
    asker = asyncio.create_task(ref.ask("abandoned"))
    await asyncio.sleep(0)
    asker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asker
    gate.set()
    assert await ref.ask("after") == "after"
    assert "abandoned" not in journal.received
    await ref.stop()


async def test_ask_error_is_raised_in_the_asker_and_the_actor_goes_on() -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p")
    await ref.ask(("add", 5))
    error = Boom("bad request")
    with pytest.raises(Boom) as caught:
        await ref.ask(("fail", error))
    assert caught.value is error
    assert ref.is_alive
    assert await ref.ask(("add", 1)) == 6  # same instance, state kept
    assert journal.starts == 1
    await ref.stop()


async def test_tell_error_without_supervisor_stops_the_actor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="lonely")
    gate = asyncio.Event()
    ref.tell(("block", gate))
    ref.tell(("fail", Boom("crash")))
    queued = asyncio.create_task(ref.ask("queued"))
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="actors.actor"):
        gate.set()
        with pytest.raises(ActorStopped):
            await queued
        await ref.stop()
    assert ref.state is ActorState.STOPPED
    assert journal.stops == 1
    assert "queued" not in journal.received
    assert any("lonely crashed" in r.getMessage() and r.exc_info for r in caplog.records)
    with pytest.raises(ActorStopped):
        ref.tell("more")


async def test_stop_finishes_current_message_and_fails_queued_asks() -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p")
    gate = asyncio.Event()
    current = asyncio.create_task(ref.ask(("block", gate)))
    queued = [asyncio.create_task(ref.ask(("add", n))) for n in range(3)]
    await asyncio.sleep(0)  # the asks are queued, in order
    ref.tell("told")
    stopper = asyncio.create_task(ref.stop())
    await asyncio.sleep(0)
    assert not ref.is_alive
    stopping = ref.state
    assert stopping is ActorState.STOPPING
    assert not stopper.done()
    with pytest.raises(ActorStopped):
        ref.tell("refused")
    with pytest.raises(ActorStopped):
        await ref.ask("refused")
    gate.set()
    await stopper
    assert await current == "released"
    for ask in queued:
        with pytest.raises(ActorStopped):
            await ask
    assert ref.state is ActorState.STOPPED
    assert journal.stops == 1
    assert journal.received == [("block", gate)]
    await ref.stop()  # idempotent
    assert journal.stops == 1


async def test_stop_of_an_idle_actor() -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p")
    await ref.ask("warm")
    await ref.stop()
    assert journal.stops == 1
    assert ref.queued == 0


async def test_actor_stops_itself_after_answering() -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p")
    gate = asyncio.Event()
    ref.tell(("block", gate))
    bye = asyncio.create_task(ref.ask("stop"))
    after = asyncio.create_task(ref.ask("after"))
    await asyncio.sleep(0)
    gate.set()
    assert await bye == "bye"
    with pytest.raises(ActorStopped):
        await after
    await ref.stop()
    assert journal.stops == 1


async def test_stop_from_inside_on_receive_does_not_deadlock() -> None:
    stopped = asyncio.Event()

    class Quitter(Actor):
        async def on_receive(self, message: Any) -> str:
            await self.ref.stop()
            return "stopping"

        async def on_stop(self) -> None:
            stopped.set()

    ref = await spawn(Quitter, name="q")
    assert await ref.ask("quit", timeout=10 * UNIT) == "stopping"
    async with asyncio.timeout(10 * UNIT):
        await stopped.wait()
    await ref.stop()


async def test_mailbox_full() -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p", mailbox_size=2)
    gate = asyncio.Event()
    ref.tell(("block", gate))
    await asyncio.sleep(0)  # the actor takes it; the mailbox is empty again
    taken = asyncio.Event()
    ref.tell(("set", taken))
    ref.tell(2)
    assert ref.queued == 2
    with pytest.raises(MailboxFull):
        ref.tell(3)
    with pytest.raises(MailboxFull):
        await ref.ask(4)
    gate.set()
    await taken.wait()  # room for one again
    assert await ref.ask(5) == 5
    assert journal.received == [("block", gate), ("set", taken), 2, 5]
    await ref.stop()


async def test_stop_with_a_full_mailbox() -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p", mailbox_size=1)
    gate = asyncio.Event()
    ref.tell(("block", gate))
    await asyncio.sleep(0)
    queued = asyncio.create_task(ref.ask("queued"))
    await asyncio.sleep(0)
    stopper = asyncio.create_task(ref.stop())
    await asyncio.sleep(0)
    gate.set()
    await stopper
    with pytest.raises(ActorStopped):
        await queued


async def test_mailbox_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="mailbox_size"):
        await spawn(lambda: Probe(Journal()), name="p", mailbox_size=0)


async def test_start_failure_raises_to_the_caller() -> None:
    journal = Journal(start_fails=True)
    with pytest.raises(Boom):
        await spawn(lambda: Probe(journal), name="p")
    assert journal.starts == 1
    assert journal.stops == 0  # no on_stop for an instance that never started


async def test_asks_queued_during_a_failed_start_fail() -> None:
    pending: list[asyncio.Task[Any]] = []

    class SelfAsker(Actor):
        async def on_start(self) -> None:
            pending.append(asyncio.create_task(self.ref.ask("hello")))
            await asyncio.sleep(0)
            raise Boom("no")

    with pytest.raises(Boom):
        await spawn(SelfAsker, name="s")
    with pytest.raises(ActorStopped):
        await pending[0]


async def test_on_start_may_tell_itself() -> None:
    class Starter(Actor):
        async def on_start(self) -> None:
            self.seen: list[Any] = []
            self.ref.tell("from on_start")

        async def on_receive(self, message: Any) -> Any:
            self.seen.append(message)
            return list(self.seen)

    ref = await spawn(Starter, name="s")
    assert await ref.ask("later") == ["from on_start", "later"]
    await ref.stop()


async def test_on_stop_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class BadStop(Actor):
        async def on_stop(self) -> None:
            raise Boom("leaky")

    ref = await spawn(BadStop, name="bad")
    with caplog.at_level(logging.ERROR, logger="actors.actor"):
        await ref.stop()
    assert ref.state is ActorState.STOPPED
    assert any("on_stop failed" in r.getMessage() for r in caplog.records)


async def test_no_task_left_after_stop() -> None:
    before = asyncio.all_tasks()
    refs = [await spawn(lambda: Probe(Journal()), name=f"p{i}") for i in range(50)]
    assert len(asyncio.all_tasks() - before) == 50
    for ref in refs:
        ref.tell(("add", 1))
    assert await asyncio.gather(*(ref.ask("total") for ref in refs)) == [1] * 50
    await asyncio.gather(*(ref.stop() for ref in refs))
    assert asyncio.all_tasks() == before


async def test_cancelled_actor_task_still_fails_asks_and_runs_on_stop() -> None:
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p")
    gate = asyncio.Event()
    current = asyncio.create_task(ref.ask(("block", gate)))
    queued = asyncio.create_task(ref.ask("queued"))
    await asyncio.sleep(0)
    # As when the event loop shuts down with the actor still running.
    (task,) = (t for t in asyncio.all_tasks() if t.get_name() == "actor:p")
    task.cancel()
    await ref.stop()
    for ask in (current, queued):
        with pytest.raises(ActorStopped):
            await ask
    assert journal.stops == 1
    assert ref.state is ActorState.STOPPED


async def test_a_burst_of_tells_is_processed_in_full() -> None:
    count = 20_000

    class Counter(Actor):
        def __init__(self) -> None:
            self.n = 0

        async def on_receive(self, message: Any) -> int:
            self.n += 1
            return self.n

    ref = await spawn(Counter, name="c", mailbox_size=count + 1)
    for _ in range(count):
        ref.tell(None)
    assert await ref.ask(None) == count + 1
    await ref.stop()
