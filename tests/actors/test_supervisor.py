from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors import (
    Actor,
    ActorError,
    ActorState,
    ActorStopped,
    RestartLimitExceeded,
    Supervisor,
    spawn,
)
from tests.actors.probes import UNIT, Boom, Journal, Probe


class GiveUps:
    """Records on_give_up calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, BaseException]] = []
        self.called = asyncio.Event()

    def __call__(self, name: str, error: BaseException) -> None:
        self.calls.append((name, error))
        self.called.set()


async def crash(ref: Any, journal: Journal, n: int = 1) -> None:
    """Make the actor crash n times on a tell, waiting for each restart to happen."""
    for _ in range(n):
        journal.started.clear()
        ref.tell(("fail", Boom("crash")))
        async with asyncio.timeout(20 * UNIT):
            await journal.started.wait()


async def test_crashed_child_restarts_fresh_behind_the_same_ref() -> None:
    supervisor = Supervisor(name="sup")
    journal = Journal()
    ref = await supervisor.spawn(lambda: Probe(journal), name="p")
    assert await ref.ask(("add", 10)) == 10
    gate = asyncio.Event()
    ref.tell(("block", gate))
    ref.tell(("fail", Boom("crash")))
    # Queued while the actor is busy and then crashes: kept for the fresh instance.
    ref.tell(("add", 1))
    ref.tell(("add", 2))
    gate.set()
    assert await ref.ask("total") == 3  # fresh state: the 10 is gone
    assert journal.starts == 2
    assert journal.stops == 1  # the crashed instance released its resources
    crashed = [m for m in journal.received if isinstance(m, tuple) and m[0] == "fail"]
    assert len(crashed) == 1  # not retried
    assert ref.is_alive
    assert supervisor.children() == {"p": ref}
    await supervisor.stop()
    assert journal.stops == 2


async def test_ask_failure_does_not_restart() -> None:
    supervisor = Supervisor()
    journal = Journal()
    ref = await supervisor.spawn(lambda: Probe(journal), name="p")
    await ref.ask(("add", 4))
    with pytest.raises(Boom):
        await ref.ask(("fail", Boom("asker's problem")))
    assert await ref.ask("total") == 4
    assert journal.starts == 1
    await supervisor.stop()


async def test_restart_intensity_limit_gives_up() -> None:
    give_ups = GiveUps()
    supervisor = Supervisor(max_restarts=2, within_seconds=100 * UNIT, on_give_up=give_ups)
    journal = Journal()
    ref = await supervisor.spawn(lambda: Probe(journal), name="p")
    await crash(ref, journal, 2)
    assert journal.starts == 3
    assert ref.is_alive
    assert give_ups.calls == []

    gate = asyncio.Event()
    ref.tell(("block", gate))
    last = Boom("third crash")
    ref.tell(("fail", last))
    queued = asyncio.create_task(ref.ask("queued"))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(ActorStopped):
        await queued
    await ref.stop()
    assert ref.state is ActorState.STOPPED
    assert journal.starts == 3  # no fourth instance
    assert journal.stops == 3
    assert supervisor.children() == {}
    [(name, error)] = give_ups.calls
    assert name == "p"
    assert isinstance(error, RestartLimitExceeded)
    assert error.__cause__ is last
    with pytest.raises(ActorStopped):
        ref.tell("anyone?")
    await supervisor.stop()


async def test_crashes_spread_out_in_time_are_forgiven() -> None:
    give_ups = GiveUps()
    supervisor = Supervisor(max_restarts=1, within_seconds=UNIT, on_give_up=give_ups)
    journal = Journal()
    ref = await supervisor.spawn(lambda: Probe(journal), name="p")
    for _ in range(3):
        await crash(ref, journal)
        await asyncio.sleep(2 * UNIT)
    assert ref.is_alive
    assert journal.starts == 4
    assert give_ups.calls == []
    await supervisor.stop()


async def test_failing_on_start_during_restart_counts_as_a_crash() -> None:
    give_ups = GiveUps()
    supervisor = Supervisor(max_restarts=3, within_seconds=100 * UNIT, on_give_up=give_ups)
    journal = Journal()
    ref = await supervisor.spawn(lambda: Probe(journal), name="p")
    journal.start_fails = True  # the store is gone: every restart fails to load
    ref.tell(("fail", Boom("crash")))
    async with asyncio.timeout(20 * UNIT):
        await give_ups.called.wait()
    assert ref.state is ActorState.STOPPED
    # 1 crash + 3 failed restarts = 4 crashes > 3: given up, no spinning.
    assert journal.starts == 1 + 3
    assert journal.stops == 1  # only the instance that started
    [(name, error)] = give_ups.calls
    assert name == "p"
    assert isinstance(error.__cause__, Boom)
    assert str(error.__cause__) == "cannot start"
    await supervisor.stop()


async def test_child_stopping_normally_is_removed_and_not_restarted() -> None:
    give_ups = GiveUps()
    supervisor = Supervisor(on_give_up=give_ups)
    journal = Journal()
    ref = await supervisor.spawn(lambda: Probe(journal), name="p")
    other = await supervisor.spawn(lambda: Probe(Journal()), name="q")
    assert await ref.ask("stop") == "bye"
    await ref.stop()
    assert supervisor.children() == {"q": other}
    assert journal.starts == 1
    assert give_ups.calls == []
    # The name is free again.
    again = await supervisor.spawn(lambda: Probe(journal), name="p")
    assert again is not ref
    assert supervisor.children() == {"p": again, "q": other}
    await supervisor.stop()


async def test_duplicate_live_name_is_refused() -> None:
    supervisor = Supervisor()
    await supervisor.spawn(lambda: Probe(Journal()), name="p")
    with pytest.raises(ActorError, match="already has a child"):
        await supervisor.spawn(lambda: Probe(Journal()), name="p")
    await supervisor.stop()


async def test_a_stopping_childs_name_may_be_reused_at_once() -> None:
    supervisor = Supervisor()
    gate = asyncio.Event()
    old = await supervisor.spawn(lambda: Probe(Journal()), name="p")
    old.tell(("block", gate))
    old.stop_nowait()
    new = await supervisor.spawn(lambda: Probe(Journal()), name="p")
    assert supervisor.children() == {"p": new}
    gate.set()
    await old.stop()
    # The old one ending must not remove its successor.
    assert supervisor.children() == {"p": new}
    await supervisor.stop()


async def test_crash_does_not_disturb_a_sibling() -> None:
    supervisor = Supervisor()
    steady_journal, crashy_journal = Journal(), Journal()
    steady = await supervisor.spawn(lambda: Probe(steady_journal), name="steady")
    crashy = await supervisor.spawn(lambda: Probe(crashy_journal), name="crashy")
    await steady.ask(("add", 7))
    gate = asyncio.Event()
    busy = asyncio.create_task(steady.ask(("block", gate)))  # ongoing work
    await asyncio.sleep(0)
    await crash(crashy, crashy_journal, 2)
    assert crashy_journal.starts == 3
    assert not busy.done()
    gate.set()
    assert await busy == "released"
    assert await steady.ask("total") == 7
    assert steady_journal.starts == 1
    await supervisor.stop()


async def test_stop_stops_children_concurrently() -> None:
    count = 5
    entered = 0
    all_in = asyncio.Event()

    class Rendezvous(Actor):
        async def on_stop(self) -> None:
            nonlocal entered
            entered += 1
            if entered == count:
                all_in.set()
            # Only returns if every sibling's on_stop is running at the same time.
            async with asyncio.timeout(20 * UNIT):
                await all_in.wait()

    supervisor = Supervisor()
    refs = [await supervisor.spawn(Rendezvous, name=f"r{i}") for i in range(count)]
    async with asyncio.timeout(40 * UNIT):
        await supervisor.stop()
    assert all_in.is_set()
    assert all(ref.state is ActorState.STOPPED for ref in refs)
    assert supervisor.children() == {}
    await supervisor.stop()  # idempotent
    with pytest.raises(ActorStopped):
        await supervisor.spawn(Rendezvous, name="late")


async def test_stop_while_a_child_is_starting() -> None:
    supervisor = Supervisor()
    loading = asyncio.Event()
    proceed = asyncio.Event()
    journal = Journal()

    class SlowStart(Probe):
        async def on_start(self) -> None:
            await super().on_start()
            loading.set()
            await proceed.wait()

    spawning = asyncio.create_task(supervisor.spawn(lambda: SlowStart(journal), name="slow"))
    await loading.wait()
    await supervisor.stop()
    proceed.set()
    with pytest.raises(ActorStopped):
        await spawning
    assert journal.stops == 1


async def test_start_failure_raises_and_leaves_no_child() -> None:
    supervisor = Supervisor()
    with pytest.raises(Boom):
        await supervisor.spawn(lambda: Probe(Journal(start_fails=True)), name="p")
    assert supervisor.children() == {}
    await supervisor.stop()


async def test_spawn_with_supervisor_argument() -> None:
    supervisor = Supervisor()
    journal = Journal()
    ref = await spawn(lambda: Probe(journal), name="p", supervisor=supervisor, mailbox_size=10)
    assert supervisor.children() == {"p": ref}
    await crash(ref, journal)
    assert journal.starts == 2
    await supervisor.stop()
    assert ref.state is ActorState.STOPPED


async def test_supervisor_stop_from_inside_a_child() -> None:
    supervisor = Supervisor()

    class Shutdown(Actor):
        async def on_receive(self, message: Any) -> str:
            await supervisor.stop()
            return "ok"

    ref = await supervisor.spawn(Shutdown, name="s")
    sibling = await supervisor.spawn(lambda: Probe(Journal()), name="t")
    assert await ref.ask("shutdown", timeout=20 * UNIT) == "ok"
    assert sibling.state is ActorState.STOPPED
    await ref.stop()
    assert supervisor.children() == {}


def test_invalid_limits() -> None:
    with pytest.raises(ValueError, match="negative"):
        Supervisor(max_restarts=-1)


async def test_an_escalated_ask_failure_reaches_the_asker_and_restarts_the_child() -> None:
    supervisor = Supervisor(name="sup")
    journal = Journal(escalated=Boom)
    ref = await supervisor.spawn(lambda: Probe(journal), name="p")
    assert await ref.ask(("add", 10)) == 10
    journal.started.clear()
    with pytest.raises(Boom, match="state in doubt"):
        await ref.ask(("fail", Boom("state in doubt")))
    async with asyncio.timeout(20 * UNIT):
        await journal.started.wait()
    assert journal.starts == 2
    assert await ref.ask("total") == 0  # the fresh instance reloaded its state
    # An error the actor does not escalate is only an answer: no restart.
    with pytest.raises(ValueError, match="just an answer"):
        await ref.ask(("fail", ValueError("just an answer")))
    assert await ref.ask(("add", 1)) == 1
    assert journal.starts == 2
    await supervisor.stop()


async def test_without_escalation_an_ask_failure_never_restarts() -> None:
    supervisor = Supervisor(name="sup")
    journal = Journal()
    ref = await supervisor.spawn(lambda: Probe(journal), name="p")
    await ref.ask(("add", 5))
    with pytest.raises(Boom):
        await ref.ask(("fail", Boom("answer")))
    assert await ref.ask("total") == 5
    assert journal.starts == 1
    await supervisor.stop()
