"""Benchmark harness: load runs of the fleet's stations against voltmesh and/or the baseline server.

    python -m sim.bench --server voltmesh --server baseline --runs 3 --output bench-results
    python -m sim.bench --memory 1000 --memory 10000 --reconnect 5000 --runs 3
    python -m sim.bench --server voltmesh --tls --reconnect 5000 --runs 3

For every run, scenario and server (servers alternate so that drift on the machine hits both
alike) it starts the server as a subprocess on free loopback ports, waits until it is ready,
runs a load run (`sim.fleet.conductor`) in worker processes, and samples the server's process
tree in `/proc`. It prints medians as Markdown tables for BENCHMARKS.md.

- Throughput (`--mode`): RSS once the fleet is connected and idle, CPU time at the start and
  end of the measured window.
- Memory (`--memory N`): RSS once the server is ready, and again once N chargers (idle mode)
  have connected along a ramp, booted and stayed idle for `--idle-settle` seconds; the
  difference divided by N is the memory a connected idle station costs. The fleet then stays
  idle for `--idle-window` seconds, each charger sending a Heartbeat every
  `--heartbeat-interval` seconds (the first at a random offset): their round trips (p50, p99,
  max) and the server's CPU over that window (percent of one core) are the idle fleet's table.
- Reconnect storm (`--reconnect N`): N idle chargers connect and boot (a share of them start a
  transaction and keep it open); the server gets SIGTERM and, once it has exited, starts again on
  the same ports and data directory. Each charger reconnects with a random backoff; it is *back*
  when its websocket is open and its first Heartbeat is answered (no BootNotification: a real
  charger does not reboot because its central system restarted). The run ends when every
  charger is back or after `--reconnect-timeout` seconds. voltmesh is then asked through its
  REST API for every transaction it had answered for.

With `--tls` (voltmesh only) every measurement runs twice in a row, over ws and then over wss: the
harness makes a throwaway CA and a server certificate for 127.0.0.1 (`sim.certs`), voltmesh serves
wss with it beside ws, and the chargers of the second run connect over wss trusting that CA. The
tables then have a `voltmesh` and a `voltmesh wss` row and a table of the wss/ws ratios. The load
workers of a `--tls` invocation run on asyncio's own event loop, over ws and wss alike (see
`sim.fleet.load.EventLoop`: uvloop's transports fail in a storm of TLS reconnects); `--load-loop`
chooses.

A fleet larger than one source address's ephemeral ports (28,232 by default, of which half are
used, leaving room for reconnects) connects from as many loopback addresses 127.0.0.1, 127.0.0.2,
... as it needs; `--source-addresses K` chooses K. The harness lifts its open-file limit, which
the server inherits: the soft limit to the hard one, and the hard one to the largest fleet and a
reserve where the process may (CAP_SYS_RESOURCE). A server process holds at most that many
sockets; voltmesh spreads its chargers over its shard processes (`VOLTMESH_SHARDS`, default one
per CPU), each with the limit.

    python -m sim.bench --server voltmesh --server baseline --memory 20000 --heartbeat-interval 60
    VOLTMESH_SHARDS=3 python -m sim.bench --server voltmesh --memory 50000 --runs 1
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from sim.benchreport import (
    MemoryRecord,
    ReconnectRecord,
    RunRecord,
    idle_table,
    marginal_kib_per_station,
    markdown_table,
    memory_table,
    preamble,
    reconnect_table,
    summarize,
    summarize_memory,
    summarize_reconnect,
)
from sim.certs import ServerTls, make_server_tls
from sim.errors import SimError
from sim.fdlimit import raise_open_file_limit
from sim.fleet.conductor import LoadHooks, LoadRun, run_load
from sim.fleet.figures import markdown_row, number, ratio
from sim.fleet.load import EventLoop, LoadMode, LoadShape
from sim.fleet.sources import (
    LOOPBACK_SOURCES_MAX,
    add_source_addresses_option,
    ephemeral_port_count,
    loopback_sources,
    sources_for,
)
from sim.loadgen import exit_on_sigterm
from sim.procstat import tree_cpu_seconds, tree_rss_bytes
from sim.servers import (
    HOST,
    Restart,
    ServerKind,
    ServerProcess,
    check_transactions,
    register_id_tags,
)
from sim.traffic import fleet_id_tag


@dataclass(frozen=True, slots=True)
class Scenario:
    """One load shape."""

    mode: LoadMode
    """Pacing."""
    rate: float | None
    """Offered CALLs per second in rate mode."""

    @property
    def label(self) -> str:
        """Name in tables and file names."""
        if self.mode is LoadMode.RATE:
            return f"rate {self.rate:g}/s"
        return str(self.mode.value)

    @property
    def slug(self) -> str:
        """File-name friendly label."""
        return self.mode.value if self.rate is None else f"rate{self.rate:g}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchOptions:
    """Settings shared by every run of one invocation."""

    stations: int
    """Simulated chargers."""
    workers: int
    """Load-driver worker processes."""
    warmup: float
    """Seconds of unmeasured traffic."""
    duration: float
    """Seconds of the measured window."""
    connect_rate: float | None
    """Connect ramp, connections per second."""
    call_timeout: float
    """Seconds before a CALL counts as timed out."""
    boot_timeout: float
    """Seconds the fleet may take to boot."""
    output: Path | None
    """Directory for per-run JSON and server logs."""
    idle_settle: float = 1.0
    """Seconds the booted fleet stays idle before the server's RSS is read."""
    event_loop: EventLoop = EventLoop.UVLOOP
    """The load workers' event loop."""
    source_addresses: int | None = None
    """Loopback addresses the chargers connect from; None: as many as the fleet needs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleOptions:
    """Settings of the memory and reconnect measurements."""

    connect_rate: float = 250.0
    """Connect ramp over the whole fleet, connections per second: slow enough that on two shared
    cores neither server falls far behind with the boot sequences."""
    stations_per_worker: int = 2500
    """Load-driver workers: one per this many chargers."""
    settle: float = 5.0
    """Seconds the booted fleet stays idle before the server's RSS is read."""
    heartbeat_interval: float = 300.0
    """Seconds between an idle charger's Heartbeats (voltmesh's and the baseline's interval)."""
    idle_window: float = 60.0
    """Memory: seconds the fleet stays idle after the RSS sample, its Heartbeats and the server's
    CPU measured."""
    open_transactions: float = 0.1
    """Reconnect storm: share of the chargers that hold an open transaction across it."""
    reconnect_timeout: float = 90.0
    """Seconds after the restart's SIGTERM by which every charger must be back."""
    reconnect_backoff: float = 1.0
    """Seconds; a charger's first reconnect attempt waits a random time up to this."""
    reconnect_backoff_max: float = 4.0
    """Seconds; each failed attempt doubles the backoff, up to this."""
    call_timeout: float = 30.0
    """Seconds before a CALL (or a reconnect attempt) counts as failed; generous, because a
    charger that gives up on a slow server and retries only adds to the storm."""
    boot_timeout: float = 60.0
    """Seconds the fleet may take to boot, on top of the connect ramp."""
    output: Path | None = None
    """Directory for per-run JSON and server logs."""
    event_loop: EventLoop = EventLoop.UVLOOP
    """The load workers' event loop."""
    source_addresses: int | None = None
    """Loopback addresses the chargers connect from; None: as many as the fleet needs."""

    def workers(self, stations: int) -> int:
        """Load-driver worker processes for a fleet of `stations`."""
        return max(1, math.ceil(stations / self.stations_per_worker))


