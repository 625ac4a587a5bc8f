"""``python -m sim.loadgen``: one load run of the fleet's load stations, printed as JSON.

    python -m sim.loadgen --port 9000 --stations 1000 --mode rate --rate 2000 --duration 10
    python -m sim.loadgen --port 9000 --stations 40000 --mode idle --connect-rate 250 \
        --workers 16 --source-addresses 4

A thin command line over `sim.fleet.conductor.run_load` (the benchmarks call it directly).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

import orjson

from sim.errors import RemoteTargetRefused
from sim.fdlimit import raise_open_file_limit
from sim.fleet.conductor import LoadRun, run_load
from sim.fleet.load import LoadMode, LoadShape
from sim.fleet.sources import add_source_addresses_option, loopback_sources
from sim.netguard import ensure_target_allowed


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks stop the workers (and servers)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handle)


def build_parser() -> argparse.ArgumentParser:
    """The `python -m sim.loadgen` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sim.loadgen", description="OCPP load driver (bounded, loopback only)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="OCPP websocket port")
    parser.add_argument("--path", default="/ocpp/", help="URL path before the station id")
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--prefix", default="SIM", help="station ids are PREFIX-load-NNNNN")
    parser.add_argument("--mode", choices=[m.value for m in LoadMode], default="saturate")
    parser.add_argument("--rate", type=float, help="rate mode: total CALLs per second")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds, not measured")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--connect-rate", type=float, help="new connections per second")
    parser.add_argument("--call-timeout", type=float, default=10.0)
    parser.add_argument("--boot-timeout", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--heartbeat-interval", type=float, default=300.0, help="idle mode: seconds"
    )
    parser.add_argument(
        "--open-transactions",
        type=float,
        default=0.0,
        help="idle mode: share of stations that start a transaction after booting",
    )
    parser.add_argument(
        "--reconnect",
        action="store_true",
        help="idle mode: lost stations reconnect (random backoff), send a Heartbeat, and stop",
    )
    parser.add_argument("--reconnect-backoff", type=float, default=1.0, help="seconds")
    parser.add_argument("--reconnect-backoff-max", type=float, default=4.0, help="seconds")
    add_source_addresses_option(parser)
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback host")
    parser.add_argument("--output", help="also write the JSON result to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 for refused or bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.stations < 1 or not 1 <= args.workers <= args.stations:
            raise ValueError("need 1 <= workers <= stations")
        if not args.path.startswith("/") or not args.path.endswith("/"):
            raise ValueError("path must start and end with '/'")
        if args.warmup < 0 or args.duration <= 0:
            raise ValueError("warmup must be >= 0 and duration > 0")
        run = LoadRun(
            host=args.host,
            port=args.port,
            path=args.path,
            stations=args.stations,
            workers=args.workers,
            prefix=args.prefix,
            warmup=args.warmup,
            duration=args.duration,
            seed=args.seed,
            allow_remote=args.allow_remote,
        )
        shape = LoadShape(
            mode=LoadMode(args.mode),
            rate=args.rate,
            connect_rate=args.connect_rate,
            call_timeout=args.call_timeout,
            boot_timeout=args.boot_timeout,
            heartbeat_interval=args.heartbeat_interval,
            open_transactions=args.open_transactions,
            reconnect=args.reconnect,
            reconnect_backoff=args.reconnect_backoff,
            reconnect_backoff_max=args.reconnect_backoff_max,
            source_addresses=(
                () if args.source_addresses is None else loopback_sources(args.source_addresses)
            ),
        )
        ensure_target_allowed(run.host, allow_remote=run.allow_remote)
    except (ValueError, RemoteTargetRefused) as exc:
        parser.error(str(exc))
    exit_on_sigterm()
    # The workers inherit it: each holds a socket per station of its share.
    raise_open_file_limit(at_least=args.stations + 1024)
    result = run_load(run, shape)
    text = orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    if args.output:
        with open(args.output, "wb") as file:
            file.write(text + b"\n")
    sys.stdout.write(text.decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
