"""An actor's mailbox: a bounded FIFO with one consumer, the actor's own task.

``asyncio.Queue`` serves any number of producers and consumers and pays for it: four deques and an
event per queue, about 3 KiB, and every connected station has two actors. One deque and at most one
waiting getter are all an actor needs.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    """``put_nowait`` from anywhere in the loop; ``get`` from the one consumer only."""

    __slots__ = ("_items", "_maxsize", "_waiter")

    def __init__(self, maxsize: int) -> None:
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._waiter: asyncio.Future[None] | None = None

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: T) -> None:
        """Append ``item``; raises ``asyncio.QueueFull`` at ``maxsize`` messages."""
        if len(self._items) >= self._maxsize:
            raise asyncio.QueueFull
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> T:
        """The oldest message; raises ``asyncio.QueueEmpty`` when there is none."""
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    async def get(self) -> T:
        """The oldest message, waiting for one if need be. One consumer only."""
        items = self._items
        while not items:
            # Inline rather than through _wait(): this is every idle actor's wake-up, and one
            # coroutine frame less is measurable per message.
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        return items.popleft()

    async def get_within(self, timeout: float) -> T | None:
        """The oldest message, or None once ``timeout`` seconds pass without one. One consumer
        only (a timer, not ``asyncio.wait_for``: no task per wait)."""
        if not self._items and timeout > 0:
            await self._wait(timeout)
        return self._items.popleft() if self._items else None

    async def _wait(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = None if timeout is None else loop.call_later(timeout, _wake, waiter)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()
            self._waiter = None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