READY_SETTLE = 1.0
"""Seconds a freshly ready server idles before its RSS is read as the baseline."""
RESTART_WARMUP = 1.0
"""Seconds the booted fleet idles before the restart."""
FD_RESERVE = 4096
"""Open files the harness asks for beyond the largest fleet: the server's own (stores,
listeners, a reserve it keeps for refusing connections) on top of one per charger."""
WSS = "wss"
"""Suffix of a server's label in the tables when its chargers connect over wss."""


def _label(kind: ServerKind, tls: ServerTls | None) -> str:
    """The server's name in tables and file names: `voltmesh`, or `voltmesh wss` over TLS."""
    return kind.value if tls is None else f"{kind.value} {WSS}"


def _tls_ca(tls: ServerTls | None) -> str | None:
    return None if tls is None else str(tls.ca_cert)


def _sources(count: int | None) -> tuple[str, ...]:
    """The chargers' source addresses: () lets the load run choose as many as it needs."""
    return () if count is None else loopback_sources(count)


def run_once(
    kind: ServerKind,
    scenario: Scenario,
    run: int,
    options: BenchOptions,
    tls: ServerTls | None = None,
) -> RunRecord:
    """Start a fresh server, load it (over wss with ``tls``), sample it, stop it."""
    label = _label(kind, tls)
    name = f"{label.replace(' ', '-')}-{scenario.slug}-run{run}"
    log_path = _log_path(options.output, name)
    server = ServerProcess(kind, log_path=log_path, tls=tls)
    samples: dict[str, float] = {}
    with server:
        pid = server.pid
        if server.api_port is not None:
            register_id_tags(
                server.host,
                server.api_port,
                (fleet_id_tag(i, 0) for i in range(options.stations)),
                token=server.api_token,
            )

        def fleet_ready() -> None:
            time.sleep(options.idle_settle)
            samples["rss"] = tree_rss_bytes(pid)

        def window_start() -> None:
            samples["cpu_start"] = tree_cpu_seconds(pid)

        def window_end() -> None:
            samples["cpu_end"] = tree_cpu_seconds(pid)

        run_ = LoadRun(
            host=HOST,
            port=server.load_port,
            stations=options.stations,
            workers=options.workers,
            warmup=options.warmup,
            duration=options.duration,
        )
        shape = LoadShape(
            mode=scenario.mode,
            rate=scenario.rate,
            connect_rate=options.connect_rate,
            call_timeout=options.call_timeout,
            boot_timeout=options.boot_timeout,
            tls_ca=_tls_ca(tls),
            event_loop=options.event_loop,
            source_addresses=_sources(options.source_addresses),
        )
        result = run_load(run_, shape, LoadHooks(fleet_ready, window_start, window_end))
        argv = server.argv()
    record = RunRecord(
        server=label,
        scenario=scenario.label,
        run=run,
        result=result,
        cpu_seconds=round(samples["cpu_end"] - samples["cpu_start"], 3),
        rss_bytes=int(samples["rss"]),
        server_exit_code=server.exit_code,
        server_argv=argv,
    )
    _finish(options.output, name, log_path, record.to_dict())
    return record


