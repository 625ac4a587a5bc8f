"""``voltmesh serve``: one node (pod) as a Thespian actor system whose supervisor runs one shard
process per core, all serving the node's OCPP and API ports.

The launcher prepares the stores once (migrations, the first admin, the token secret), so that the
shards start on a ready store; settles the ports (a free one for 0, shared by every shard); starts
the actor system and waits. SIGTERM or SIGINT drain every shard (1012 to the chargers, writers
flushed) and stop the actor system; SIGHUP reloads the wss certificate in every shard.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import time
from types import FrameType
from typing import Any

from thespian.actors import ActorSystem

from csms.pki.ca import find_ca
from persistence.database import create_engine
from voltmesh import control_plane
from voltmesh.config import ConfigError, Settings
from voltmesh.limits import raise_open_file_limit
from voltmesh.node import prepare_stores, token_secret
from voltmesh.shard import (
    Drain,
    Drained,
    NodeFailed,
    NodeReady,
    NodeSupervisor,
    ReloadTls,
    StartNode,
)

log = logging.getLogger("voltmesh")

START_TIMEOUT = 120.0
DRAIN_TIMEOUT = 30.0


async def prepare_node(settings: Settings) -> None:
    """Migrations, the first admin and the token secret, once, before any shard starts."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    main = create_engine(settings.main_url)
    status = create_engine(settings.status_url)
    try:
        await prepare_stores(main, status, settings)
    finally:
        await main.dispose()
        await status.dispose()
    token_secret(settings)
    # A CA that cannot be loaded stops the start here, not in every shard.
    find_ca(settings.ca_cert, settings.ca_key, settings.data_dir)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def settle_ports(settings: Settings) -> Settings:
    """Port 0 becomes one free port that every shard then shares."""
    changes: dict[str, Any] = {}
    for name in ("ocpp_port", "api_port", "cluster_port"):
        if getattr(settings, name) == 0:
            host = settings.cluster_host if name == "cluster_port" else settings.host
            changes[name] = _free_port(host)
    if settings.tls_cert is not None and settings.ocpp_tls_port == 0:
        changes["ocpp_tls_port"] = _free_port(settings.host)
    return dataclasses.replace(settings, **changes)


def _cluster_port_free(settings: Settings, *, wait: float = 10.0) -> None:
    """Thespian attaches to an actor system already on its port (perhaps an older one's): refuse,
    after giving a node that is just stopping on this machine (a restart) time to let it go."""
    deadline = time.monotonic() + wait
    while True:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((settings.cluster_host, settings.cluster_port))
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise ConfigError(
                        f"VOLTMESH_CLUSTER_PORT: {settings.cluster_host}:{settings.cluster_port} "
                        f"is in use ({exc.strerror}); is another voltmesh node running here?"
                    ) from None
        time.sleep(0.2)


def _adopt_the_actor_system() -> None:
    """Linux: the actor system's admin process detaches itself (a double fork); as a subreaper
    the launcher stays its parent, so the whole node is one process tree (for ``ps``, for
    measuring its CPU and memory, and for a container's init)."""
    control_plane.prctl(control_plane.PR_SET_CHILD_SUBREAPER, 1)


def run(settings: Settings) -> int:
    """Run the node until a signal; returns the exit status."""
    raise_open_file_limit()
    _adopt_the_actor_system()
    asyncio.run(prepare_node(settings))
    settings = settle_ports(settings)
    _cluster_port_free(settings)
    capabilities = control_plane.prepare(settings)
    signals: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signals.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    system = ActorSystem(
        "multiprocTCPBase",
        capabilities,
        logDefs=control_plane.logging_config(settings.log_level.upper()),
    )
    try:
        supervisor = system.createActor(NodeSupervisor)
        system.tell(supervisor, StartNode(settings, os.getpid()))
        deadline = time.monotonic() + START_TIMEOUT
        ready = None
        while ready is None and time.monotonic() < deadline:
            message = system.listen(0.5)
            if isinstance(message, NodeFailed):
                log.error("voltmesh could not start: %s", message.reason)
                return 1
            if isinstance(message, NodeReady):
                ready = message
            if any(s != signal.SIGHUP for s in signals):
                break
        if ready is None:
            log.error("voltmesh did not start within %g s", START_TIMEOUT)
            return 1
        ocpp, api, ocpp_tls = ready.ports
        log.info(
            "voltmesh listening: OCPP on %s:%d, API on %s:%d (%d shards: %s; cluster %s:%d%s)",
            settings.host,
            ocpp,
            settings.host,
            api,
            len(ready.members),
            ", ".join(ready.members),
            settings.cluster_host,
            settings.cluster_port,
            "" if settings.leader is None else f", joined {settings.cluster_join}",
        )
        if ocpp_tls is not None:
            log.info("OCPP over TLS (wss) on %s:%d", settings.host, ocpp_tls)
        status = 0
        while True:
            message = system.listen(0.5)
            if isinstance(message, NodeFailed):
                log.error("voltmesh stops: %s", message.reason)
                status = 1
                break
            while signals and signals[0] == signal.SIGHUP:
                signals.pop(0)
                system.tell(supervisor, ReloadTls())
            if signals:
                break
        log.info("shutting down")
        drained = system.ask(supervisor, Drain(), DRAIN_TIMEOUT)
        if not isinstance(drained, Drained):
            log.warning("shards did not drain within %g s", DRAIN_TIMEOUT)
        log.info("voltmesh stopped")
        return status
    finally:
        system.shutdown()
