"""The node's Thespian actors: a supervisor that keeps one shard per core running, and the shards.

A shard is a process whose main thread runs its Thespian actor (control messages from the
supervisor and from other members) and whose second thread runs the node's event loop (today's data
plane: the OCPP and API listeners, shared with the other shards through SO_REUSEPORT). The two
threads meet only in a ``ControlBridge``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from thespian.actors import (
    Actor,
    ActorExitRequest,
    ChildActorExited,
    ThespianWatch,
    WakeupMessage,
    WatchMessage,
)

from cluster.bridge import ControlBridge
from cluster.member import Identity
from cluster.messages import EventBatch, Evict, IdTokenChanged, Outcome, Request, StationChanged
from voltmesh.config import Settings
from voltmesh.control_plane import PR_SET_PDEATHSIG, actor_address, actor_address_text, prctl
from voltmesh.loops import new_event_loop

log = logging.getLogger("voltmesh.shard")

CONTROL_MESSAGES = (Request, Outcome, Evict, StationChanged, IdTokenChanged, EventBatch)
RESTART_LIMIT = 5
"""Shard restarts within ``RESTART_WINDOW`` seconds before the node gives up."""
RESTART_WINDOW = 60.0
LAUNCHER_CHECK = 1.0
"""Seconds between checks that the launcher lives (it may be killed without a word)."""


@dataclass(frozen=True, slots=True)
class StartNode:
    settings: Settings
    launcher_pid: int


@dataclass(frozen=True, slots=True)
class ShardSpec:
    settings: Settings
    shard: int


@dataclass(frozen=True, slots=True)
class ShardReady:
    shard: int
    member: str
    ports: tuple[int, int, int | None]


@dataclass(frozen=True, slots=True)
class NodeReady:
    ports: tuple[int, int, int | None]
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NodeFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class Drain:
    pass


@dataclass(frozen=True, slots=True)
class Drained:
    shard: int = -1


@dataclass(frozen=True, slots=True)
class ReloadTls:
    pass


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when the one that forked it dies."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _log_to_stderr(level: str, member: str) -> None:
    """The shard's records straight to standard error, as the launcher writes its own. Thespian
    gives each actor process a root logger that forwards every record through the actor system,
    from whatever thread logs (the event loop's too); the launcher's logging, inherited with the
    fork, is put back, and names the member."""
    manager = log.manager  # made before the fork: the launcher's
    root = manager.root
    formatter = logging.Formatter(f"%(asctime)s %(levelname)s [{member}] %(name)s: %(message)s")
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(formatter)
    root.setLevel(level)
    logging.root = root
    logging.Logger.root = root
    logging.Logger.manager = manager


class NodeSupervisor(Actor):  # type: ignore[misc]
    """Starts ``settings.shards`` shards, restarts one that exits, drains them all on request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner: Any = None
        self.settings: Settings | None = None
        self.launcher_pid = 0
        self.shards: list[tuple[Any, int]] = []
        self.ready: dict[int, ShardReady] = {}
        self.announced = False
        self.restarts: list[float] = []
        self.draining: set[int] | None = None

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, StartNode):
            _die_with_parent()
            self.owner = sender
            self.settings = message.settings
            self.launcher_pid = message.launcher_pid
            for shard in range(message.settings.shards):
                self._start_shard(shard)
            self.wakeupAfter(LAUNCHER_CHECK)
        elif isinstance(message, ShardReady):
            self.ready[message.shard] = message
            if not self.announced and self.settings and len(self.ready) == self.settings.shards:
                self.announced = True
                members = tuple(
                    r.member for r in sorted(self.ready.values(), key=lambda r: r.shard)
                )
                self.send(self.owner, NodeReady(message.ports, members))
        elif isinstance(message, ChildActorExited):
            self._exited(message.childAddress)
        elif isinstance(message, Drain):
            self.owner = sender
            self.draining = {shard for _, shard in self.shards}
            for address, _ in self.shards:
                self.send(address, Drain())
            if not self.draining:
                self.send(self.owner, Drained())
        elif isinstance(message, Drained):
            self._drained(message.shard)
        elif isinstance(message, ReloadTls):
            for address, _ in self.shards:
                self.send(address, message)
        elif isinstance(message, WakeupMessage):
            self._check_launcher()

    def _start_shard(self, shard: int) -> None:
        assert self.settings is not None
        address = self.createActor(ShardHost)
        self.shards.append((address, shard))
        self.send(address, ShardSpec(self.settings, shard))

    def _exited(self, address: Any) -> None:
        gone = [shard for a, shard in self.shards if a == address]
        self.shards = [(a, shard) for a, shard in self.shards if a != address]
        if not gone:
            return
        shard = gone[0]
        if self.draining is not None:
            self._drained(shard)
            return
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW] + [now]
        if len(self.restarts) > RESTART_LIMIT:
            self.send(
                self.owner,
                NodeFailed(f"shards exited {len(self.restarts)} times within {RESTART_WINDOW:g} s"),
            )
            return
        log.warning("shard %d exited; starting it again", shard)
        self._start_shard(shard)

    def _drained(self, shard: int) -> None:
        if self.draining is None:
            return
        self.draining.discard(shard)
        if not self.draining:
            self.send(self.owner, Drained())

    def _check_launcher(self) -> None:
        try:
            os.kill(self.launcher_pid, 0)
        except ProcessLookupError:
            # The launcher was killed (SIGKILL): nobody will shut this actor system down, so the
            # whole of it goes, as a pod's processes would. Its admin leads a session of its own
            # (it detached with setsid), which every process of the actor system shares; anything
            # else (no such session) is left alone: this actor exits, and its shards with it (they
            # die with their parent).
            if os.getpgrp() == os.getsid(0):
                os.killpg(os.getpgrp(), signal.SIGKILL)
            os._exit(1)
        self.wakeupAfter(LAUNCHER_CHECK)