def _log_path(output: Path | None, name: str) -> Path:
    return (output or Path(tempfile.gettempdir())) / f"{name}.server.log"


def _finish(output: Path | None, name: str, log_path: Path, data: dict[str, object]) -> None:
    """Write the per-run JSON next to the server log, or drop the log."""
    if output is not None:
        path = output / f"{name}.json"
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        log_path.unlink(missing_ok=True)


def measure_memory(
    kind: ServerKind, stations: int, run: int, options: IdleOptions, tls: ServerTls | None = None
) -> MemoryRecord:
    """RSS of a fresh server before any charger and with `stations` connected and idle (over
    wss with ``tls``), then the idle fleet's Heartbeats and the server's CPU over the idle
    window."""
    label = _label(kind, tls)
    name = f"{label.replace(' ', '-')}-memory{stations}-run{run}"
    log_path = _log_path(options.output, name)
    server = ServerProcess(kind, log_path=log_path, tls=tls)
    samples: dict[str, float] = {}
    with server:
        pid = server.pid
        time.sleep(READY_SETTLE)
        rss_before = tree_rss_bytes(pid)

        def fleet_idle() -> None:
            time.sleep(options.settle)
            samples["rss"] = tree_rss_bytes(pid)

        def window_start() -> None:
            samples["cpu_start"] = tree_cpu_seconds(pid)

        def window_end() -> None:
            samples["cpu_end"] = tree_cpu_seconds(pid)

        run_ = LoadRun(
            host=HOST,
            port=server.load_port,
            stations=stations,
            workers=options.workers(stations),
            warmup=0.0,
            duration=options.idle_window,
        )
        shape = LoadShape(
            mode=LoadMode.IDLE,
            connect_rate=options.connect_rate,
            call_timeout=options.call_timeout,
            boot_timeout=options.boot_timeout,
            heartbeat_interval=options.heartbeat_interval,
            tls_ca=_tls_ca(tls),
            event_loop=options.event_loop,
            source_addresses=_sources(options.source_addresses),
        )
        idle = run_load(run_, shape, LoadHooks(fleet_idle, window_start, window_end))
        argv = server.argv()
    record = MemoryRecord(
        server=label,
        stations=stations,
        run=run,
        booted=idle.booted,
        rss_before_bytes=rss_before,
        rss_after_bytes=int(samples["rss"]),
        connect_seconds=idle.connect_seconds,
        boot_failures=idle.boot_failures,
        lost=idle.lost,
        idle_seconds=options.idle_window,
        heartbeats=idle.messages,
        heartbeat_ms=idle.latency_ms,
        heartbeat_failures=idle.timeouts + sum(idle.errors.values()),
        idle_cpu_seconds=round(samples["cpu_end"] - samples["cpu_start"], 3),
        server_exit_code=server.exit_code,
        server_argv=argv,
    )
    _finish(options.output, name, log_path, record.to_dict())
    return record


