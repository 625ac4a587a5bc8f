"""The "ocpp-rpc mix": a third party's load, the same against every server, and the server CPU
each message of it costs.

    python -m sim.mix --server voltmesh --server baseline --server node --runs 3
    python -m sim.mix --server node --clients 1000 --seconds 20 --interval 1

The load is ``sim/node_baseline/load.js``: ``clients`` OCPP 1.6 chargers on the npm package
ocpp-rpc (its `RPCClient`, strict mode) connect in batches to ``ws://127.0.0.1:<port>/ocpp/<id>``,
boot, and then each sends every ``interval`` seconds a Heartbeat or a MeterValues, in turn (a
meter value of energy register, power and current, outside any transaction) for ``seconds``.
For every run, servers in turn so that drift on the machine hits them alike, it starts a fresh
server (`sim.servers.ServerProcess`; voltmesh accepts unknown stations, nothing is registered),
runs the load against it and reads the server's process tree CPU time in `/proc` when the load
reports its fleet ready and again when the last answer of the mix is in: the load waits for the
harness on its stdin at both points, so the window holds the mix and nothing else. CPU per
message is that CPU time over the answers (CALLRESULTs) in the window.

Prints a Markdown table of medians over the runs (msgs/s, server CPU µs per message, latency
p50/p99 as the chargers saw it) and, for voltmesh, its ratio to each other server. The servers:
`voltmesh`, `baseline` (the plain Python ``ocpp`` package server, stores nothing) and `node` (an
ocpp-rpc `RPCServer` in strict mode, stores nothing; ``npm ci`` installs it into
``sim/node_baseline/`` on first use). Loopback only; every stage is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sim import nodejs
from sim.benchreport import preamble
from sim.errors import SimError
from sim.fdlimit import raise_open_file_limit
from sim.fleet.figures import markdown_row, median, number, ratio, us_per_message
from sim.procstat import tree_cpu_seconds
from sim.servers import ServerKind, ServerProcess

DEFAULT_CLIENTS = 1000
DEFAULT_SECONDS = 20.0
DEFAULT_INTERVAL = 1.0
CONNECT_BOUND = 180.0
"""Seconds the load may take to connect and boot its fleet before the run fails."""
FINISH_BOUND = 90.0
"""Seconds past the mix itself for the last answers and the disconnect."""
MAX_ERROR_SHARE = 0.01
"""A run whose calls failed (CALLERROR or no answer) more often than this measures refusals,
not service: it fails."""


@dataclass(frozen=True, slots=True)
class MixRun:
    """One server, one repetition of the mix."""

    server: str
    run: int
    connected: int
    """Chargers that connected and booted."""
    answered: int
    """CALLRESULTs received during the mix."""
    errors: int
    """Calls of the mix answered by a CALLERROR or not at all."""
    seconds: float
    """Length of the mix as the load timed it."""
    cpu_seconds: float
    """The server's process tree CPU time over the mix."""
    p50_ms: float | None
    p99_ms: float | None

    @property
    def msgs_per_s(self) -> float:
        """Answers per second."""
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_msg(self) -> float | None:
        """Server CPU microseconds per answered message."""
        return us_per_message(self.cpu_seconds, self.answered)


@dataclass(frozen=True, slots=True)
class MixRow:
    """Medians over the runs of one server."""

    server: str
    runs: int
    msgs_per_s: float | None
    cpu_us_per_msg: float | None
    p50_ms: float | None
    p99_ms: float | None
    errors: float | None


class _Load:
    """The running ``load.js``: its JSON lines one by one, and the go-ahead on its stdin."""

    def __init__(self, process: subprocess.Popen[str], stderr_path: Path) -> None:
        self.process = process
        self.stderr_path = stderr_path
        if process.stdout is None or process.stdin is None:
            raise ValueError("the load needs pipes for its stdin and stdout")
        self._stdout: IO[str] = process.stdout
        self._stdin: IO[str] = process.stdin

    def expect(self, event: str) -> dict[str, Any]:
        """The next line, which must be ``event``; else `SimError` with what the load said."""
        line = self._stdout.readline()
        try:
            message: dict[str, Any] = json.loads(line) if line else {}
        except json.JSONDecodeError:
            message = {"event": "unreadable", "line": line[:200]}
        if message.get("event") != event:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            raise SimError(
                f"the mix load sent {message or 'nothing'} instead of {event!r} "
                f"(exit code {self.process.returncode}):\n{self._stderr_tail()}"
            )
        return message

    def proceed(self) -> None:
        """Let the load go on to its next stage."""
        self._stdin.write("go\n")
        self._stdin.flush()

    def _stderr_tail(self, lines: int = 20) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def _load(argv: list[str], stderr_path: Path, bound: float) -> Iterator[_Load]:
    """Run the load; kill it if it outlives ``bound`` seconds or the block fails."""
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    watchdog = threading.Timer(bound, process.kill)
    watchdog.start()
    try:
        yield _Load(process, stderr_path)
        process.wait(timeout=bound)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def run_once(
    kind: ServerKind,
    run: int,
    *,
    clients: int = DEFAULT_CLIENTS,
    seconds: float = DEFAULT_SECONDS,
    interval: float = DEFAULT_INTERVAL,
) -> MixRun:
    """Start a fresh server of ``kind``, run the mix against it, stop it."""
    with tempfile.TemporaryDirectory(prefix="voltmesh-mix-") as logs:
        server = ServerProcess(kind, log_path=Path(logs) / "server.log")
        with server:
            url = f"ws://{server.host}:{server.ocpp_port}/ocpp/"
            argv = nodejs.load_argv(url, clients=clients, interval=interval, seconds=seconds)
            bound = CONNECT_BOUND + seconds + FINISH_BOUND
            with _load(argv, Path(logs) / "load.stderr", bound) as load:
                ready = load.expect("ready")
                cpu_start = tree_cpu_seconds(server.pid)
                load.proceed()
                done = load.expect("done")
                cpu_end = tree_cpu_seconds(server.pid)
                load.proceed()
            if load.process.returncode != 0:
                raise SimError(f"the mix load exited with {load.process.returncode}")
    latency = done.get("latency_ms") or {}
    result = MixRun(
        server=kind.value,
        run=run,
        connected=int(ready["connected"]),
        answered=int(done["answered"]),
        errors=int(done["errors"]),
        seconds=float(done["seconds"]),
        cpu_seconds=round(cpu_end - cpu_start, 3),
        p50_ms=latency.get("p50"),
        p99_ms=latency.get("p99"),
    )
    calls = result.answered + result.errors
    if result.errors > MAX_ERROR_SHARE * max(1, calls):
        raise SimError(
            f"{kind.value}: {result.errors} of {calls} calls of the mix failed: "
            f"{done.get('error_kinds')}"
        )
    return result