class ShardHost(Actor):  # type: ignore[misc]
    """One shard: the node's event loop in a thread, and this actor for its control messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bridge: ControlBridge | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.node: Any = None

    def receiveMessage(self, message: Any, sender: Any) -> ThespianWatch | None:
        if isinstance(message, ShardSpec):
            self._start(message, sender)
        elif isinstance(message, WatchMessage):
            self._flush()
        elif isinstance(message, CONTROL_MESSAGES):
            if self.bridge is not None:
                self.bridge.deliver(message)
        elif isinstance(message, Drain):
            if self.loop is not None and self.stop is not None:
                self.loop.call_soon_threadsafe(self.stop.set)
        elif isinstance(message, ReloadTls):
            if self.loop is not None and self.node is not None:
                self.loop.call_soon_threadsafe(self.node.reload_tls)
        elif isinstance(message, ActorExitRequest):
            pass
        return ThespianWatch([self.bridge.wake_fd]) if self.bridge is not None else None

    def _flush(self) -> None:
        assert self.bridge is not None
        for address, message in self.bridge.take_outgoing():
            target = self.parent_address if address == "" else actor_address(address)
            self.send(target, message)

    def _start(self, spec: ShardSpec, parent: Any) -> None:
        from voltmesh.node import Node  # the data plane loads in the shard, not the supervisor

        _die_with_parent()
        # The terminal's Ctrl-C is the launcher's to handle (it drains the shards).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        settings = spec.settings
        _log_to_stderr(settings.log_level.upper(), f"{settings.node_name}/{spec.shard}")
        self.parent_address = parent
        address = actor_address_text(self.myAddress)
        identity = Identity(
            f"{settings.node_name}/{spec.shard}", settings.node_name, spec.shard, address
        )
        loop = new_event_loop()
        self.loop = loop
        # Made here, not in the loop: a Drain that arrives while the node still starts is kept.
        self.stop = asyncio.Event()
        self.bridge = ControlBridge(loop)
        # The launcher prepared the stores before it started the shards.
        self.node = Node(
            settings, identity=identity, bridge=self.bridge, reuse_port=True, stores_ready=True
        )
        threading.Thread(
            target=self._run, args=(loop, spec.shard, identity.name), name="event-loop", daemon=True
        ).start()

    def _run(self, loop: asyncio.AbstractEventLoop, shard: int, member: str) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(shard, member))
        except Exception:
            log.exception("shard %d failed", shard)
        finally:
            # The process ends with its event loop: the supervisor starts another (or, when
            # draining, counts it as drained).
            os._exit(0)

    async def _serve(self, shard: int, member: str) -> None:
        assert self.bridge is not None
        assert self.stop is not None
        ports = await self.node.start()
        self.bridge.send("", ShardReady(shard, member, (ports.ocpp, ports.api, ports.ocpp_tls)))
        try:
            await self.stop.wait()
        finally:
            await self.node.stop()
