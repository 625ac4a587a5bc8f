"""A raw OCPP-J test charger, spoken through the charger's end of the OCPP-J codec: its calls go out as
the test gives them (unchecked, so broken ones too) and their answers are matched by the codec; the
CSMS's calls are answered through it by per-action handlers that run as tasks, so that a handler may
itself call the CSMS. ``send_frame`` writes any text past the codec (malformed frames on purpose)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from tests.timing import UNIT
from transport.codec import OcppCodec
from transport.errors import ErrorCode, wire_code
from transport.messages import Call, CallError, CallResult, Duplicate
from transport.versions import OcppVersion, Role

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class CallErrorReply(Exception):
    def __init__(self, unique_id: str, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.unique_id = unique_id
        self.code = code
        self.description = description


def _error_code(wire: str, version: OcppVersion) -> ErrorCode:
    """The ``ErrorCode`` a handler means by the wire code it raised in ``CallErrorReply``."""
    for code in ErrorCode:
        if wire_code(code, version) == wire:
            return code
    raise ValueError(f"{wire!r} is no OCPP-J error code of {version.value}")


class RawCharger:
    def __init__(self, ws: ClientConnection, *, version: OcppVersion | None = None) -> None:
        """``version`` defaults to the negotiated subprotocol; a charger that offered none is
        served 1.6 (the server's default)."""
        self.ws = ws
        self.handlers: dict[str, Handler] = {}
        self.received_calls: list[tuple[str, dict[str, Any]]] = []
        self.unsolicited: asyncio.Queue[list[Any]] = asyncio.Queue()
        if version is None:
            version = OcppVersion.from_subprotocol(ws.subprotocol or "") or OcppVersion.V16
        ids = itertools.count(1)
        # Unvalidated: the test decides what its charger sends and answers, and reads what it gets.
        self._codec = OcppCodec(
            version, role=Role.CHARGER, validate=False, id_factory=lambda: f"c{next(ids)}"
        )
        self._one_call = asyncio.Lock()
        self._answer: asyncio.Future[list[Any]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        subprotocols: list[str] | None = None,
        version: OcppVersion | None = None,
        **kwargs: Any,
    ) -> RawCharger:
        ws = await websockets.connect(
            url,
            subprotocols=subprotocols if subprotocols is not None else ["ocpp1.6"],  # type: ignore[arg-type,list-item]
            open_timeout=100 * UNIT,
            ping_interval=None,
            **kwargs,
        )
        return cls(ws, version=version)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for data in self.ws:
                # OCPP-J uses text frames only; a binary one is read as text all the same.
                text = data if isinstance(data, str) else data.decode(errors="replace")
                self._codec.receive_text(text)
                for event in self._codec.events():
                    if isinstance(event, Call):
                        self.received_calls.append((event.action, event.payload))
                        task = asyncio.create_task(self._answer_call(event))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                    elif isinstance(event, CallResult | CallError):
                        if self._answer is not None and not self._answer.done():
                            self._answer.set_result(_parsed(text))
                    elif not isinstance(event, Duplicate):
                        # Answers to frames sent past the codec, and frames that break OCPP-J.
                        await self.unsolicited.put(_parsed(text))
                await self._flush()

    async def _answer_call(self, call: Call) -> None:
        handler = self.handlers.get(call.action)
        if handler is None:
            self._codec.send_error(call.unique_id, ErrorCode.NOT_IMPLEMENTED)
        else:
            try:
                response = await handler(call.payload)
            except CallErrorReply as exc:
                code = _error_code(exc.code, self._codec.version)
                self._codec.send_error(call.unique_id, code, exc.description)
            else:
                self._codec.send_result(call.unique_id, response)
        await self._flush()

    async def _flush(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            for text in self._codec.to_send():
                await self.ws.send(text)

    async def send_frame(self, frame: Any) -> None:
        """Write a frame past the codec: text as is, anything else as JSON. Its answer, if any,
        arrives in ``unsolicited``."""
        await self.ws.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())

    async def exchange(self, frame: list[Any], timeout: float = 100 * UNIT) -> list[Any]:
        """Send a CALL frame ``[2, messageId, action, payload]`` as given and return the raw reply
        frame (CALLRESULT or CALLERROR)."""
        _, unique_id, action, payload = frame
        return await self._call(action, payload, unique_id, timeout)

    async def call(self, action: str, payload: dict[str, Any], timeout: float = 100 * UNIT) -> Any:
        """Send a CALL and return the CALLRESULT's payload; raises ``CallErrorReply``."""
        reply = await self._call(action, payload, None, timeout)
        if reply[0] == 4:
            raise CallErrorReply(reply[1], reply[2], reply[3])
        return reply[2]

    async def _call(
        self, action: str, payload: dict[str, Any], unique_id: str | None, timeout: float
    ) -> list[Any]:
        # OCPP-J 1.6 section 4.1.1: one call in flight; a handler's call waits for the test's.
        async with self._one_call:
            unique_id = self._codec.send_call_unchecked(action, payload, unique_id=unique_id)
            answer = self._answer = asyncio.get_running_loop().create_future()
            try:
                await self._flush()
                return await asyncio.wait_for(answer, timeout)
            finally:
                self._codec.cancel_call(unique_id)
                self._answer = None

    async def next_unsolicited(self, timeout: float = 100 * UNIT) -> list[Any]:
        return await asyncio.wait_for(self.unsolicited.get(), timeout)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _parsed(text: str) -> list[Any]:
    """The frame as the test reads it; text that is no JSON array comes as ``["unparsable", text]``."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return ["unparsable", text]
    return frame if isinstance(frame, list) else ["unparsable", text]
