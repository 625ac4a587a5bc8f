"""Between a member's event loop and its Thespian actor, which run in two threads of one process.

The loop queues outgoing messages and writes a byte to a pipe; the actor watches the pipe
(``ThespianWatch``), takes the queue and sends. Incoming messages are handed to the loop with
``call_soon_threadsafe``. Nothing else is shared between the threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
from collections.abc import Callable


class ControlBridge:
    """A member's link to its Thespian actor."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._outbox: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self.receiver: Callable[[object], None] | None = None
        """Runs in the loop for each incoming message."""

    # -- the loop's side ------------------------------------------------------------------------

    def send(self, address: str, message: object) -> None:
        """Send ``message`` to the member actor at ``address`` (host:port)."""
        self._outbox.put((address, message))
        # A full pipe already holds a wake-up: the actor will drain the whole queue anyway.
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"\0")

    # -- the actor's side -----------------------------------------------------------------------

    @property
    def wake_fd(self) -> int:
        """Readable when messages wait in the outbox."""
        return self._wake_read

    def take_outgoing(self) -> list[tuple[str, object]]:
        """The messages queued since the last call (the wake-up bytes are consumed first, so a
        message queued meanwhile wakes the actor again)."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_read, 4096):
                pass
        taken = []
        while True:
            try:
                taken.append(self._outbox.get_nowait())
            except queue.Empty:
                return taken

    def deliver(self, message: object) -> None:
        """Hand an incoming message to the loop."""
        self._loop.call_soon_threadsafe(self._receive, message)

    def _receive(self, message: object) -> None:
        if self.receiver is not None:
            self.receiver(message)

    def close(self) -> None:
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