def summarize(runs: Sequence[MixRun]) -> list[MixRow]:
    """Medians per server, in the order the servers first appear."""
    groups: dict[str, list[MixRun]] = {}
    for one in runs:
        groups.setdefault(one.server, []).append(one)
    return [
        MixRow(
            server=server,
            runs=len(group),
            msgs_per_s=median(r.msgs_per_s for r in group),
            cpu_us_per_msg=median(r.cpu_us_per_msg for r in group),
            p50_ms=median(r.p50_ms for r in group),
            p99_ms=median(r.p99_ms for r in group),
            errors=median(float(r.errors) for r in group),
        )
        for server, group in groups.items()
    ]


def markdown(rows: Sequence[MixRow], command: str, notes: Sequence[str] = ()) -> str:
    """The table: a row per server, then voltmesh's ratio to each other server."""
    lines = preamble(command, notes)
    lines += [
        "| server | msgs/s | server CPU µs/msg | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            markdown_row(
                [
                    row.server,
                    number(row.msgs_per_s, 0),
                    number(row.cpu_us_per_msg),
                    number(row.p50_ms, 2),
                    number(row.p99_ms, 2),
                ]
            )
        )
    ours = next((row for row in rows if row.server == ServerKind.VOLTMESH.value), None)
    for theirs in rows:
        if ours is None or theirs is ours:
            continue
        lines.append(
            markdown_row(
                [
                    f"{ours.server}/{theirs.server}",
                    ratio(ours.msgs_per_s, theirs.msgs_per_s),
                    ratio(ours.cpu_us_per_msg, theirs.cpu_us_per_msg),
                    ratio(ours.p50_ms, theirs.p50_ms),
                    ratio(ours.p99_ms, theirs.p99_ms),
                ]
            )
        )
    failed = [f"{row.server} {number(row.errors, 0)}" for row in rows if row.errors]
    if failed:
        lines += ["", f"Failed calls per run (median): {', '.join(failed)}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m sim.mix",
        description="Server CPU per message of the ocpp-rpc mix; prints a Markdown table.",
    )
    parser.add_argument(
        "--server",
        action="append",
        choices=[k.value for k in ServerKind],
        help="server under test; repeat for several (default: voltmesh, baseline and node)",
    )
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS)
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="mix length")
    parser.add_argument(
        "--interval", type=float, default=DEFAULT_INTERVAL, help="seconds between a charger's calls"
    )
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    args = parser.parse_args(args_list)
    if args.runs < 1 or args.clients < 1 or args.seconds <= 0 or args.interval <= 0:
        parser.error("--runs and --clients must be at least 1, --seconds and --interval above 0")
    servers = list(dict.fromkeys(args.server or [k.value for k in ServerKind]))
    # The servers and the load inherit the lifted limit: every charger is a socket on each side.
    fd_limit = raise_open_file_limit()
    if fd_limit < args.clients + 1024:
        parser.error(f"open-file limit {fd_limit} is too low for {args.clients} chargers")
    nodejs.ensure_installed()
    started = time.monotonic()
    runs: list[MixRun] = []
    for run in range(1, args.runs + 1):
        for server in servers:
            one = run_once(
                ServerKind(server),
                run,
                clients=args.clients,
                seconds=args.seconds,
                interval=args.interval,
            )
            runs.append(one)
            print(
                f"[{time.monotonic() - started:5.0f} s] {server} run {run}: "
                f"{one.msgs_per_s:,.0f} msgs/s, {number(one.cpu_us_per_msg)} µs/msg",
                file=sys.stderr,
                flush=True,
            )
    notes = [
        f"{args.clients:,} OCPP 1.6 chargers on ocpp-rpc (strict mode), each a Heartbeat or a "
        f"MeterValues every {args.interval:g} s for {args.seconds:g} s; medians of {args.runs} "
        "run(s); server CPU from /proc over the mix.",
    ]
    command = shlex.join(["python", "-m", "sim.mix", *args_list])
    print(markdown(summarize(runs), command, notes), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
