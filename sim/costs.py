"""Server CPU per message, by kind of message: where a central system's time goes.

``python -m sim.costs [--server voltmesh|baseline|node] [--protocol ocpp1.6|ocpp2.0.1]
[--clients 100] [--seconds 5] [--runs 3]``

Each scenario starts a fresh server, connects ``clients`` chargers that repeat one exchange as fast as
the server answers (one call in flight each), and divides the server's CPU time over a measured window
by the messages answered in it. Medians of ``runs``. Bounded in time; loopback only. ``--protocol``
picks the websocket subprotocol the chargers offer and the exchanges they repeat: the OCPP 2.0.1 ones
are the 1.6 ones translated (TransactionEvent for Start/StopTransaction and MeterValues). The
chargers speak through the fleet simulator's link (`sim.fleet.link`), as every simulated charger
does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from sim.benchreport import preamble
from sim.fleet.figures import markdown_row, median, number
from sim.fleet.link import Link, Payload
from sim.fleet.tally import FleetTally
from sim.procstat import tree_cpu_seconds
from sim.servers import HOST, ServerKind, ServerProcess, register_id_tags


def id_tag(index: int) -> str:
    """Charger ``index``'s own id tag: a driver per charger, as in a real fleet, so that each
    transaction is an ordinary one and never meets another charger's session of the same token
    (ConcurrentTx)."""
    return f"COSTTAG{index:05d}"


CALL_TIMEOUT = 60.0
"""Seconds an answer may take before the run fails (a server that stopped answering)."""


class Charger:
    """One charger of the benchmark over a fleet link; ``call`` sends a CALL and returns the
    CALLRESULT's payload (a CALLERROR raises ``CallFailed``). ``name`` is the charge point id it
    connected as."""

    def __init__(self, link: Link, name: str, tag: str) -> None:
        self.link = link
        self.name = name
        self.tag = tag
        self.id_token_201 = {"idToken": tag, "type": "ISO14443"}
        self.sent = 0
        self.transactions = 0
        """OCPP 2.0.1 transactions started; numbers the charger's own transaction ids."""

    async def call(self, action: str, payload: Payload) -> Any:
        self.sent += 1
        return await self.link.call(action, payload)


def _clock(n: int) -> str:
    return f"2026-01-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"


async def _heartbeat(c: Charger, count: list[int]) -> None:
    await c.call("Heartbeat", {})
    count[0] += 1


async def _status(c: Charger, count: list[int]) -> None:
    await c.call(
        "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    )
    count[0] += 1


async def _authorize(c: Charger, count: list[int]) -> None:
    await c.call("Authorize", {"idTag": c.tag})
    count[0] += 1


async def _data_transfer(c: Charger, count: list[int]) -> None:
    await c.call("DataTransfer", {"vendorId": "sim", "data": "x"})
    count[0] += 1


async def _start(c: Charger) -> int:
    """A StartTransaction; returns the transaction id the server gave."""
    start = await c.call(
        "StartTransaction",
        {"connectorId": 1, "idTag": c.tag, "meterStart": 0, "timestamp": _clock(c.sent)},
    )
    return int(start["transactionId"])


async def _stop(c: Charger, tx: int, meter_stop: int) -> None:
    await c.call(
        "StopTransaction",
        {"transactionId": tx, "meterStop": meter_stop, "timestamp": _clock(c.sent)},
    )


async def _start_stop(c: Charger, count: list[int]) -> None:
    await _stop(c, await _start(c), 10)
    count[0] += 2


async def _meter_values(c: Charger, count: list[int]) -> None:
    """A session of ten MeterValues (register, power, one phase current), as chargers send them."""
    tx = await _start(c)
    for k in range(10):
        sampled = [
            {"value": str(k * 100)},
            {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "16", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
        ]
        await c.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx,
                "meterValue": [{"timestamp": _clock(c.sent), "sampledValue": sampled}],
            },
        )
    await _stop(c, tx, 1000)
    count[0] += 12


# OCPP 2.0.1: the same exchanges in 2.0.1 terms. A transaction is TransactionEvent Started,
# Updated..., Ended under an id the charger makes up (at most 36 characters), with seqNo counting the
# events of the transaction from 0.


