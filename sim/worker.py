"""A load-run worker process: one asyncio loop driving its share of the simulated chargers.

Charger `i` belongs to worker `i % workers`. The worker follows the sequence in `sim.control`
and owns every task it starts: charger readers are closed with their connections, traffic
lanes run in a task group. In idle mode the worker sends `WorkerDone` (with an
`IdleWorkerReport`) while its chargers are still connected, and closes them only on `Stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import itertools
import math
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

from sim.charger import SUBPROTOCOL, ChargerConnection
from sim.config import LoadConfig, LoadMode
from sim.control import (
    FleetBooted,
    FromWorker,
    StartConnecting,
    StartTraffic,
    Stop,
    ToWorker,
    WorkerDone,
    WorkerFailed,
    WorkerReady,
)
from sim.errors import ConnectionLost
from sim.fdlimit import raise_open_file_limit
from sim.ocppj import CallResult
from sim.stats import BootReport, Tally, WorkerReport
from sim.traffic import (
    CONNECTOR_IDS,
    Request,
    SessionScript,
    boot_sequence,
    fleet_id_tag,
    start_transaction,
    station_id,
)

CLOSE_TIMEOUT = 10.0
"""Seconds to close all connections at the end of a run."""
DISCARD_TIMEOUT = 1.0
"""Seconds to close the connection of a failed reconnect attempt."""
HEARTBEAT = Request("Heartbeat", {})
"""The only CALL an idle charger sends, also to tell that it is back after a reconnect."""


@dataclass(frozen=True, slots=True)
class IdleWorkerReport(WorkerReport):
    """A worker's report in idle mode: the tally's numbers plus what the idle chargers saw."""

    transactions: tuple[tuple[str, int], ...] = ()
    """(station, transactionId) of every StartTransaction the server answered with an id."""
    lost: dict[str, int] = dataclasses.field(default_factory=dict)
    """Connections lost during the idle phase, by websocket close code."""
    reconnected_at: tuple[float, ...] = ()
    """`time.monotonic()` at which each charger was back: websocket open again and its first
    Heartbeat answered."""
    reconnect_failures: dict[str, int] = dataclasses.field(default_factory=dict)
    """Reconnect attempts that failed, by reason (e.g. `Handshake:503` from a draining server,
    `ClientConnectorError:ECONNREFUSED` while nothing listens, `Timeout`)."""


class _Failed(Exception):
    """One step of a charger went wrong; the message is the reason counted."""


_STEP_ERRORS = (_Failed, TimeoutError, ConnectionLost, aiohttp.ClientError, OSError)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, _Failed):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "Timeout"
    if isinstance(exc, ConnectionLost):
        return "ConnectionLost"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"Handshake:{exc.status}"
    code = exc.errno if isinstance(exc, OSError) else None
    if code is not None and code in errno.errorcode:
        # e.g. ClientConnectorError:ECONNREFUSED (nothing listens) or :EADDRNOTAVAIL (no port).
        return f"{type(exc).__name__}:{errno.errorcode[code]}"
    return type(exc).__name__


class AsyncPipe:
    """The worker's end of the control pipe, readable from the event loop."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def send(self, message: FromWorker) -> None:
        """Send one message to the parent (blocks only while the pipe buffer is full)."""
        self._conn.send(message)

    async def recv(self) -> ToWorker:
        """Wait for the parent's next message; raises EOFError if the parent is gone."""
        if not self._conn.poll():
            loop = asyncio.get_running_loop()
            readable: asyncio.Future[None] = loop.create_future()
            fd = self._conn.fileno()

            def wake() -> None:
                if not readable.done():
                    readable.set_result(None)

            loop.add_reader(fd, wake)
            try:
                await readable
            finally:
                loop.remove_reader(fd)
        message = self._conn.recv()
        if not isinstance(message, StartConnecting | StartTraffic | Stop):
            raise TypeError(f"unexpected control message {message!r}")
        return message


async def _sleep_until(at: float) -> None:
    delay = at - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


