"""OCPP 1.6 load driver: N simulated chargers over W worker processes.

Library::

    result = run_load(LoadConfig(port=9000, stations=1000, mode=LoadMode.RATE, rate=2000))
    idle = run_idle(LoadConfig(port=9000, stations=1000, mode=LoadMode.IDLE, reconnect=True))

Command line (prints the result as JSON)::

    python -m sim.loadgen --port 9000 --stations 1000 --mode rate --rate 2000 --duration 10

The parent process only coordinates: it starts the workers (spawned, so no event loop state is
forked), moves them through the phases in `sim.control`, calls the optional hooks at the phase
boundaries and merges the workers' raw numbers into one `LoadResult`.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, TypeVar

import orjson

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
from sim.errors import FleetError, RemoteTargetRefused
from sim.netguard import ensure_target_allowed
from sim.result import LoadResult
from sim.stats import WorkerReport, merge_reports
from sim.worker import CLOSE_TIMEOUT, IdleWorkerReport, worker_main

STARTUP_TIMEOUT = 30.0
"""Seconds for all workers to start their event loops."""
PHASE_SLACK = 10.0
"""Extra seconds the parent grants each phase beyond the workers' own limits."""
EXIT_GRACE = 2.0
"""Seconds a worker gets to exit after it was told to stop, before it is terminated."""
LEAD_TIME = 0.1
"""Seconds between announcing a phase and its start, so every worker starts on time."""

_M = TypeVar("_M", bound=FromWorker)


@dataclass(frozen=True, slots=True)
class LoadHooks:
    """Callbacks run in the parent process at phase boundaries (e.g. to sample a server)."""

    on_fleet_ready: Callable[[], None] | None = None
    """After every charger has booted and before any traffic: the fleet is connected and idle."""
    on_window_start: Callable[[], None] | None = None
    """When the measured window starts."""
    on_window_end: Callable[[], None] | None = None
    """When the measured window ends."""


@dataclass(frozen=True, slots=True)
class IdleResult:
    """An idle run: the load result plus what the idle chargers saw, over all workers."""

    load: LoadResult
    """The merged tally (heartbeats, boot failures, disconnects...)."""
    transactions: list[tuple[str, int]]
    """(station, transactionId) of every transaction the server answered for."""
    lost: dict[str, int]
    """Connections lost during the idle phase, by websocket close code."""
    reconnected_at: list[float]
    """Sorted `time.monotonic()` at which chargers were back (see `LoadConfig.reconnect`)."""
    reconnect_failures: dict[str, int]
    """Failed reconnect attempts by reason."""

    def summary(self) -> dict[str, Any]:
        """Counts for JSON (the times are only meaningful against the caller's own clock)."""
        return {
            "transactions": len(self.transactions),
            "lost": self.lost,
            "reconnected": len(self.reconnected_at),
            "reconnect_failures": self.reconnect_failures,
        }


def _call(hook: Callable[[], None] | None) -> None:
    if hook is not None:
        hook()


