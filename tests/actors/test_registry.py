from __future__ import annotations

from actors import Registry, spawn
from tests.actors.probes import Journal, Probe


async def test_register_replace_lookup() -> None:
    registry = Registry()
    first = await spawn(lambda: Probe(Journal()), name="cp:1")
    second = await spawn(lambda: Probe(Journal()), name="cp:1")
    assert registry.register("CP1", first) is None
    assert registry.lookup("CP1") is first
    assert registry.register("CP1", second) is first
    assert registry.lookup("CP1") is second
    assert registry.register("CP1", second) is None  # same ref again: nothing replaced
    assert registry.names() == ["CP1"]
    assert len(registry) == 1
    assert "CP1" in registry
    assert registry.lookup("CP2") is None
    await first.stop()
    await second.stop()


async def test_unregister_only_removes_the_given_ref() -> None:
    registry = Registry()
    old = await spawn(lambda: Probe(Journal()), name="old")
    new = await spawn(lambda: Probe(Journal()), name="new")
    registry.register("CP1", old)
    registry.register("CP1", new)
    # The replaced actor cleaning up after itself must not remove its successor.
    assert registry.unregister("CP1", old) is False
    assert registry.lookup("CP1") is new
    assert registry.unregister("CP1", new) is True
    assert registry.lookup("CP1") is None
    assert registry.unregister("CP1") is False
    registry.register("CP2", old)
    assert registry.unregister("CP2") is True
    assert len(registry) == 0
    await old.stop()
    await new.stop()


async def test_dead_refs_count_as_absent() -> None:
    registry = Registry()
    alive = await spawn(lambda: Probe(Journal()), name="a")
    dead = await spawn(lambda: Probe(Journal()), name="d")
    registry.register("A", alive)
    registry.register("D", dead)
    assert len(registry) == 2
    await dead.stop()
    assert registry.names() == ["A"]
    assert len(registry) == 1
    assert registry.lookup("D") is None
    assert "D" not in registry
    registry.register("A2", dead)
    assert registry.register("A2", alive) is None  # the dead one is not reported as replaced
    await alive.stop()
    assert registry.names() == []