def _register_201(wh: float, context: str) -> dict[str, Any]:
    return {
        "value": wh,
        "measurand": "Energy.Active.Import.Register",
        "context": context,
        "unitOfMeasure": {"unit": "Wh"},
    }


def _new_transaction_201(c: Charger) -> str:
    c.transactions += 1
    return f"{c.name}-{c.transactions}"


async def _status_201(c: Charger, count: list[int]) -> None:
    await c.call(
        "StatusNotification",
        {
            "timestamp": _clock(c.sent),
            "connectorStatus": "Available",
            "evseId": 1,
            "connectorId": 1,
        },
    )
    count[0] += 1


async def _authorize_201(c: Charger, count: list[int]) -> None:
    await c.call("Authorize", {"idToken": c.id_token_201})
    count[0] += 1


async def _started_201(c: Charger, tx: str, wh: float) -> None:
    now = _clock(c.sent)
    await c.call(
        "TransactionEvent",
        {
            "eventType": "Started",
            "timestamp": now,
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": tx},
            "idToken": c.id_token_201,
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [
                {"timestamp": now, "sampledValue": [_register_201(wh, "Transaction.Begin")]}
            ],
        },
    )


async def _ended_201(c: Charger, tx: str, seq_no: int, wh: float) -> None:
    now = _clock(c.sent)
    await c.call(
        "TransactionEvent",
        {
            "eventType": "Ended",
            "timestamp": now,
            "triggerReason": "EVDeparted",
            "seqNo": seq_no,
            "transactionInfo": {"transactionId": tx, "stoppedReason": "EVDisconnected"},
            "meterValue": [
                {"timestamp": now, "sampledValue": [_register_201(wh, "Transaction.End")]}
            ],
        },
    )


async def _started_ended_201(c: Charger, count: list[int]) -> None:
    tx = _new_transaction_201(c)
    await _started_201(c, tx, 1000.0)
    await _ended_201(c, tx, 1, 1010.0)
    count[0] += 2


