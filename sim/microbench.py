"""In-process costs of the hot paths: the OCPP-J codec and the actor runtime, no sockets, no server.

``python -m sim.microbench [--messages 20000] [--actors 1000] [--runs 5]``

- codec: a 1.6 MeterValues CALL decoded and validated as the CSMS receives it, and its CALLRESULT
  validated and encoded, in µs per message;
- actor: ``tell`` (a burst to one actor, then one ``ask`` to wait for it), a hop (one message told
  back and forth between two actors, each tell waking the other's task) and ``ask`` (one after the
  other), in µs per message;
- memory: what an idle actor holds (its mailbox, its task, its ref), in KiB, from ``tracemalloc``.

Times are this process's CPU time (``time.process_time``: what the rest of a shared machine does
is not counted), the best of ``runs``; the goals are the design budgets. Figures, not checks: the
unit tests assert behaviour only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from actors import Actor, spawn
from transport.codec import OcppCodec
from transport.messages import Call
from transport.versions import OcppVersion

METER_VALUES: dict[str, Any] = {
    "connectorId": 1,
    "transactionId": 42,
    "meterValue": [
        {
            "timestamp": "2026-01-01T10:00:00Z",
            "sampledValue": [
                {
                    "value": "1234.5",
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                    "context": "Sample.Periodic",
                },
                {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
            ],
        }
    ],
}
"""A typical periodic meter reading: the message a fleet sends most."""


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured cost."""

    name: str
    value: float
    unit: str
    goal: str
    """The design budget, for the reader to compare ("" when there is none)."""


def _best(runs: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(runs))


def _meter_values_frames(count: int) -> list[str]:
    return [orjson.dumps([2, f"m{n}", "MeterValues", METER_VALUES]).decode() for n in range(count)]


def codec_decode_us(messages: int) -> float:
    """µs to decode and validate one MeterValues CALL."""
    frames = _meter_values_frames(messages)
    codec = OcppCodec(OcppVersion.V16)
    started = time.process_time()
    for text in frames:
        codec.receive_text(text)
    elapsed = time.process_time() - started
    if len(codec.events()) != messages or codec.to_send():
        raise RuntimeError("the codec did not take every frame as a call")
    return elapsed / messages * 1e6


def codec_encode_us(messages: int) -> float:
    """µs to validate and encode the CALLRESULT of one MeterValues CALL."""
    codec = OcppCodec(OcppVersion.V16)
    for text in _meter_values_frames(messages):
        codec.receive_text(text)
    ids = [event.unique_id for event in codec.events() if isinstance(event, Call)]
    started = time.process_time()
    for unique_id in ids:
        codec.send_result(unique_id, {})
    sent = codec.to_send()
    elapsed = time.process_time() - started
    if len(sent) != messages:
        raise RuntimeError("the codec did not answer every call")
    return elapsed / messages * 1e6


class _Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    async def on_receive(self, message: Any) -> int:
        self.count += 1
        return self.count


async def actor_tell_us(messages: int) -> float:
    """µs per message for a burst of tells to one actor, until the last is processed."""
    ref = await spawn(_Counter, name="counter", mailbox_size=messages + 1)
    try:
        started = time.process_time()
        for _ in range(messages):
            ref.tell(None)
        processed = await ref.ask(None)
        elapsed = time.process_time() - started
    finally:
        await ref.stop()
    if processed != messages + 1:
        raise RuntimeError(f"{processed} messages processed, not {messages + 1}")
    return elapsed / messages * 1e6


class _Relay(Actor):
    """Tells every message on to its peer until ``left`` runs out, then settles ``done``."""

    def __init__(self, done: asyncio.Future[None], left: int) -> None:
        self.peer: Any = None
        self.done = done
        self.left = left

    async def on_receive(self, message: Any) -> None:
        self.left -= 1
        if self.left <= 0:
            if not self.done.done():
                self.done.set_result(None)
            return
        self.peer.tell(message)


async def actor_hop_us(messages: int) -> float:
    """µs per hop of one message told back and forth between two actors: each hop is a tell and
    a wake-up of the receiver's task, what a charger's frame pays between the transport actor and
    the charge point actor."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    ping, pong = _Relay(done, messages), _Relay(done, messages)
    refs = [await spawn(lambda: ping, name="ping"), await spawn(lambda: pong, name="pong")]
    ping.peer, pong.peer = refs[1], refs[0]
    try:
        started = time.process_time()
        refs[0].tell(None)
        await done
        elapsed = time.process_time() - started
    finally:
        await asyncio.gather(*(ref.stop() for ref in refs))
    return elapsed / messages * 1e6


async def actor_ask_us(messages: int) -> float:
    """µs per ask, one after the other (a round trip through the mailbox each)."""
    ref = await spawn(_Counter, name="counter")
    try:
        started = time.process_time()
        for _ in range(messages):
            await ref.ask(None)
        elapsed = time.process_time() - started
    finally:
        await ref.stop()
    return elapsed / messages * 1e6


async def idle_actor_kib(actors: int) -> float:
    """KiB held by one started, idle actor."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        refs = [await spawn(_Counter, name=f"idle-{n}") for n in range(actors)]
        await asyncio.sleep(0)  # every actor's task has started and waits on its mailbox
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    await asyncio.gather(*(ref.stop() for ref in refs))
    return held / actors / 1024


async def measure(messages: int, actors: int, runs: int) -> list[Figure]:
    # Decoding and encoding are pure: batches of a tenth keep the runs short.
    frames = max(1, messages // 10)
    tell = min([await actor_tell_us(messages) for _ in range(runs)])
    hop = min([await actor_hop_us(messages) for _ in range(runs)])
    ask = min([await actor_ask_us(frames) for _ in range(runs)])
    memory = min([await idle_actor_kib(actors) for _ in range(runs)])
    return [
        Figure(
            "codec: 1.6 MeterValues CALL, decode and validate",
            _best(runs, lambda: codec_decode_us(frames)),
            "µs/msg",
            "15",
        ),
        Figure(
            "codec: its CALLRESULT, validate and encode",
            _best(runs, lambda: codec_encode_us(frames)),
            "µs/msg",
            "",
        ),
        Figure("actor: tell, a burst to one actor", tell, "µs/msg", "2"),
        Figure("actor: hop, a tell that wakes the receiver", hop, "µs/msg", ""),
        Figure("actor: ask, one at a time", ask, "µs/msg", ""),
        Figure("actor: memory of an idle actor", memory, "KiB", ""),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.microbench", description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000, help="tells per run")
    parser.add_argument("--actors", type=int, default=1000, help="idle actors for the memory")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if args.messages < 10 or args.actors < 1 or args.runs < 1:
        parser.error("--messages must be at least 10, --actors and --runs at least 1")
    # On the event loop a node runs (uvloop where installed): the actor figures depend on it.
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        figures = runner.run(measure(args.messages, args.actors, args.runs))
    command = ["python", "-m", "sim.microbench", *(sys.argv[1:] if argv is None else argv)]
    print(f"Command: `{' '.join(command)}`\n")
    print("| hot path | best of runs | unit | goal |")
    print("|---|---:|---|---:|")
    for figure in figures:
        print(f"| {figure.name} | {figure.value:,.2f} | {figure.unit} | {figure.goal} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