class _WorkerPool:
    """The worker processes of one run; closing it stops any that are still running."""

    def __init__(self, config: LoadConfig) -> None:
        context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self._conns: list[Connection] = []
        self._early: dict[int, FromWorker] = {}
        for worker in range(config.workers):
            parent_end, child_end = context.Pipe(duplex=True)
            process = context.Process(
                target=worker_main,
                args=(config, worker, child_end),
                name=f"sim-worker-{worker}",
                daemon=True,
            )
            self._processes.append(process)
            self._conns.append(parent_end)
            process.start()
            # Only the child holds its end now, so the parent sees EOF when the child dies.
            child_end.close()

    def send(self, worker: int, message: ToWorker) -> None:
        self._conns[worker].send(message)

    def broadcast(self, message: ToWorker) -> None:
        for worker in range(len(self._conns)):
            self.send(worker, message)

    def collect(self, kind: type[_M], deadline: float) -> list[_M]:
        """One message of `kind` from every worker, in worker order, before `deadline`."""
        got: dict[int, _M] = {}
        for worker, early in list(self._early.items()):
            if isinstance(early, kind):
                got[worker] = early
                del self._early[worker]
        while len(got) < len(self._conns):
            waiting = [c for i, c in enumerate(self._conns) if i not in got]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not wait(waiting, remaining):
                raise FleetError(f"workers did not send {kind.__name__} in time")
            for worker, conn in enumerate(self._conns):
                if worker in got or not conn.poll():
                    continue
                got[worker] = self._receive(worker, kind)
        return [got[i] for i in range(len(self._conns))]

    def _receive(self, worker: int, kind: type[_M]) -> _M:
        try:
            message = self._conns[worker].recv()
        except EOFError:
            self._processes[worker].join(1.0)
            code = self._processes[worker].exitcode
            raise FleetError(f"worker {worker} exited (code {code})") from None
        if isinstance(message, WorkerFailed):
            raise FleetError(f"worker {message.worker} failed: {message.message}")
        if not isinstance(message, kind):
            raise FleetError(f"worker {worker} sent {message!r}, expected {kind.__name__}")
        return message

    def sleep_until(self, at: float) -> None:
        """Sleep, but raise `FleetError` as soon as a worker fails or dies, and return early
        once every worker has finished.

        A worker with no booted charger (or, in idle mode with reconnect, whose chargers are all
        back) finishes early; its `WorkerDone` is kept for `collect()`.
        """
        while (remaining := at - time.monotonic()) > 0 and len(self._early) < len(self._conns):
            listening = [c for i, c in enumerate(self._conns) if i not in self._early]
            if not wait(listening, remaining):
                continue
            for worker, conn in enumerate(self._conns):
                if worker not in self._early and conn.poll():
                    self._early[worker] = self._receive(worker, WorkerDone)

    def close(self, grace: float = EXIT_GRACE) -> None:
        """Tell every worker to stop and wait `grace` seconds for each before terminating it."""
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(Stop())
        for process in self._processes:
            # After a complete run the workers are exiting (idle ones closing their chargers);
            # after a failure the parent must not wait for traffic nobody will read.
            process.join(grace)
            if process.is_alive():
                process.terminate()
                process.join(2.0)
            if process.is_alive():
                process.kill()
                process.join()
            process.close()
        for conn in self._conns:
            conn.close()


def run_load(config: LoadConfig, hooks: LoadHooks | None = None) -> LoadResult:
    """Run one bounded load run and return the merged result.

    Raises `RemoteTargetRefused` for a non-loopback host without `allow_remote`, and
    `FleetError` when a worker fails. Blocks for about ramp + boot + warm-up + duration.
    """
    reports, connect_seconds = _run_workers(config, hooks or LoadHooks())
    return merge_reports(config, reports, connect_seconds=connect_seconds)


def run_idle(config: LoadConfig, hooks: LoadHooks | None = None) -> IdleResult:
    """`run_load` for idle mode, with the idle chargers' transactions and reconnects.

    With `config.reconnect` it returns as soon as every charger is back from a lost connection
    (or at the window end): a hook at the window start may restart the server.
    """
    if config.mode is not LoadMode.IDLE:
        raise ValueError("run_idle needs idle mode")
    reports, connect_seconds = _run_workers(config, hooks or LoadHooks())
    idle = [r for r in reports if isinstance(r, IdleWorkerReport)]
    lost: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for report in idle:
        lost.update(report.lost)
        failures.update(report.reconnect_failures)
    return IdleResult(
        load=merge_reports(config, reports, connect_seconds=connect_seconds),
        transactions=sorted(t for r in idle for t in r.transactions),
        lost=dict(sorted(lost.items())),
        reconnected_at=sorted(t for r in idle for t in r.reconnected_at),
        reconnect_failures=dict(sorted(failures.items())),
    )


