"""A load-run worker process: one asyncio loop driving its share of the simulated chargers.

Charger `i` belongs to worker `i % workers`. The worker follows the sequence in `sim.control`
and owns every task it starts: charger readers are closed with their connections, traffic
lanes run in a task group.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import signal
import time
from multiprocessing.connection import Connection

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
from sim.traffic import CONNECTOR_IDS, SessionScript, boot_sequence, fleet_id_tag, station_id

CLOSE_TIMEOUT = 10.0
"""Seconds to close all connections at the end of a run."""


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
        self._failures: dict[str, int] = {}
        self._last_booted_at: float | None = None

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

    def _fail(self, reason: str) -> None:
        self._failures[reason] = self._failures.get(reason, 0) + 1

    async def _boot_one(self, index: int, at: float, deadline: float) -> None:
        config = self._config
        station = station_id(config.prefix, index)
        await _sleep_until(at)
        try:
            async with asyncio.timeout_at(deadline):
                ws = await self._session.ws_connect(
                    config.url(station), protocols=(SUBPROTOCOL,), autoping=True
                )
                connection = ChargerConnection(station, ws, self._tally)
                self._connections.append(connection)
                connection.start()
                # OCPP-J 1.6 section 3.1.2: the server must agree on the subprotocol.
                if ws.protocol != SUBPROTOCOL:
                    self._fail("NoSubprotocol")
                    return
                for request in boot_sequence(station):
                    frame, _ = await connection.call(
                        request.action, request.payload, timeout=config.call_timeout
                    )
                    if not isinstance(frame, CallResult):
                        self._fail(f"{request.action}:{frame.code}")
                        return
                    status = frame.payload.get("status")
                    if request.action == "BootNotification" and status != "Accepted":
                        self._fail(f"BootNotification:{status}")
                        return
        except TimeoutError:
            self._fail("Timeout")
        except ConnectionLost:
            self._fail("ConnectionLost")
        except aiohttp.WSServerHandshakeError as exc:
            self._fail(f"Handshake:{exc.status}")
        except (aiohttp.ClientError, OSError) as exc:
            self._fail(type(exc).__name__)
        else:
            self._booted.append((index, connection))
            self._last_booted_at = time.monotonic()

    async def run_traffic(self, start: StartTraffic) -> None:
        """Run the session scripts until the measured window has ended."""
        config = self._config
        self._tally.set_window(start.window_start, start.window_end)
        async with asyncio.TaskGroup() as group:
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
        request = script.next_request()
        try:
            frame, received_at = await connection.call(
                request.action, request.payload, timeout=self._config.call_timeout
            )
        except TimeoutError:
            self._tally.record_timeout(scheduled)
            script.on_failure()
            return
        except ConnectionLost:
            script.on_failure()
            return
        if isinstance(frame, CallResult):
            self._tally.record_result(request.action, scheduled, received_at)
            script.on_result(frame.payload)
        else:
            self._tally.record_error(frame.code, scheduled)
            script.on_failure()

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
        finally:
            await fleet.close()
    report = WorkerReport.from_tally(worker, len(fleet.indexes), boot, tally)
    pipe.send(WorkerDone(report))


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
