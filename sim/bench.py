"""Benchmark harness: the load driver against voltmesh and/or the baseline server.

    python -m sim.bench --server voltmesh --server baseline --runs 3 --output bench-results

For every run, scenario and server (servers alternate so that drift on the machine hits both
alike) it starts the server as a subprocess on free loopback ports, waits until it is ready,
runs the load driver in worker processes, and samples the server's process tree in `/proc`:
RSS once the fleet is connected and idle, CPU time at the start and end of the measured window.
It prints medians as a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from sim.benchreport import RunRecord, markdown_table, summarize
from sim.config import LoadConfig, LoadMode
from sim.errors import SimError
from sim.fdlimit import raise_open_file_limit
from sim.loadgen import LoadHooks, exit_on_sigterm, run_load
from sim.procstat import tree_cpu_seconds, tree_rss_bytes
from sim.servers import HOST, ServerKind, ServerProcess, register_id_tags
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


# Session lanes per charger whose tags are registered (the bench runs one call in flight per charger).
MAX_LANES = 2


def run_once(kind: ServerKind, scenario: Scenario, run: int, options: BenchOptions) -> RunRecord:
    """Start a fresh server, load it, sample it, stop it."""
    log_dir = options.output or Path(tempfile.gettempdir())
    log_path = log_dir / f"{kind.value}-{scenario.slug}-run{run}.server.log"
    server = ServerProcess(kind, log_path=log_path)
    samples: dict[str, float] = {}
    with server:
        pid = server.pid
        if server.api_port is not None:
            register_id_tags(
                server.host,
                server.api_port,
                (
                    fleet_id_tag(index, lane)
                    for index in range(options.stations)
                    for lane in range(MAX_LANES)
                ),
            )

        def fleet_ready() -> None:
            time.sleep(options.idle_settle)
            samples["rss"] = tree_rss_bytes(pid)

        def window_start() -> None:
            samples["cpu_start"] = tree_cpu_seconds(pid)

        def window_end() -> None:
            samples["cpu_end"] = tree_cpu_seconds(pid)

        config = LoadConfig(
            host=HOST,
            port=server.ocpp_port,
            stations=options.stations,
            workers=options.workers,
            mode=scenario.mode,
            rate=scenario.rate,
            warmup=options.warmup,
            duration=options.duration,
            connect_rate=options.connect_rate,
            call_timeout=options.call_timeout,
            boot_timeout=options.boot_timeout,
        )
        result = run_load(config, LoadHooks(fleet_ready, window_start, window_end))
        argv = server.argv()
    record = RunRecord(
        server=kind.value,
        scenario=scenario.label,
        run=run,
        result=result,
        cpu_seconds=round(samples["cpu_end"] - samples["cpu_start"], 3),
        rss_bytes=int(samples["rss"]),
        server_exit_code=server.exit_code,
        server_argv=argv,
    )
    if options.output is not None:
        path = options.output / f"{kind.value}-{scenario.slug}-run{run}.json"
        path.write_bytes(orjson.dumps(record.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        log_path.unlink(missing_ok=True)
    return record


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    kinds = [ServerKind(v) for v in dict.fromkeys(args.server or ["voltmesh", "baseline"])]
    modes = [LoadMode(v) for v in dict.fromkeys(args.mode or ["saturate", "rate"])]
    scenarios = [Scenario(m, args.rate if m is LoadMode.RATE else None) for m in modes]
    options = BenchOptions(
        stations=args.stations,
        workers=args.workers,
        warmup=args.warmup,
        duration=args.duration,
        connect_rate=args.connect_rate,
        call_timeout=args.call_timeout,
        boot_timeout=args.boot_timeout,
        output=args.output,
    )
    if options.output is not None:
        options.output.mkdir(parents=True, exist_ok=True)
    # The servers inherit the lifted limit: a thousand chargers need a thousand sockets.
    raise_open_file_limit()
    exit_on_sigterm()
    command = shlex.join(["python", "-m", "sim.bench", *args_list])
    records: list[RunRecord] = []
    started = time.monotonic()
    try:
        for run in range(1, args.runs + 1):
            for scenario in scenarios:
                for kind in kinds:
                    record = run_once(kind, scenario, run, options)
                    records.append(record)
                    print(
                        f"[{time.monotonic() - started:5.0f} s] {kind.value} {scenario.label} "
                        f"run {run}: {record.result.msgs_per_s:.0f} msgs/s, "
                        f"cpu {record.cpu_us_per_msg or 0:.0f} µs/msg, "
                        f"failures {record.failures}",
                        file=sys.stderr,
                        flush=True,
                    )
    except SimError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    notes = [
        f"{args.stations} stations, {options.workers} load worker(s), warm-up {args.warmup:g} s, "
        f"measured {args.duration:g} s, medians of {args.runs} run(s).",
        f"Machine: {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}.",
    ]
    bad_exits = [r for r in records if r.server_exit_code != 0]
    if bad_exits:
        codes = sorted({str(r.server_exit_code) for r in bad_exits})
        notes.append(
            f"Warning: the server did not exit cleanly after SIGTERM in {len(bad_exits)} run(s) "
            f"(exit codes {', '.join(codes)})."
        )
    table = markdown_table(summarize(records), command=command, notes=notes)
    if options.output is not None:
        (options.output / "summary.md").write_text(table)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