class WorkerFleet:
    """The chargers of one worker. Use `boot()`, then `run_traffic()`, and always `close()`."""

    def __init__(
        self, config: LoadConfig, worker: int, session: aiohttp.ClientSession, tally: Tally
    ) -> None:
        self._config = config
        self._worker = worker
        self._session = session
        self._tally = tally
        self.indexes = range(worker, config.stations, config.workers)
        self._connections: list[ChargerConnection] = []
        self._booted: list[tuple[int, ChargerConnection]] = []
        self._failures: Counter[str] = Counter()
        self._last_booted_at: float | None = None
        self._transactions: list[tuple[str, int]] = []
        self._lost: Counter[str] = Counter()
        self._reconnected_at: list[float] = []
        self._reconnect_failures: Counter[str] = Counter()

    async def boot(self, start_at: float) -> BootReport:
        """Connect and boot every charger, following the connect ramp."""
        config = self._config
        deadline = start_at + config.ramp_seconds() + config.boot_timeout
        async with asyncio.TaskGroup() as group:
            for index in self.indexes:
                at = (
                    start_at
                    if config.connect_rate is None
                    else start_at + index / config.connect_rate
                )
                group.create_task(self._boot_one(index, at, deadline))
        self._booted.sort(key=lambda pair: pair[0])
        return BootReport(len(self._booted), dict(self._failures), self._last_booted_at)

    async def _boot_one(self, index: int, at: float, deadline: float) -> None:
        config = self._config
        station = station_id(config.prefix, index)
        await _sleep_until(at)
        try:
            async with asyncio.timeout_at(deadline):
                connection = await self._open(station)
                for request in boot_sequence(station):
                    payload, _ = await self._expect(connection, request)
                    status = payload.get("status")
                    if request.action == "BootNotification" and status != "Accepted":
                        raise _Failed(f"BootNotification:{status}")
                if config.opens_transaction(index):
                    await self._open_transaction(index, connection)
        except _STEP_ERRORS as exc:
            self._failures[_reason(exc)] += 1
        else:
            self._booted.append((index, connection))
            self._last_booted_at = time.monotonic()

    async def _open(self, station: str) -> ChargerConnection:
        """Open one charger's websocket; the fleet closes it in `close()`."""
        ws = await self._session.ws_connect(
            self._config.url(station), protocols=(SUBPROTOCOL,), autoping=True
        )
        connection = ChargerConnection(station, ws, self._tally)
        self._connections.append(connection)
        connection.start()
        # OCPP-J 1.6 section 3.1.2: the server must agree on the subprotocol.
        if ws.protocol != SUBPROTOCOL:
            raise _Failed("NoSubprotocol")
        return connection

    async def _expect(
        self, connection: ChargerConnection, request: Request
    ) -> tuple[dict[str, Any], float]:
        """Send a CALL outside the measured traffic; a CALLERROR raises `_Failed`."""
        frame, received_at = await connection.call(
            request.action, request.payload, timeout=self._config.call_timeout
        )
        if not isinstance(frame, CallResult):
            raise _Failed(f"{request.action}:{frame.code}")
        return frame.payload, received_at

    async def _open_transaction(self, index: int, connection: ChargerConnection) -> None:
        request = start_transaction(CONNECTOR_IDS[0], fleet_id_tag(index, 0), meter_start_wh=0)
        payload, _ = await self._expect(connection, request)
        transaction_id = payload.get("transactionId")
        info = payload.get("idTagInfo")
        status = info.get("status") if isinstance(info, dict) else None
        if isinstance(transaction_id, int):
            # The server has answered for it: it must not lose it, whatever the status.
            self._transactions.append((connection.station, transaction_id))
        if status != "Accepted" or not isinstance(transaction_id, int):
            raise _Failed(f"StartTransaction:{status}")

    async def run_traffic(self, start: StartTraffic) -> None:
        """Run the session scripts until the measured window has ended."""
        config = self._config
        self._tally.set_window(start.window_start, start.window_end)
        async with asyncio.TaskGroup() as group:
            if config.mode is LoadMode.IDLE:
                for index, connection in self._booted:
                    group.create_task(self._idle(index, connection, start))
                return
            rank = start.first_lane
            for index, connection in self._booted:
                for lane in range(config.concurrency):
                    script = SessionScript(
                        connector_id=CONNECTOR_IDS[lane % len(CONNECTOR_IDS)],
                        id_tag=fleet_id_tag(index, lane),
                        rng=random.Random(config.seed * 1_000_003 + index * 101 + lane),
                        meter_values_per_session=config.meter_values_per_session,
                    )
                    if config.mode is LoadMode.SATURATE:
                        group.create_task(self._saturate(connection, script, start))
                    else:
                        group.create_task(self._paced(connection, script, start, rank))
                    rank += 1

    async def _saturate(
        self, connection: ChargerConnection, script: SessionScript, start: StartTraffic
    ) -> None:
        await _sleep_until(start.start_at)
        while not connection.lost:
            now = time.monotonic()
            if now >= start.window_end:
                return
            await self._exchange(connection, script, now)

    async def _paced(
        self, connection: ChargerConnection, script: SessionScript, start: StartTraffic, rank: int
    ) -> None:
        config = self._config
        assert config.rate is not None
        # Slots are 1/rate apart over the whole fleet; each lane takes every total_lanes-th one.
        interval = start.total_lanes / config.rate
        first_at = start.start_at + rank / config.rate
        give_up_at = start.window_end + config.call_timeout
        slot = 0
        while True:
            scheduled = first_at + slot * interval
            if scheduled >= start.window_end:
                return
            if connection.lost or time.monotonic() >= give_up_at:
                self._tally.unsent += _slots_in_window(first_at, interval, slot, start)
                return
            await _sleep_until(scheduled)
            # Latency counts from `scheduled`, not from the actual send: when the server falls
            # behind, the wait before sending is part of what a charger experiences.
            await self._exchange(connection, script, scheduled)
            slot += 1

    async def _exchange(
        self, connection: ChargerConnection, script: SessionScript, scheduled: float
    ) -> None:
        payload = await self._measured_call(connection, script.next_request(), scheduled)
        if payload is None:
            script.on_failure()
        else:
            script.on_result(payload)

    async def _measured_call(
        self, connection: ChargerConnection, request: Request, scheduled: float
    ) -> dict[str, Any] | None:
        """One CALL of the traffic, tallied; the CALLRESULT payload, or None on failure."""
        try:
            frame, received_at = await connection.call(
                request.action, request.payload, timeout=self._config.call_timeout
            )
        except TimeoutError:
            self._tally.record_timeout(scheduled)
            return None
        except ConnectionLost:
            return None
        if isinstance(frame, CallResult):
            self._tally.record_result(request.action, scheduled, received_at)
            return frame.payload
        self._tally.record_error(frame.code, scheduled)
        return None

    async def _idle(self, index: int, connection: ChargerConnection, start: StartTraffic) -> None:
        """Heartbeats until the window ends; with `reconnect`, come back once if lost."""
        config = self._config
        rng = random.Random(config.seed * 1_000_003 + index)
        heartbeat_at = start.start_at + rng.uniform(0, config.heartbeat_interval)
        while (now := time.monotonic()) < start.window_end:
            wake_at = min(heartbeat_at, start.window_end)
            if await connection.wait_lost(max(0.0, wake_at - now)):
                code = connection.close_code
                self._lost["no close frame" if code is None else str(code)] += 1
                if config.reconnect:
                    await self._reconnect(connection.station, rng, start.window_end)
                return
            if time.monotonic() >= heartbeat_at:
                await self._measured_call(connection, HEARTBEAT, heartbeat_at)
                heartbeat_at += config.heartbeat_interval

    async def _reconnect(self, station: str, rng: random.Random, give_up_at: float) -> None:
        """Reconnect with exponential backoff and full jitter until a Heartbeat is answered."""
        config = self._config
        for attempt in itertools.count():
            ceiling = config.reconnect_backoff * 2.0 ** min(attempt, 30)
            at = time.monotonic() + rng.uniform(0, min(config.reconnect_backoff_max, ceiling))
            if at >= give_up_at:
                return
            await _sleep_until(at)
            connection: ChargerConnection | None = None
            try:
                async with asyncio.timeout_at(min(give_up_at, at + config.call_timeout)):
                    connection = await self._open(station)
                    _, received_at = await self._expect(connection, HEARTBEAT)
            except _STEP_ERRORS as exc:
                self._reconnect_failures[_reason(exc)] += 1
                if connection is not None:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(DISCARD_TIMEOUT):
                            await connection.close()
                continue
            self._reconnected_at.append(received_at)
            return

    def report(self, boot: BootReport) -> WorkerReport:
        """The worker's numbers so far; an `IdleWorkerReport` in idle mode."""
        report = WorkerReport.from_tally(self._worker, len(self.indexes), boot, self._tally)
        if self._config.mode is not LoadMode.IDLE:
            return report
        fields = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
        return IdleWorkerReport(
            **fields,
            transactions=tuple(self._transactions),
            lost=dict(self._lost),
            reconnected_at=tuple(self._reconnected_at),
            reconnect_failures=dict(self._reconnect_failures),
        )

    async def close(self) -> None:
        """Close every connection this fleet opened."""
        connections, self._connections = self._connections, []
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT), asyncio.TaskGroup() as group:
                for connection in connections:
                    group.create_task(connection.close())
        except TimeoutError:
            pass


