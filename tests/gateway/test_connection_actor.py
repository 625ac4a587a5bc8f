"""The transport actor of one websocket: the only writer of its codec and socket, and the one place that
keeps the CSMS's call in flight. Driven here through its mailbox with a socket that records frames."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from actors import Actor, LocalActorRef, Supervisor
from gateway.calls import (
    CallAnswered,
    CommandNotSent,
    CommandResult,
    CommandTimeout,
    OutgoingCall,
    StationBusy,
    StationNotConnected,
)
from gateway.connection import Bind, ConnectionActor, Frame, Hangup, Queue, QueuedCalls, Reply
from tests.timing import UNIT
from transport.codec import OcppCodec
from transport.messages import Call
from transport.versions import OcppVersion


class RecordingSocket:
    """Stands in for the aiohttp websocket: what the actor writes, and whether it closed it."""

    def __init__(self) -> None:
        self.frames: list[list[Any]] = []
        self.written = asyncio.Event()
        self.close_code: int | None = None

    async def send_str(self, text: str) -> None:
        self.frames.append(orjson.loads(text))
        self.written.set()

    async def close(self, *, code: int, message: bytes) -> bool:
        self.close_code = code
        return True

    async def next_frame(self) -> list[Any]:
        async with asyncio.timeout(20 * UNIT):
            while not self.frames:
                self.written.clear()
                await self.written.wait()
        return self.frames.pop(0)


class Station(Actor):
    """The station's side: records what the connection hands it, settles answered calls."""

    def __init__(self, inbox: list[Any]) -> None:
        self.inbox = inbox

    async def on_receive(self, message: Any) -> None:
        self.inbox.append(message)
        if isinstance(message, CallAnswered):
            message.call.succeed(CommandResult(message.call.action, message.reply.payload))


@pytest.fixture
async def wired() -> AsyncIterator[tuple[LocalActorRef, RecordingSocket, list[Any]]]:
    supervisor = Supervisor(name="test")
    socket = RecordingSocket()
    inbox: list[Any] = []
    connection = await supervisor.spawn(
        lambda: ConnectionActor(
            "CP-1",
            OcppCodec(OcppVersion.V16, id_factory=iter(f"m{i}" for i in range(99)).__next__),
            socket,  # type: ignore[arg-type]
            max_queued_calls=2,
        ),
        name="ws:CP-1",
    )
    station = await supervisor.spawn(lambda: Station(inbox), name="cp:CP-1")
    connection.tell(Bind(station))
    yield connection, socket, inbox
    await supervisor.stop()


def later(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_charger_calls_go_to_the_station_and_its_replies_to_the_socket(
    wired: tuple[LocalActorRef, RecordingSocket, list[Any]],
) -> None:
    connection, socket, inbox = wired
    connection.tell(Frame('[2,"a1","Heartbeat",{}]'))
    connection.tell(Reply("a1", {"currentTime": "2026-12-04T10:00:00Z"}))
    assert await socket.next_frame() == [3, "a1", {"currentTime": "2026-12-04T10:00:00Z"}]
    assert [type(m) for m in inbox] == [Call]


async def test_one_call_in_flight_the_rest_queued_and_answers_routed_back(
    wired: tuple[LocalActorRef, RecordingSocket, list[Any]],
) -> None:
    connection, socket, inbox = wired
    first = OutgoingCall("ClearCache", {}, later(100 * UNIT))
    second = OutgoingCall("UnlockConnector", {"connectorId": 1}, later(100 * UNIT))
    await connection.ask(Queue(first))
    await connection.ask(Queue(second))
    assert await socket.next_frame() == [2, "m0", "ClearCache", {}]
    assert await connection.ask(QueuedCalls()) == 1  # the second waits for the first's answer
    assert socket.frames == []
    connection.tell(Frame('[3,"m0",{"status":"Accepted"}]'))
    assert (await first.outcome).payload == {"status": "Accepted"}
    assert await socket.next_frame() == [2, "m1", "UnlockConnector", {"connectorId": 1}]
    assert isinstance(inbox[0], CallAnswered) and inbox[0].call is first


async def test_a_full_queue_refuses_and_a_deadline_lets_the_next_call_go(
    wired: tuple[LocalActorRef, RecordingSocket, list[Any]],
) -> None:
    connection, socket, _ = wired
    slow = OutgoingCall("ClearCache", {}, later(4 * UNIT))
    await connection.ask(Queue(slow))
    waiting = [OutgoingCall("ClearCache", {}, later(100 * UNIT)) for _ in range(2)]
    for call in waiting:
        await connection.ask(Queue(call))
    with pytest.raises(StationBusy):
        await connection.ask(Queue(OutgoingCall("ClearCache", {}, later(100 * UNIT))))
    with pytest.raises(CommandTimeout):
        await slow.outcome
    assert [f[1] for f in [await socket.next_frame(), await socket.next_frame()]] == ["m0", "m1"]
    # The late answer to the timed-out call matches nothing and settles nothing else.
    connection.tell(Frame('[3,"m0",{"status":"Accepted"}]'))
    assert await connection.ask(QueuedCalls()) == 1
    assert not waiting[0].settled


async def test_hangup_settles_the_call_in_flight_and_the_queued_ones(
    wired: tuple[LocalActorRef, RecordingSocket, list[Any]],
) -> None:
    connection, socket, _ = wired
    sent = OutgoingCall("ClearCache", {}, later(100 * UNIT))
    queued = OutgoingCall("ClearCache", {}, later(100 * UNIT))
    await connection.ask(Queue(sent))
    await connection.ask(Queue(queued))
    await connection.ask(Hangup())
    with pytest.raises(StationNotConnected) as in_flight:
        await sent.outcome
    assert not isinstance(in_flight.value, CommandNotSent)  # it reached the charger
    with pytest.raises(CommandNotSent):  # never sent: the router may send it elsewhere
        await queued.outcome
    assert not connection.is_alive
