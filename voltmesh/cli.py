"""``voltmesh`` command line: ``voltmesh serve`` runs a node (flags override ``VOLTMESH_*``);
``voltmesh user add`` manages operator accounts; ``voltmesh sim`` runs a simulated fleet."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence

from csms.pki.ca import CaError
from http_api.accounts import AccountError, check_name, check_password, check_role
from http_api.roles import Role
from persistence import users
from persistence.database import create_engine
from persistence.migrate import migrate
from transport.security import hash_password
from voltmesh.ca_command import add_ca_parser, run_ca
from voltmesh.config import ConfigError, Settings, load_settings
from voltmesh.launcher import run as run_node


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
    run.add_argument(
        "--tls-cert", help="PEM certificate chain of the wss listener (VOLTMESH_TLS_CERT)"
    )
    run.add_argument("--tls-key", help="PEM private key of --tls-cert (VOLTMESH_TLS_KEY)")
    run.add_argument("--ocpp-tls-port", help="OCPP wss port (VOLTMESH_OCPP_TLS_PORT, default 9443)")
    run.add_argument(
        "--tls-client-ca",
        help="PEM CA certificates of chargers' client certificates, security profile 3 "
        "(VOLTMESH_TLS_CLIENT_CA)",
    )
    run.add_argument(
        "--shards", help="shard processes of this node (VOLTMESH_SHARDS, default: the CPUs)"
    )
    run.add_argument(
        "--cluster-host",
        help="this node's own address for the cluster (VOLTMESH_CLUSTER_HOST, default 127.0.0.1)",
    )
    run.add_argument(
        "--cluster-port", help="port of this node's actor system (VOLTMESH_CLUSTER_PORT, 1900)"
    )
    run.add_argument(
        "--cluster-join",
        help="HOST:PORT of the leading node's actor system (VOLTMESH_CLUSTER_JOIN; none: lead)",
    )
    _add_user_parser(commands)
    add_ca_parser(commands)
    sim = commands.add_parser(
        "sim", help="run a simulated fleet against a central system and report on it"
    )
    from sim.fleet.cli import add_arguments

    add_arguments(sim)
    return parser


def _add_user_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = commands.add_parser("user", help="manage operator accounts of the REST API")
    actions = user.add_subparsers(dest="user_command", required=True)
    add = actions.add_parser(
        "add",
        help="create an operator account, or set the password and role of an existing one; the "
        "password is asked for (or read from standard input when it is not a terminal)",
    )
    add.add_argument("name", help="user name (letters, digits, . _ @ -)")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument(
        "--data-dir", help="directory of the embedded stores (VOLTMESH_DATA_DIR, ./data)"
    )
    add.add_argument("--database-url", help="main store URL (VOLTMESH_DATABASE_URL)")


def _read_new_password() -> str:
    """From a prompt (twice) on a terminal; else the first line of standard input."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise AccountError("the passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


async def _add_user(settings: Settings, name: str, role: Role, password: str) -> bool:
    engine = create_engine(settings.main_url)
    try:
        await migrate(engine, "main")
        password_hash = await asyncio.to_thread(hash_password, password)
        return await users.put_user(engine, name, role=role.value, password_hash=password_hash)
    finally:
        await engine.dispose()


def run_user(args: argparse.Namespace) -> int:
    """``voltmesh user add NAME --role ROLE`` on the store ``serve`` would use."""
    try:
        settings = load_settings(
            os.environ, {"data_dir": args.data_dir, "database_url": args.database_url}
        )
        name = check_name(args.name)
        role = check_role(args.role)
        password = check_password(_read_new_password())
    except (ConfigError, AccountError) as exc:
        print(f"voltmesh: {exc}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created = asyncio.run(_add_user(settings, name, role, password))
    print(f"{'created' if created else 'updated'} user {name} (role {role.value})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "user":
        return run_user(args)
    if args.command == "ca":
        return run_ca(args)
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
        return run_node(settings)
    except ConfigError as exc:
        print(f"voltmesh: {exc}", file=sys.stderr)
        return 2
    except AccountError as exc:
        print(f"voltmesh: VOLTMESH_ADMIN_PASSWORD: {exc}", file=sys.stderr)
        return 2
    except CaError as exc:
        print(f"voltmesh: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"voltmesh: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