def _slots_in_window(first_at: float, interval: float, slot: int, start: StartTraffic) -> int:
    """Slots numbered `slot` or later whose time falls in the measured window."""
    first_in_window = max(slot, math.ceil((start.window_start - first_at) / interval))
    end_slot = math.ceil((start.window_end - first_at) / interval)
    return max(0, end_slot - first_in_window)


async def _traffic_unless_stopped(fleet: WorkerFleet, start: StartTraffic, pipe: AsyncPipe) -> bool:
    """Run the traffic phase; cut it short if the parent says Stop or goes away.

    Returns True when the traffic ran to its end.
    """
    traffic = asyncio.create_task(fleet.run_traffic(start), name="traffic")
    watcher = asyncio.create_task(pipe.recv(), name="control-watcher")
    try:
        await asyncio.wait({traffic, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (traffic, watcher):
            task.cancel()
        results = await asyncio.gather(traffic, watcher, return_exceptions=True)
    if not traffic.cancelled() and isinstance(results[0], BaseException):
        raise results[0]
    return not traffic.cancelled()


async def _run(config: LoadConfig, worker: int, pipe: AsyncPipe) -> None:
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        fleet = WorkerFleet(config, worker, session, tally)
        try:
            pipe.send(WorkerReady(worker))
            message = await pipe.recv()
            if not isinstance(message, StartConnecting):
                return
            boot = await fleet.boot(message.at)
            pipe.send(FleetBooted(worker, boot))
            message = await pipe.recv()
            if not isinstance(message, StartTraffic):
                return
            if not await _traffic_unless_stopped(fleet, message, pipe):
                return
            if config.mode is LoadMode.IDLE:
                # Idle chargers stay connected until every worker is done: while another
                # worker's chargers still reconnect, this one's closes must not load the server.
                pipe.send(WorkerDone(fleet.report(boot)))
                await pipe.recv()
                return
        finally:
            await fleet.close()
    pipe.send(WorkerDone(fleet.report(boot)))


def worker_main(config: LoadConfig, worker: int, conn: Connection) -> None:
    """Entry point of a worker process (spawned by `sim.loadgen.run_load`)."""
    # The parent handles Ctrl-C and stops the workers; a terminal's SIGINT reaches them all.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_open_file_limit()
    try:
        asyncio.run(_run(config, worker, AsyncPipe(conn)))
    except EOFError:
        # The parent is gone; nobody is left to report to.
        raise SystemExit(1) from None
    except Exception as exc:
        with contextlib.suppress(OSError):
            conn.send(WorkerFailed(worker, f"{type(exc).__name__}: {exc}"))
        raise SystemExit(1) from exc
    finally:
        conn.close()