def measure_reconnect(
    kind: ServerKind, stations: int, run: int, options: IdleOptions, tls: ServerTls | None = None
) -> ReconnectRecord:
    """Restart a server under `stations` idle chargers (over wss with ``tls``: every reconnect
    is a full TLS handshake) and time until they are all back."""
    label = _label(kind, tls)
    name = f"{label.replace(' ', '-')}-reconnect{stations}-run{run}"
    log_path = _log_path(options.output, name)
    server = ServerProcess(kind, log_path=log_path, tls=tls)
    run_ = LoadRun(
        host=HOST,
        port=server.load_port,
        stations=stations,
        workers=options.workers(stations),
        warmup=RESTART_WARMUP,
        duration=options.reconnect_timeout,
    )
    shape = LoadShape(
        mode=LoadMode.IDLE,
        connect_rate=options.connect_rate,
        call_timeout=options.call_timeout,
        boot_timeout=options.boot_timeout,
        heartbeat_interval=options.heartbeat_interval,
        open_transactions=options.open_transactions,
        reconnect=True,
        reconnect_backoff=options.reconnect_backoff,
        reconnect_backoff_max=options.reconnect_backoff_max,
        tls_ca=_tls_ca(tls),
        event_loop=options.event_loop,
        source_addresses=_sources(options.source_addresses),
    )
    restarts: list[Restart] = []
    cpu: dict[str, float] = {}
    overflows = _listen_overflows()
    with server:
        if server.api_port is not None:
            tags = (fleet_id_tag(i, 0) for i in range(stations) if shape.opens_transaction(i))
            register_id_tags(server.host, server.api_port, tags, token=server.api_token)

        def restart() -> None:
            restarts.append(server.restart())
            cpu["start"] = tree_cpu_seconds(server.pid)

        def all_back() -> None:
            cpu["end"] = tree_cpu_seconds(server.pid)

        idle = run_load(run_, shape, LoadHooks(on_window_start=restart, on_window_end=all_back))
        overflows_after = _listen_overflows()
        checked = None
        if server.api_port is not None:
            checked = check_transactions(
                server.host, server.api_port, idle.transactions, token=server.api_token
            )
        argv = server.argv()
    (restarted,) = restarts
    back = [t - restarted.ready_at for t in idle.back_at]
    record = ReconnectRecord(
        server=label,
        stations=stations,
        run=run,
        booted=idle.booted,
        lost=idle.lost,
        back=len(back),
        drain_seconds=round(restarted.exited_at - restarted.sigterm_at, 3),
        down_seconds=round(restarted.ready_at - restarted.sigterm_at, 3),
        back_p50=round(statistics.median(back), 3) if back else None,
        back_max=round(back[-1], 3) if back else None,
        back_percentiles={
            f"p{p}": round(back[math.ceil(p / 100 * len(back)) - 1], 3)
            for p in (10, 25, 50, 75, 90, 95, 99)
            if back
        },
        reconnect_failures=idle.reconnect_failures,
        server_cpu_seconds=round(cpu["end"] - cpu["start"], 3),
        listen_overflows=(
            None if overflows is None or overflows_after is None else overflows_after - overflows
        ),
        transactions=len(idle.transactions),
        transaction_check=checked,
        restart_exit_code=restarted.exit_code,
        server_exit_code=server.exit_code,
        server_argv=argv,
    )
    _finish(options.output, name, log_path, record.to_dict())
    return record