async def _transaction_updates_201(c: Charger, count: list[int]) -> None:
    """A session of ten TransactionEvent Updated (register, power, one phase current), as
    ``_meter_values`` for 1.6."""
    tx = _new_transaction_201(c)
    await _started_201(c, tx, 1000.0)
    for k in range(10):
        now = _clock(c.sent)
        sampled = [
            _register_201(1000.0 + k * 100, "Sample.Periodic"),
            {"value": 7000.0, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
            {
                "value": 16.0,
                "measurand": "Current.Import",
                "phase": "L1",
                "unitOfMeasure": {"unit": "A"},
            },
        ]
        await c.call(
            "TransactionEvent",
            {
                "eventType": "Updated",
                "timestamp": now,
                "triggerReason": "MeterValuePeriodic",
                "seqNo": k + 1,
                "transactionInfo": {"transactionId": tx},
                "meterValue": [{"timestamp": now, "sampledValue": sampled}],
            },
        )
    await _ended_201(c, tx, 11, 2000.0)
    count[0] += 12


Exchange = Callable[[Charger, list[int]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Protocol:
    """What the chargers of one OCPP version offer, boot with and repeat."""

    subprotocol: str
    boot: dict[str, Any]
    scenarios: dict[str, Exchange]


PROTOCOLS: dict[str, Protocol] = {
    "ocpp1.6": Protocol(
        "ocpp1.6",
        {"chargePointVendor": "sim", "chargePointModel": "c"},
        {
            "Heartbeat": _heartbeat,
            "StatusNotification": _status,
            "Authorize": _authorize,
            "DataTransfer (stored)": _data_transfer,
            "StartTransaction + StopTransaction": _start_stop,
            "session of 10 MeterValues": _meter_values,
        },
    ),
    "ocpp2.0.1": Protocol(
        "ocpp2.0.1",
        {"chargingStation": {"vendorName": "sim", "model": "c"}, "reason": "PowerUp"},
        {
            "Heartbeat": _heartbeat,
            "StatusNotification": _status_201,
            "Authorize": _authorize_201,
            "TransactionEvent Started + Ended": _started_ended_201,
            "session of 10 TransactionEvent Updated": _transaction_updates_201,
        },
    ),
}
DEFAULT_PROTOCOL = "ocpp1.6"


@dataclass(frozen=True, slots=True)
class Cost:
    scenario: str
    msgs_per_s: float
    cpu_us_per_msg: float


async def _drive(
    port: int,
    pid: int,
    protocol: Protocol,
    exchange: Exchange,
    clients: int,
    seconds: float,
) -> Cost:
    stop = asyncio.Event()
    count = [0]
    tally = FleetTally()

    def unexpected_call(unique_id: str, action: str, payload: Payload) -> None:
        """No exchange here draws a CALL from the server; the tally counts any, and they fail
        the run below."""

    async def one(session: aiohttp.ClientSession, index: int) -> None:
        name = f"COST{index:05d}"
        url = f"ws://{HOST}:{port}/ocpp/{name}"
        async with session.ws_connect(url, protocols=[protocol.subprotocol]) as ws:
            if ws.protocol != protocol.subprotocol:
                raise RuntimeError(f"{name}: server agreed on {ws.protocol!r}")
            # Answers go unchecked against the schemas: the chargers share the machine with the
            # server, and checking every answer would cost them CPU the server's figures need.
            link = Link(
                name,
                protocol.subprotocol,
                ws,
                tally,
                unexpected_call,
                timeout=CALL_TIMEOUT,
                validate=False,
            )
            link.start()
            try:
                charger = Charger(link, name, id_tag(index))
                await charger.call("BootNotification", protocol.boot)
                while not stop.is_set():
                    await exchange(charger, count)
            finally:
                await link.close()

    async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as group:
        for index in range(clients):
            group.create_task(one(session, index))
        await asyncio.sleep(min(2.0, seconds))  # connect and warm up
        count0, cpu0, wall0 = count[0], tree_cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(seconds)
        count1, cpu1, wall1 = count[0], tree_cpu_seconds(pid), time.monotonic()
        stop.set()
    if tally.csms_calls:
        raise RuntimeError(f"the server sent calls no exchange expects: {dict(tally.csms_calls)}")
    messages = max(1, count1 - count0)
    return Cost("", messages / (wall1 - wall0), (cpu1 - cpu0) * 1e6 / messages)


def measure(
    kind: ServerKind,
    name: str,
    clients: int,
    seconds: float,
    protocol: str = DEFAULT_PROTOCOL,
) -> Cost:
    """One run of scenario ``name`` of ``protocol`` against a fresh server of ``kind``."""
    chosen = PROTOCOLS[protocol]
    with tempfile.TemporaryDirectory() as logs:
        server = ServerProcess(kind, log_path=Path(logs) / "server.log")
        with server:
            if server.api_port is not None:
                register_id_tags(
                    server.host,
                    server.api_port,
                    [id_tag(i) for i in range(clients)],
                    token=server.api_token,
                )
            cost = asyncio.run(
                _drive(
                    server.ocpp_port,
                    server.pid,
                    chosen,
                    chosen.scenarios[name],
                    clients,
                    seconds,
                )
            )
    return Cost(name, cost.msgs_per_s, cost.cpu_us_per_msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.costs", description=__doc__)
    parser.add_argument("--server", choices=[k.value for k in ServerKind], default="voltmesh")
    parser.add_argument("--protocol", choices=list(PROTOCOLS), default=DEFAULT_PROTOCOL)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    kind = ServerKind(args.server)
    command = f"python -m sim.costs {' '.join(sys.argv[1:] if argv is None else argv)}"
    print("\n".join(preamble(command)))
    label = kind.value if args.protocol == DEFAULT_PROTOCOL else f"{kind.value} {args.protocol}"
    print(f"| {label}: exchange | msgs/s | server CPU µs/msg |")
    print("|---|---:|---:|")
    for name in PROTOCOLS[args.protocol].scenarios:
        if kind is ServerKind.BASELINE and name.startswith("DataTransfer"):
            continue  # the Python baseline has no DataTransfer handler (node's stores nothing)
        runs = [
            measure(kind, name, args.clients, args.seconds, args.protocol) for _ in range(args.runs)
        ]
        rate = median(r.msgs_per_s for r in runs)
        cpu = median(r.cpu_us_per_msg for r in runs)
        print(markdown_row([name, number(rate, 0), number(cpu, 1)]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
