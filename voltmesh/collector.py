"""Python's cyclic garbage collector, kept from stalling the event loop of a node with many chargers.

Each connected charger keeps a few hundred tracked objects alive (its socket's protocol, reader
task, actors, timers). A full collection walks all of them: at 10,000 connections per process it
held the event loop for over a second, several times a minute while chargers came and went and
while idle, and every Heartbeat waited behind it.

Objects that have lived for a while are connections' long-lived state, so they are frozen
(``gc.freeze``): the collector's automatic runs, full ones included, then only walk what was made
since, which is little. Before each freeze the unfrozen objects are collected, so garbage made
since the last freeze is never frozen. What was frozen and becomes garbage later (a connection
that closed) is reclaimed by reference counting unless it sits in a reference cycle; cycles wait
for the periodic full collection, which unfreezes everything once (one stall of the old length)
and freezes the survivors again. It comes early when the frozen objects have doubled since the
last one (a fleet that grew, or many connections closed and replaced).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

log = logging.getLogger(__name__)

GROWTH_BEFORE_FULL = 2
"""A full collection comes early once the frozen objects are this many times those frozen after the
last one."""


class CollectorPolicy:
    """Freezes long-lived objects every ``freeze_interval`` seconds and runs a full collection of
    everything every ``full_interval`` seconds (None: freezing is off, the collector runs as Python
    sets it). ``start()`` and ``stop()`` from the event loop."""

    def __init__(self, *, freeze_interval: float | None, full_interval: float) -> None:
        self._freeze_interval = freeze_interval
        self._full_interval = full_interval
        self._task: asyncio.Task[None] | None = None
        self._froze = False

    def start(self) -> None:
        if self._freeze_interval is None or self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name="collector-policy")

    async def stop(self) -> None:
        """End the policy and give every frozen object back to the collector."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._froze:
            self._froze = False
            gc.unfreeze()

    async def _run(self) -> None:
        assert self._freeze_interval is not None
        loop = asyncio.get_running_loop()
        full_at = loop.time() + self._full_interval
        # The first freeze waits an interval too: a node that lives for seconds (a test, a
        # command) never pays for a collection of the whole process.
        await asyncio.sleep(self._freeze_interval)
        freeze_young()
        self._froze = True
        frozen_after_full = gc.get_freeze_count()
        while True:
            await asyncio.sleep(self._freeze_interval)
            # Churn (chargers reconnecting, flapping networks) leaves closed connections' cycles
            # frozen: when the frozen objects have doubled since the last full collection, the next
            # one comes early, as Python's own collector would when its oldest generation grows.
            grown = gc.get_freeze_count() > GROWTH_BEFORE_FULL * frozen_after_full
            if grown or loop.time() >= full_at:
                full_at = loop.time() + self._full_interval
                started = loop.time()
                collect_everything()
                frozen_after_full = gc.get_freeze_count()
                log.info("full garbage collection took %.3f s", loop.time() - started)
            else:
                freeze_young()


def freeze_young() -> None:
    """Collect what is not frozen yet, then freeze the survivors."""
    gc.collect()
    gc.freeze()


def collect_everything() -> None:
    """Collect every object, the frozen ones included, then freeze the survivors again."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