def _markdown(
    command: str,
    notes: list[str],
    records: Sequence[RunRecord],
    memory: Sequence[MemoryRecord],
    storms: Sequence[ReconnectRecord],
) -> str:
    """Every table of one invocation, after the command and the notes."""
    exits: list[tuple[str, int | None]] = [
        *((r.server, r.server_exit_code) for r in records),
        *((r.server, r.server_exit_code) for r in memory),
        *((r.server, r.server_exit_code) for r in storms),
        *((r.server, r.restart_exit_code) for r in storms),
    ]
    bad_exits = [f"{server} {code}" for server, code in exits if code != 0]
    if bad_exits:
        notes = [
            *notes,
            f"Warning: the server did not exit cleanly after SIGTERM {len(bad_exits)} time(s) "
            f"(exit codes {', '.join(sorted(set(bad_exits)))}).",
        ]
    if records:
        text = markdown_table(summarize(records), command=command, notes=notes)
    else:
        text = "\n".join(preamble(command, notes))
    if memory:
        rows = summarize_memory(memory)
        text += "\nResident memory per connected idle station:\n\n" + memory_table(rows)
        marginal = marginal_kib_per_station(rows)
        if marginal:
            text += "\nGrowth per extra station between the smallest and the largest fleet: "
            text += ", ".join(f"{server} {kib:.1f} KiB" for server, kib in marginal.items())
            text += ".\n"
        text += (
            "\nThe idle fleet after the memory sample (Heartbeat round trips from their "
            "scheduled send; server CPU over the idle window):\n\n" + idle_table(rows)
        )
    if storms:
        text += (
            "\nReconnect storm (seconds from the new server's readiness unless named; a station "
            "is back when its websocket is open and its first Heartbeat answered; listen "
            "overflows: the kernel's machine-wide count of connections an accept queue "
            "dropped):\n\n" + reconnect_table(summarize_reconnect(storms))
        )
    comparison = tls_comparison(records, storms)
    if comparison:
        text += "\nwss against ws (medians; wss/ws the ratio of the medians):\n\n" + comparison
    return text


def tls_comparison(records: Sequence[RunRecord], storms: Sequence[ReconnectRecord]) -> str:
    """For every server measured over both ws and wss (`--tls`), a table of the figures the
    transport changes, over ws, over wss and their ratio; "" when nothing was measured twice."""
    rows: list[str] = []

    def add(scenario: str, figure: str, ws: float | None, wss: float | None, digits: int) -> None:
        rows.append(
            markdown_row(
                [scenario, figure, number(ws, digits), number(wss, digits), ratio(wss, ws)]
            )
        )

    for row in summarize(records):
        over_wss = f"{row.server} {WSS}"
        twin = next(
            (r for r in summarize(records) if r.server == over_wss and r.scenario == row.scenario),
            None,
        )
        if twin is None:
            continue
        where = f"{row.server} {row.scenario}"
        add(where, "msgs/s", row.msgs_per_s, twin.msgs_per_s, 0)
        add(where, "p50 ms", row.p50_ms, twin.p50_ms, 1)
        add(where, "p99 ms", row.p99_ms, twin.p99_ms, 1)
        add(where, "server CPU µs/msg", row.cpu_us_per_msg, twin.cpu_us_per_msg, 1)
    for storm in summarize_reconnect(storms):
        over_wss = f"{storm.server} {WSS}"
        others = [r for r in summarize_reconnect(storms) if r.stations == storm.stations]
        twin_storm = next((r for r in others if r.server == over_wss), None)
        if twin_storm is None:
            continue
        where = f"{storm.server} reconnect {storm.stations:,}"
        add(where, "all back s", storm.back_max, twin_storm.back_max, 1)
        add(where, "p50 back s", storm.back_p50, twin_storm.back_p50, 1)
        add(where, "server CPU s", storm.server_cpu_seconds, twin_storm.server_cpu_seconds, 2)
        add(
            where,
            "server CPU ms per reconnect",
            _cpu_ms_per_reconnect(storms, storm.server, storm.stations),
            _cpu_ms_per_reconnect(storms, over_wss, storm.stations),
            2,
        )
    if not rows:
        return ""
    header = ["| measurement | figure | ws | wss | wss/ws |", "|---|---|---:|---:|---:|"]
    return "\n".join(header + rows) + "\n"


