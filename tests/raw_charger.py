"""A raw OCPP-J test charger: frames under the test's full control (malformed ones included), its own
calls matched by id, the CSMS's calls answered by per-action handlers that run as tasks so that a
handler may itself call the CSMS."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class CallErrorReply(Exception):
    def __init__(self, unique_id: str, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.unique_id = unique_id
        self.code = code
        self.description = description


class RawCharger:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.handlers: dict[str, Handler] = {}
        self.received_calls: list[tuple[str, dict[str, Any]]] = []
        self.unsolicited: asyncio.Queue[list[Any]] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[list[Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls, url: str, *, subprotocols: list[str] | None = None, **kwargs: Any
    ) -> RawCharger:
        ws = await websockets.connect(
            url,
            subprotocols=subprotocols if subprotocols is not None else ["ocpp1.6"],  # type: ignore[arg-type,list-item]
            open_timeout=5,
            ping_interval=None,
            **kwargs,
        )
        return cls(ws)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in self.ws:
                try:
                    frame = orjson.loads(text)
                except orjson.JSONDecodeError:
                    await self.unsolicited.put(["unparsable", text])
                    continue
                if frame[0] == 2:
                    self.received_calls.append((frame[2], frame[3]))
                    task = asyncio.create_task(self._answer(frame))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                elif frame[1] in self._waiting:
                    self._waiting.pop(frame[1]).set_result(frame)
                else:
                    await self.unsolicited.put(frame)

    async def _answer(self, frame: list[Any]) -> None:
        _, unique_id, action, payload = frame
        handler = self.handlers.get(action)
        if handler is None:
            reply: list[Any] = [4, unique_id, "NotImplemented", "", {}]
        else:
            try:
                reply = [3, unique_id, await handler(payload)]
            except CallErrorReply as exc:
                reply = [4, unique_id, exc.code, exc.description, {}]
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(orjson.dumps(reply).decode())

    async def send_frame(self, frame: Any) -> None:
        await self.ws.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())

    async def exchange(self, frame: list[Any], timeout: float = 5.0) -> list[Any]:
        """Send a CALL frame and return the raw reply frame (CALLRESULT or CALLERROR)."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting[frame[1]] = future
        await self.send_frame(frame)
        return await asyncio.wait_for(future, timeout)

    async def call(self, action: str, payload: dict[str, Any], timeout: float = 5.0) -> Any:
        reply = await self.exchange([2, f"c{next(self._ids)}", action, payload], timeout)
        if reply[0] == 4:
            raise CallErrorReply(reply[1], reply[2], reply[3])
        return reply[2]

    async def next_unsolicited(self, timeout: float = 5.0) -> list[Any]:
        return await asyncio.wait_for(self.unsolicited.get(), timeout)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
