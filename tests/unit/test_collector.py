"""The garbage collector policy: long-lived objects frozen, young garbage never frozen, frozen
cycles reclaimed by the periodic full collection."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from tests.timing import UNIT
from voltmesh.collector import CollectorPolicy, collect_everything, freeze_young


class Node:
    """An object in a reference cycle, as a closed connection's protocol and task often are."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_garbage_made_since_the_last_freeze_is_collected_not_frozen() -> None:
    cycle = Node()
    gone = weakref.ref(cycle)
    del cycle
    freeze_young()
    assert gone() is None
    assert gc.get_freeze_count() > 0


def test_a_frozen_cycle_waits_for_the_full_collection() -> None:
    cycle = Node()
    gone = weakref.ref(cycle)
    gc.freeze()
    del cycle
    gc.collect()
    assert gone() is not None  # frozen: the collector's runs do not see it
    collect_everything()
    assert gone() is None
    assert gc.get_freeze_count() > 0  # the survivors are frozen again


async def test_the_policy_freezes_then_collects_everything_and_gives_back_on_stop() -> None:
    policy = CollectorPolicy(freeze_interval=UNIT, full_interval=3 * UNIT)
    policy.start()
    try:
        await asyncio.sleep(UNIT / 2)
        assert gc.get_freeze_count() == 0  # not before an interval has passed
        await asyncio.sleep(UNIT)
        assert gc.get_freeze_count() > 0
        cycle = Node()
        gone = weakref.ref(cycle)
        gc.freeze()  # as if it had lived through a freeze of the policy
        del cycle
        for _ in range(100):
            if gone() is None:
                break
            await asyncio.sleep(UNIT / 2)
        assert gone() is None  # reclaimed by the full collection
    finally:
        await policy.stop()
    assert gc.get_freeze_count() == 0


async def test_without_freezing_the_policy_does_nothing() -> None:
    policy = CollectorPolicy(freeze_interval=None, full_interval=UNIT)
    policy.start()
    await asyncio.sleep(UNIT)
    assert gc.get_freeze_count() == 0
    await policy.stop()


async def test_a_doubled_frozen_heap_brings_the_full_collection_early() -> None:
    policy = CollectorPolicy(freeze_interval=UNIT, full_interval=3600.0)
    policy.start()
    try:
        await asyncio.sleep(1.5 * UNIT)  # the first freeze
        cycle = Node()
        gone = weakref.ref(cycle)
        # As many objects again as were frozen, living through a freeze: a fleet that doubled.
        grown = [Node() for _ in range(gc.get_freeze_count() + 1000)]
        gc.freeze()
        del cycle
        for _ in range(100):
            if gone() is None:
                break
            await asyncio.sleep(UNIT / 2)
        assert gone() is None  # reclaimed long before the hourly full collection
        del grown
    finally:
        await policy.stop()