def _cpu_ms_per_reconnect(
    storms: Sequence[ReconnectRecord], server: str, stations: int
) -> float | None:
    """Median over the runs of the new server's CPU from readiness until all were back, divided
    by the stations that came back (each one connection, upgrade and Heartbeat)."""
    per_run = [
        1000.0 * r.server_cpu_seconds / r.back
        for r in storms
        if r.server == server and r.stations == stations and r.back
    ]
    return statistics.median(per_run) if per_run else None


def _listen_overflows() -> int | None:
    """The kernel's TcpExt ListenOverflows counter (`/proc/net/netstat`), None if unreadable."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            row = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(row["ListenOverflows"]) if "ListenOverflows" in row else None
    return None


def _source_note(count: int | None, largest: int, ports: int | None) -> str:
    """Where the chargers connected from, for the notes."""
    addresses = _sources(count) or sources_for(largest, ports)
    if not addresses:
        return "Chargers connect from 127.0.0.1."
    if count is None:
        return (
            f"Chargers connect from {addresses[0]} ... {addresses[-1]} where a fleet needs "
            f"them ({ports:,} ephemeral ports per address, half of them used)."
        )
    return f"Chargers connect from {addresses[0]} ... {addresses[-1]}."


def load_event_loop(choice: str | None, *, tls: bool) -> EventLoop:
    """The load workers' event loop: ``choice`` if given, else asyncio's for a ``tls`` invocation
    (over ws as over wss, so that the wss/ws ratios compare the transports only) and uvloop
    otherwise."""
    if choice is not None:
        return EventLoop(choice)
    return EventLoop.ASYNCIO if tls else EventLoop.UVLOOP


def build_parser() -> argparse.ArgumentParser:
    """The `python -m sim.bench` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sim.bench",
        description="Benchmark voltmesh and the baseline on 127.0.0.1; prints a Markdown table.",
    )
    parser.add_argument(
        "--server",
        action="append",
        choices=[k.value for k in ServerKind],
        help="server under test; repeat for both (default: voltmesh and baseline)",
    )
    parser.add_argument(
        "--mode",
        action="append",
        choices=[m.value for m in LoadMode],
        help="scenario; repeat for both (default: saturate and rate)",
    )
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2000.0, help="rate scenario, CALLs/s")
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument("--workers", type=int, default=1, help="load-driver worker processes")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--connect-rate", type=float, help="connections per second")
    parser.add_argument("--call-timeout", type=float, default=5.0)
    parser.add_argument("--boot-timeout", type=float, default=30.0)
    parser.add_argument("--output", type=Path, help="directory for per-run JSON and summary.md")
    idle = parser.add_argument_group("memory and reconnect storm (idle chargers)")
    idle.add_argument(
        "--memory",
        type=int,
        action="append",
        metavar="N",
        help="resident memory per idle station with N stations connected; repeat for sizes",
    )
    idle.add_argument(
        "--reconnect",
        type=int,
        action="append",
        metavar="N",
        help="reconnect storm: restart the server under N idle stations; repeat for sizes",
    )
    defaults = IdleOptions()
    idle.add_argument(
        "--idle-connect-rate",
        type=float,
        default=defaults.connect_rate,
        help="connect ramp of idle fleets, connections/s",
    )
    idle.add_argument(
        "--idle-settle",
        type=float,
        default=defaults.settle,
        help="seconds the idle fleet waits before the RSS sample",
    )
    idle.add_argument(
        "--stations-per-worker",
        type=int,
        default=defaults.stations_per_worker,
        help="idle fleets: one load worker per this many stations",
    )
    idle.add_argument(
        "--heartbeat-interval",
        type=float,
        default=defaults.heartbeat_interval,
        help="seconds between an idle station's Heartbeats",
    )
    idle.add_argument(
        "--idle-window",
        type=float,
        default=defaults.idle_window,
        help="memory: seconds the fleet stays idle after the RSS sample, its Heartbeats' round "
        "trips and the server's CPU measured",
    )
    idle.add_argument(
        "--open-transactions",
        type=float,
        default=defaults.open_transactions,
        help="reconnect storm: share of stations holding an open transaction",
    )
    add_source_addresses_option(parser)
    parser.add_argument(
        "--tls",
        action="store_true",
        help="voltmesh only: run every measurement over ws and then over wss (a throwaway CA and "
        "server certificate for 127.0.0.1) and compare them",
    )
    parser.add_argument(
        "--load-loop",
        choices=[loop.value for loop in EventLoop],
        help="the load workers' event loop (default: asyncio with --tls, whose storms of TLS "
        "handshakes uvloop's transports do not survive, else uvloop)",
    )
    idle.add_argument(
        "--reconnect-timeout",
        type=float,
        default=defaults.reconnect_timeout,
        help="reconnect storm: seconds after SIGTERM by which all must be back",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    default_servers = ["voltmesh"] if args.tls else ["voltmesh", "baseline"]
    kinds = [ServerKind(v) for v in dict.fromkeys(args.server or default_servers)]
    if args.tls and kinds != [ServerKind.VOLTMESH]:
        parser.error("--tls: only voltmesh serves wss (--server voltmesh)")
    memory_sizes = list(dict.fromkeys(args.memory or []))
    reconnect_sizes = list(dict.fromkeys(args.reconnect or []))
    if any(n < 1 for n in memory_sizes + reconnect_sizes):
        parser.error("--memory and --reconnect need at least 1 station")
    if args.heartbeat_interval <= 0 or args.idle_window <= 0:
        parser.error("--heartbeat-interval and --idle-window must be positive")
    if args.source_addresses is not None and not (
        1 <= args.source_addresses <= LOOPBACK_SOURCES_MAX
    ):
        parser.error(f"--source-addresses must be between 1 and {LOOPBACK_SOURCES_MAX}")
    # Throughput runs unless only idle measurements were asked for.
    default_modes = [] if memory_sizes or reconnect_sizes else ["saturate", "rate"]
    modes = [LoadMode(v) for v in dict.fromkeys(args.mode or default_modes)]
    if LoadMode.IDLE in modes:
        parser.error("--mode idle: use --memory or --reconnect")
    scenarios = [Scenario(m, args.rate if m is LoadMode.RATE else None) for m in modes]
    event_loop = load_event_loop(args.load_loop, tls=args.tls)
    idle_options = IdleOptions(
        connect_rate=args.idle_connect_rate,
        stations_per_worker=args.stations_per_worker,
        settle=args.idle_settle,
        heartbeat_interval=args.heartbeat_interval,
        idle_window=args.idle_window,
        open_transactions=args.open_transactions,
        reconnect_timeout=args.reconnect_timeout,
        output=args.output,
        event_loop=event_loop,
        source_addresses=args.source_addresses,
    )
    options = BenchOptions(
        stations=args.stations,
        workers=args.workers,
        warmup=args.warmup,
        duration=args.duration,
        connect_rate=args.connect_rate,
        call_timeout=args.call_timeout,
        boot_timeout=args.boot_timeout,
        output=args.output,
        event_loop=event_loop,
        source_addresses=args.source_addresses,
    )
    if options.output is not None:
        options.output.mkdir(parents=True, exist_ok=True)
    # The servers inherit the lifted limit: a thousand chargers need a thousand sockets.
    largest = max([args.stations if scenarios else 0, *memory_sizes, *reconnect_sizes])
    fd_limit = raise_open_file_limit(at_least=largest + FD_RESERVE)
    if fd_limit < largest + FD_RESERVE:
        # Not fatal: voltmesh spreads its chargers over its shard processes, each with the limit.
        print(
            f"warning: open-file limit {fd_limit} per process (the hard limit, which only a "
            f"privileged process raises) for {largest:,} stations: a single server process "
            "refuses connections beyond it",
            file=sys.stderr,
        )
    ports = ephemeral_port_count()
    addresses = args.source_addresses
    if ports is not None and addresses is not None and ports * addresses < 2 * largest:
        print(
            f"warning: {addresses} source address(es) of {ports} ports each for {largest} "
            "client sockets (and their reconnects)",
            file=sys.stderr,
        )
    exit_on_sigterm()
    command = shlex.join(["python", "-m", "sim.bench", *args_list])
    records: list[RunRecord] = []
    memory: list[MemoryRecord] = []
    storms: list[ReconnectRecord] = []
    started = time.monotonic()
    load_before = os.getloadavg()

    def progress(text: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {text}", file=sys.stderr, flush=True)

    certificates = tempfile.TemporaryDirectory(prefix="voltmesh-bench-tls-") if args.tls else None
    # ws then wss within each run, so that drift on the machine hits both transports alike.
    transports: list[ServerTls | None] = [None]
    if certificates is not None:
        transports.append(make_server_tls(Path(certificates.name)))
    servers = [(kind, tls) for kind in kinds for tls in transports]
    try:
        for run in range(1, args.runs + 1):
            for scenario in scenarios:
                for kind, tls in servers:
                    record = run_once(kind, scenario, run, options, tls)
                    records.append(record)
                    progress(
                        f"{record.server} {scenario.label} "
                        f"run {run}: {record.result.msgs_per_s:.0f} msgs/s, "
                        f"cpu {record.cpu_us_per_msg or 0:.0f} µs/msg, "
                        f"failures {record.failures}"
                    )
            for stations in memory_sizes:
                for kind, tls in servers:
                    mem = measure_memory(kind, stations, run, idle_options, tls)
                    memory.append(mem)
                    progress(
                        f"{mem.server} memory {stations} run {run}: "
                        f"{mem.rss_before_bytes / 2**20:.1f} -> {mem.rss_after_bytes / 2**20:.1f} "
                        f"MiB, {mem.kib_per_station or 0:.1f} KiB/station, "
                        f"failures {mem.failures}"
                    )
            for stations in reconnect_sizes:
                for kind, tls in servers:
                    storm = measure_reconnect(kind, stations, run, idle_options, tls)
                    storms.append(storm)
                    progress(
                        f"{storm.server} reconnect {stations} run {run}: down "
                        f"{storm.down_seconds:.1f} s, {storm.back}/{storm.booted} back "
                        f"{storm.back_max or 0:.1f} s after ready, tx "
                        f"{storm.transaction_check}, failures {storm.failures}"
                    )
    except SimError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if certificates is not None:
            certificates.cleanup()
    load_after = os.getloadavg()
    notes = []
    if scenarios:
        notes.append(
            f"Throughput: {args.stations} stations, {options.workers} load worker(s), "
            f"warm-up {args.warmup:g} s, measured {args.duration:g} s."
        )
    if memory_sizes or reconnect_sizes:
        notes.append(
            f"Idle fleets: connect ramp {idle_options.connect_rate:g}/s, one load worker per "
            f"{idle_options.stations_per_worker:,} stations, a Heartbeat every "
            f"{idle_options.heartbeat_interval:g} s."
        )
    if memory_sizes:
        notes.append(
            f"Memory: RSS read {READY_SETTLE:g} s after the server is ready and after the "
            f"booted fleet has been idle for {idle_options.settle:g} s; then Heartbeats and "
            f"server CPU over {idle_options.idle_window:g} s of idle fleet."
        )
    notes.append(_source_note(args.source_addresses, largest, ports))
    notes.append(f"Open-file limit {fd_limit:,} per process (server and load workers).")
    if ServerKind.VOLTMESH in kinds and (shards := os.environ.get("VOLTMESH_SHARDS")):
        notes.append(f"voltmesh with VOLTMESH_SHARDS={shards} (from the environment).")
    if reconnect_sizes:
        notes.append(
            f"Storms: {idle_options.open_transactions:.0%} of the stations hold an open "
            f"transaction; reconnect backoff random in 0-{idle_options.reconnect_backoff:g} s, "
            f"doubling to at most {idle_options.reconnect_backoff_max:g} s; limit "
            f"{idle_options.reconnect_timeout:g} s after SIGTERM."
        )
    if args.tls:
        notes.append(
            "wss: TLS to voltmesh's wss listener with an ECDSA P-256 server certificate from a "
            "throwaway CA; each run over ws is followed by the same run over wss."
        )
    if event_loop is not EventLoop.UVLOOP:
        notes.append(f"Load workers on the {event_loop.value} event loop.")
    notes += [
        f"Medians of {args.runs} run(s). Machine: {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after "
        f"({(time.monotonic() - started) / 60:.0f} min).",
    ]
    table = _markdown(command, notes, records, memory, storms)
    if options.output is not None:
        (options.output / "summary.md").write_text(table)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
