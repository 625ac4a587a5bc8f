"""A live OCPP-J connection as the domain actors see it: the codec, the socket's writing end, and the
slot of the one CSMS-initiated call in flight.

The websocket adapter owns the socket; it builds a ``StationLink`` and resolves replies to our calls
directly (``resolve``), never through the charge point's mailbox, so that a handler that waits for a
charger's answer can never wait for itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from actors.configuration import ConfigurationCache
from transport.codec import OcppCodec
from transport.messages import CallError, CallResult
from transport.versions import OcppVersion

Reply = CallResult | CallError


class StationLink:
    """One connection of one station. Lives as long as the socket."""

    def __init__(
        self,
        station_id: str,
        version: OcppVersion,
        codec: OcppCodec,
        *,
        write: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Coroutine[Any, Any, None]],
    ) -> None:
        self.station_id = station_id
        self.version = version
        self.codec = codec
        self._write = write
        self._close = close
        self._pending: tuple[str, asyncio.Future[Reply]] | None = None
        self.closed = False
        self.booted = False
        """Whether the station sent a BootNotification on this connection."""
        self.accepted = False
        """Accepted by BootNotification, or registered and allowed before this connection (a
        reconnect is not a reboot); until then only BootNotification and Heartbeat are served."""
        self.requested: set[str] = set()
        """Actions we asked for with an accepted TriggerMessage: a station that is not accepted yet
        may send them (OCPP 1.6 section 4.2.1)."""
        self._closing: asyncio.Task[None] | None = None
        self.configuration = ConfigurationCache()

    async def flush(self) -> None:
        """Write every frame the codec has queued. Call after each codec operation.

        A socket that went away drops the frames: what they answered is committed already, and the
        charger resends what it did not see answered."""
        for frame in self.codec.to_send():
            if self.closed:
                return
            try:
                await self._write(frame)
            except ConnectionError:
                self.closed = True
                return

    def close_soon(self, code: int, reason: str) -> None:
        """Start closing the socket (1012 on shutdown, 1000 when a newer connection replaces this
        one) without waiting for the peer's answer: a zombie socket never answers. The owner of the
        connection must ``wait_closed()``."""
        if self._closing is None:
            self.closed = True
            self.fail_pending()
            self._closing = asyncio.create_task(
                self._close(code, reason), name=f"close {self.station_id}"
            )

    async def wait_closed(self) -> None:
        """Until a close started by ``close_soon`` has finished (at once if none was started)."""
        if self._closing is not None:
            with contextlib.suppress(Exception):
                await self._closing

    async def close(self, code: int, reason: str) -> None:
        self.close_soon(code, reason)
        await self.wait_closed()

    def expect(self, unique_id: str) -> asyncio.Future[Reply]:
        """Register the future that the reply to our call ``unique_id`` will resolve."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending = (unique_id, future)
        return future

    def forget(self, unique_id: str) -> None:
        if self._pending is not None and self._pending[0] == unique_id:
            self._pending = None

    def resolve(self, reply: Reply) -> bool:
        """Hand the charger's reply to the waiting caller; False when nobody waits for it."""
        if self._pending is None or self._pending[0] != reply.unique_id:
            return False
        future = self._pending[1]
        self._pending = None
        if not future.done():
            future.set_result(reply)
        return True

    def fail_pending(self) -> None:
        if self._pending is not None:
            future = self._pending[1]
            self._pending = None
            if not future.done():
                future.set_exception(ConnectionError("station disconnected"))
