"""``voltmesh`` command line: ``voltmesh serve`` runs a node (flags override ``VOLTMESH_*``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence

from voltmesh.config import ConfigError, load_settings
from voltmesh.node import serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voltmesh", description="OCPP central system")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run a central system node")
    run.add_argument("--host", help="bind address (VOLTMESH_HOST, default 0.0.0.0)")
    run.add_argument("--ocpp-port", help="OCPP websocket port (VOLTMESH_OCPP_PORT, default 9000)")
    run.add_argument("--api-port", help="REST API port (VOLTMESH_API_PORT, default 8080)")
    run.add_argument(
        "--data-dir", help="directory of the embedded stores (VOLTMESH_DATA_DIR, ./data)"
    )
    run.add_argument("--database-url", help="main store URL (VOLTMESH_DATABASE_URL)")
    run.add_argument(
        "--status-database-url", help="status store URL (VOLTMESH_STATUS_DATABASE_URL)"
    )
    run.add_argument(
        "--unknown-stations",
        help="accept | pending | reject (VOLTMESH_UNKNOWN_STATIONS, default accept)",
    )
    run.add_argument(
        "--heartbeat-interval", help="seconds (VOLTMESH_HEARTBEAT_INTERVAL, default 300)"
    )
    run.add_argument("--log-level", help="DEBUG, INFO, WARNING (VOLTMESH_LOG_LEVEL)")
    sim = commands.add_parser(
        "sim", help="run a simulated fleet against a central system and report on it"
    )
    from sim.fleet.cli import add_arguments

    add_arguments(sim)
    return parser


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed (it halves the event loop's share of every message), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sim":
        from sim.fleet.cli import run as run_sim

        return run_sim(args)
    overrides = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        settings = load_settings(os.environ, overrides)
    except ConfigError as exc:
        print(f"voltmesh: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve(settings))
    except OSError as exc:
        print(f"voltmesh: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
