"""One simulated charger's websocket: CALLs out, replies matched by unique id, CSMS CALLs answered.

A reader task owned by the connection receives every frame, so websocket pings are answered and
central-system CALLs are served even while no CALL of ours is waiting.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import aiohttp

from sim import answers
from sim.errors import ConnectionLost
from sim.ocppj import (
    Call,
    CallError,
    CallResult,
    encode_call,
    encode_call_error,
    encode_call_result,
    parse_frame,
)
from sim.stats import Tally

LOG = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp1.6"

Reply = tuple[CallResult | CallError, float]
"""A reply frame and the `time.monotonic()` at which it was received."""


def _expire(future: asyncio.Future[Reply]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class ChargerConnection:
    """Wraps an open websocket. Call `start()` once, `close()` when done (it awaits the reader)."""

    def __init__(self, station: str, ws: aiohttp.ClientWebSocketResponse, tally: Tally) -> None:
        self.station = station
        self._ws = ws
        self._tally = tally
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._lost = False

    def start(self) -> None:
        """Start the reader task; the connection owns it until `close()`."""
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(
                self._read(), name=f"reader-{self.station}"
            )

    @property
    def lost(self) -> bool:
        """True once the connection has closed (by either side)."""
        return self._lost

    @property
    def close_code(self) -> int | None:
        """The websocket close code once the connection has closed (1012: service restart)."""
        return self._ws.close_code

    async def wait_lost(self, timeout: float | None) -> bool:
        """Wait at most `timeout` seconds (None: for ever) for the connection to close; returns
        `lost`. Needs `start()`."""
        if self._reader is None:
            raise RuntimeError("the connection was not started")
        if not self._lost and not self._reader.done():
            # asyncio.wait, unlike wait_for, leaves the reader running when the time is up.
            await asyncio.wait((self._reader,), timeout=timeout)
        return self._lost

    async def call(self, action: str, payload: dict[str, Any], *, timeout: float) -> Reply:
        """Send a CALL and wait for the CALLRESULT or CALLERROR with the same unique id.

        Raises TimeoutError when no reply arrives in `timeout` seconds and `ConnectionLost` when
        the socket closes first.
        """
        if self._lost:
            raise ConnectionLost(self.station)
        unique_id = str(next(self._ids))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self._pending[unique_id] = future
        # A timer handle is cheaper per CALL than asyncio.wait_for.
        timer = loop.call_later(timeout, _expire, future)
        try:
            await self._ws.send_str(encode_call(unique_id, action, payload))
            return await future
        except (ConnectionError, aiohttp.ClientError) as exc:
            # Mark the loss now: the reader may only notice on its next wake-up.
            self._lost = True
            raise ConnectionLost(self.station) from exc
        finally:
            timer.cancel()
            self._pending.pop(unique_id, None)

    async def close(self) -> None:
        """Close the websocket normally and wait for the reader to finish."""
        self._closing = True
        try:
            await self._ws.close()
        finally:
            if self._reader is not None:
                await self._reader

    async def _read(self) -> None:
        tally = self._tally
        try:
            async for message in self._ws:
                received_at = time.monotonic()
                if message.type is not aiohttp.WSMsgType.TEXT:
                    # OCPP-J 1.6 section 3: messages travel as text frames only.
                    tally.protocol_violations += 1
                    continue
                frame = parse_frame(message.data)
                if isinstance(frame, CallResult | CallError):
                    future = self._pending.get(frame.unique_id)
                    if future is None or future.done():
                        # Field notes: a reply whose id matches nothing is logged and dropped.
                        tally.unexpected_replies += 1
                    else:
                        future.set_result((frame, received_at))
                elif isinstance(frame, Call):
                    tally.server_calls += 1
                    await self._answer(frame)
                else:
                    tally.protocol_violations += 1
                    LOG.debug("%s: malformed frame: %s", self.station, frame.reason)
        finally:
            self._lost = True
            if not self._closing:
                tally.disconnects += 1
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionLost(self.station))

    async def _answer(self, call: Call) -> None:
        payload = answers.answer(call)
        if payload is None:
            text = encode_call_error(call.unique_id, "NotImplemented", f"{call.action} unsupported")
        else:
            text = encode_call_result(call.unique_id, payload)
        try:
            await self._ws.send_str(text)
        except (ConnectionError, aiohttp.ClientError):
            LOG.debug("%s: could not answer %s", self.station, call.action)