def _run_workers(config: LoadConfig, hooks: LoadHooks) -> tuple[list[WorkerReport], float]:
    """The workers' reports and the seconds from the connect ramp's start to the last boot."""
    ensure_target_allowed(config.host, allow_remote=config.allow_remote)
    pool = _WorkerPool(config)
    grace = EXIT_GRACE
    try:
        pool.collect(WorkerReady, time.monotonic() + STARTUP_TIMEOUT)
        connect_at = time.monotonic() + LEAD_TIME
        pool.broadcast(StartConnecting(connect_at))
        boot_deadline = connect_at + config.ramp_seconds() + config.boot_timeout + PHASE_SLACK
        booted = pool.collect(FleetBooted, boot_deadline)
        last = [b.boot.last_booted_at for b in booted if b.boot.last_booted_at is not None]
        connect_seconds = (max(last) if last else time.monotonic()) - connect_at
        _call(hooks.on_fleet_ready)

        start_at = time.monotonic() + LEAD_TIME
        window_start = start_at + config.warmup
        window_end = window_start + config.duration
        total_lanes = sum(b.boot.booted for b in booted) * config.concurrency
        first_lane = 0
        for worker, fleet in enumerate(booted):
            pool.send(
                worker,
                StartTraffic(start_at, window_start, window_end, first_lane, total_lanes),
            )
            first_lane += fleet.boot.booted * config.concurrency
        pool.sleep_until(window_start)
        _call(hooks.on_window_start)
        pool.sleep_until(window_end)
        _call(hooks.on_window_end)
        # Saturate mode waits at most one call timeout after the window, rate mode two (the
        # last sends may start up to one call timeout late), then the sockets close.
        done_deadline = window_end + 2 * config.call_timeout + CLOSE_TIMEOUT + PHASE_SLACK
        done = pool.collect(WorkerDone, done_deadline)
        grace = CLOSE_TIMEOUT + EXIT_GRACE
    finally:
        pool.close(grace)
    return [d.report for d in done], connect_seconds


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks stop the workers (and servers)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handle)


def build_parser() -> argparse.ArgumentParser:
    """The `python -m sim.loadgen` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sim.loadgen", description="OCPP 1.6 load driver (bounded, loopback only)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="OCPP websocket port")
    parser.add_argument("--path", default="/ocpp/", help="URL path before the station id")
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--prefix", default="SIM", help="station ids are PREFIX + 6 digits")
    parser.add_argument("--mode", choices=[m.value for m in LoadMode], default="saturate")
    parser.add_argument("--rate", type=float, help="rate mode: total CALLs per second")
    parser.add_argument("--concurrency", type=int, default=1, help="CALLs in flight per charger")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds, not measured")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--connect-rate", type=float, help="new connections per second")
    parser.add_argument("--call-timeout", type=float, default=10.0)
    parser.add_argument("--boot-timeout", type=float, default=60.0)
    parser.add_argument("--meter-values", type=int, default=8, help="MeterValues per session")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--heartbeat-interval", type=float, default=300.0, help="idle mode: seconds"
    )
    parser.add_argument(
        "--open-transactions",
        type=float,
        default=0.0,
        help="idle mode: share of chargers that start a transaction after booting",
    )
    parser.add_argument(
        "--reconnect",
        action="store_true",
        help="idle mode: lost chargers reconnect (random backoff), send a Heartbeat, and stop",
    )
    parser.add_argument("--reconnect-backoff", type=float, default=1.0, help="seconds")
    parser.add_argument("--reconnect-backoff-max", type=float, default=4.0, help="seconds")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback host")
    parser.add_argument("--output", help="also write the JSON result to this file")
    return parser


def config_from_args(args: argparse.Namespace) -> LoadConfig:
    """Build a `LoadConfig` from parsed command-line arguments."""
    return LoadConfig(
        host=args.host,
        port=args.port,
        path=args.path,
        stations=args.stations,
        workers=args.workers,
        prefix=args.prefix,
        mode=LoadMode(args.mode),
        rate=args.rate,
        concurrency=args.concurrency,
        warmup=args.warmup,
        duration=args.duration,
        connect_rate=args.connect_rate,
        call_timeout=args.call_timeout,
        boot_timeout=args.boot_timeout,
        meter_values_per_session=args.meter_values,
        allow_remote=args.allow_remote,
        seed=args.seed,
        heartbeat_interval=args.heartbeat_interval,
        open_transactions=args.open_transactions,
        reconnect=args.reconnect,
        reconnect_backoff=args.reconnect_backoff,
        reconnect_backoff_max=args.reconnect_backoff_max,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 for refused or bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        ensure_target_allowed(config.host, allow_remote=config.allow_remote)
    except (ValueError, RemoteTargetRefused) as exc:
        parser.error(str(exc))
    exit_on_sigterm()
    try:
        if config.mode is LoadMode.IDLE:
            idle = run_idle(config)
            data = {**idle.load.to_dict(), "idle": idle.summary()}
            text = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        else:
            text = run_load(config).to_json()
    except FleetError as exc:
        print(f"load run failed: {exc}", file=sys.stderr)
        return 1
    if args.output:
        with open(args.output, "wb") as file:
            file.write(text + b"\n")
    sys.stdout.write(text.decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
