"""A simulated station's websocket: its CALLs out (one in flight), the CSMS's answers checked against
the official schemas, and the CSMS's own CALLs handed to the station's mailbox."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from sim.fleet.tally import FleetTally
from transport.errors import SchemaViolation
from transport.schemas import schemas_for
from transport.versions import OcppVersion

Payload = dict[str, Any]


class CallFailed(Exception):
    """The CSMS answered with a CALLERROR, did not answer in time, or the connection went."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


class Link:
    """One open websocket of one station. ``start()`` the reader, ``close()`` when done."""

    def __init__(
        self,
        station_id: str,
        version: str,
        ws: aiohttp.ClientWebSocketResponse,
        tally: FleetTally,
        on_call: Callable[[str, str, Payload], None],
        *,
        timeout: float,
        on_closed: Callable[[Link], None] | None = None,
    ) -> None:
        self.station_id = station_id
        self.version = version
        self.ws = ws
        self._tally = tally
        self._on_call = on_call
        self._timeout = timeout
        self._schemas = schemas_for(OcppVersion(version))
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[list[Any]]] = {}
        self._resent: set[str] = set()
        self._on_closed = on_closed
        self._reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name=f"link {self.station_id}")

    async def call(
        self, action: str, payload: Payload, *, resend: bool = False, expect_error: bool = False
    ) -> Payload:
        """Send a CALL and return the CALLRESULT's payload (validated); raises ``CallFailed``.
        ``resend`` sends the same frame twice, as a charger that missed the answer does;
        ``expect_error`` is for payloads broken on purpose: a CALLERROR is then the right answer."""
        unique_id = f"{self.station_id[-6:]}-{next(self._ids)}"
        frame = orjson.dumps([2, unique_id, action, payload]).decode()
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending[unique_id] = future
        started = time.monotonic()
        try:
            await self.ws.send_str(frame)
            if resend:
                self._resent.add(unique_id)
                await self.ws.send_str(frame)
            reply = await asyncio.wait_for(asyncio.shield(future), self._timeout)
        except TimeoutError:
            self._tally.error("timeout", station_id=self.station_id, action=action)
            raise CallFailed("timeout") from None
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise CallFailed("disconnect", str(exc)) from None
        finally:
            self._pending.pop(unique_id, None)
        latency_ms = (time.monotonic() - started) * 1000.0
        if reply[0] == 4:
            code, description = str(reply[2]), str(reply[3])
            self._tally.answered(action, latency_ms)
            if not expect_error:
                self._tally.error(
                    code, station_id=self.station_id, action=action, detail=description
                )
            raise CallFailed(code, description)
        self._tally.answered(action, latency_ms)
        result = reply[2]
        if expect_error:
            self._tally.error(
                "accepted_invalid",
                station_id=self.station_id,
                action=action,
                detail="a payload that breaks the schema was answered with a CALLRESULT",
            )
        try:
            self._schemas.validate_response(action, result)
        except SchemaViolation as exc:
            self._tally.error(
                "schema", station_id=self.station_id, action=action, detail=exc.message
            )
        return result if isinstance(result, dict) else {}

    async def send_raw(self, text: str) -> None:
        """A frame as is (malformed ones, on purpose)."""
        await self.ws.send_str(text)

    async def answer(self, unique_id: str, payload: Payload) -> None:
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
            await self.ws.send_str(orjson.dumps([3, unique_id, payload]).decode())

    async def answer_error(self, unique_id: str, code: str, description: str) -> None:
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
            await self.ws.send_str(orjson.dumps([4, unique_id, code, description, {}]).decode())

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_pending()

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        self._pending.clear()

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    frame = orjson.loads(message.data)
                except orjson.JSONDecodeError:
                    self._tally.error("unparsable_frame", station_id=self.station_id, action="?")
                    continue
                self._dispatch(frame)
        finally:
            self._fail_pending()
            if self._on_closed is not None:
                self._on_closed(self)

    def _dispatch(self, frame: Any) -> None:
        if not isinstance(frame, list) or len(frame) < 3:
            self._tally.error(
                "bad_frame", station_id=self.station_id, action="?", detail=str(frame)
            )
            return
        kind, unique_id = frame[0], str(frame[1])
        if kind == 2 and len(frame) >= 4:
            self._tally.csms_calls[str(frame[2])] += 1
            self._on_call(unique_id, str(frame[2]), frame[3] if isinstance(frame[3], dict) else {})
            return
        future = self._pending.get(unique_id)
        if future is not None and not future.done():
            future.set_result(frame)
        elif unique_id in self._resent:
            # The answer to the copy of a resent call: expected, once.
            self._resent.discard(unique_id)
        elif kind == 4 and unique_id == "-1":
            # The CALLERROR to a frame whose id could not be read (a malformed frame of ours).
            self._tally.faults["malformed_answered"] += 1
        else:
            self._tally.errors_by_kind["unmatched_answer"] += 1
