"""A member's side of the cluster, inside its event loop: it registers itself, proves it is alive,
declares silent members dead (their stations then belong to nobody until they reconnect), and
dispatches what other members send it.

A member is one shard process of one pod. Its row in the main store carries the address of its
Thespian actor, which is how the others reach it; the row's ``last_seen`` is refreshed every
``heartbeat`` seconds, and a member silent for ``dead_after`` seconds is dead to every other one.

The operators' events a member publishes reach the others in batches (every ``EVENT_BATCH_SECONDS``,
or sooner once ``EVENT_BATCH_MAX`` are waiting), so that a client of any member sees the whole
cluster's events within a second, at a few control messages a second. A member announces itself
(``node.joined``) when it starts and its leaving when it stops; the member that declares another
dead announces that one's leaving.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.bridge import ControlBridge
from cluster.messages import (
    CommandRequest,
    ConfigurationRequest,
    EventBatch,
    Evict,
    IdTokenChanged,
    Outcome,
    Request,
    StationChanged,
)
from csms.events import Event, EventBus
from persistence.leases import release_member_leases
from persistence.members import (
    MemberRecord,
    declare_dead,
    list_members,
    mark_dead,
    refresh_member,
    register_member,
)
from persistence.reads import Reads
from persistence.sqltypes import utcnow

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
"""How often a member refreshes its row."""
DEAD_AFTER_SECONDS = 6.0
"""A member silent this long is dead: with the heartbeat, noticed within 8 s (10 s promised)."""
EVENT_BATCH_SECONDS = 0.15
"""Longest an event waits before it is sent to the other members (1 s promised)."""
EVENT_BATCH_MAX = 500
"""Events sent in one message at most: a burst goes out at once, in messages of bounded size."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who this member is."""

    name: str
    """``<node>/<shard>``."""
    node: str
    shard: int
    address: str
    """host:port of its Thespian actor."""


@dataclass(frozen=True, slots=True)
class LocalEffects:
    """What messages from other members do to this member's stations and caches."""

    answer: Callable[[CommandRequest | ConfigurationRequest], Awaitable[Any]]
    """Runs a request for a station this member holds; raises ``CommandError`` otherwise."""
    evict: Callable[[str, int], None]
    """(station, epoch): close this member's socket of the station if its lease is older."""
    station_changed: Callable[[str, bool], None]
    """(station, deleted): drop cached credentials, refresh or close its actor."""
    id_token_changed: Callable[[str], None]
    """Drop a cached id token."""
    members_died: Callable[[list[str]], Awaitable[None]]
    """Members just declared dead (their leases are released already)."""
    reclaim: Callable[[], Awaitable[None]]
    """This member was declared dead while it lived (a stalled event loop): take back the leases
    of the sockets it still holds, which the others released."""


class ClusterMember:
    """This member: its registration, its peers, and the messages it sends and receives."""

    def __init__(
        self,
        identity: Identity,
        engine: AsyncEngine,
        reads: Reads,
        bridge: ControlBridge | None,
        effects: LocalEffects,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        dead_after: float = DEAD_AFTER_SECONDS,
        events: EventBus | None = None,
    ) -> None:
        self.identity = identity
        self._engine = engine
        self._reads = reads
        self._bridge = bridge
        self._effects = effects
        self._heartbeat = heartbeat
        self._dead_after = dead_after
        self._peers: dict[str, MemberRecord] = {}
        self._waiting: dict[int, asyncio.Future[Outcome]] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._serving: set[asyncio.Task[None]] = set()
        self._events = events
        self._outgoing_events: list[Event] = []
        self._event_timer: asyncio.TimerHandle | None = None
        self._refreshing: asyncio.Task[None] | None = None
        if bridge is not None:
            bridge.receiver = self._receive
            if events is not None:
                events.forward = self._forward_event

    @property
    def name(self) -> str:
        return self.identity.name

    async def start(self) -> None:
        """Register (a restarted shard takes its old name back and releases what its previous
        life held: those sockets died with it), learn the peers, start the heartbeat."""
        me = self.identity
        released = await release_member_leases(self._engine, me.name)
        if released:
            log.info("%s: %d stations of a previous run released", me.name, len(released))
        await register_member(
            self._engine, name=me.name, node=me.node, shard=me.shard, address=me.address
        )
        await self.refresh_peers()
        self._announce("node.joined", me.name)
        self._task = asyncio.create_task(self._beat(), name="cluster-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in [*self._serving, self._refreshing]:
            if task is not None:
                task.cancel()
        self._announce("node.left", self.name)
        self._send_events()
        await release_member_leases(self._engine, self.name)
        await mark_dead(self._engine, self.name)
        for future in self._waiting.values():
            future.cancel()

    async def refresh_peers(self) -> None:
        """The members alive: on record, and heard of within ``dead_after`` (one that went silent
        is not asked, even before a heartbeat has declared it dead)."""
        cutoff = utcnow() - timedelta(seconds=self._dead_after)
        self._peers = {
            m.name: m
            for m in await list_members(self._reads)
            if m.alive and (m.last_seen >= cutoff or m.name == self.name)
        }

    def peer(self, name: str) -> MemberRecord | None:
        return self._peers.get(name)

    def peers(self) -> list[MemberRecord]:
        """Members alive at the last refresh, this one included."""
        return list(self._peers.values())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                if not await refresh_member(self._engine, self.name):
                    # Declared dead during a stall: back, with what it still holds.
                    log.warning("%s: declared dead by the cluster; registering again", self.name)
                    me = self.identity
                    await register_member(
                        self._engine, name=me.name, node=me.node, shard=me.shard, address=me.address
                    )
                    self._announce("node.joined", me.name)
                    await self._effects.reclaim()
                dead = await declare_dead(
                    self._engine, silent_for=timedelta(seconds=self._dead_after)
                )
                for name, released in dead.items():
                    log.warning(
                        "member %s silent for %g s: dead; %d of its stations released",
                        name,
                        self._dead_after,
                        released,
                    )
                    self._announce("node.left", name)
                if dead:
                    await self._effects.members_died(list(dead))
                await self.refresh_peers()
            except Exception:
                log.exception("cluster heartbeat failed")

    # -- sending --------------------------------------------------------------------------------

    def tell(self, member: str, message: object) -> bool:
        """Send to one member; False if it is not known to be alive."""
        peer = self._peers.get(member)
        if peer is None or member == self.name or self._bridge is None:
            return False
        self._bridge.send(peer.address, message)
        return True

    def broadcast(self, message: object) -> None:
        """Send to every other member known to be alive."""
        if self._bridge is None:
            return
        for peer in self._peers.values():
            if peer.name != self.name:
                self._bridge.send(peer.address, message)

    async def ask(
        self, member: str, body: CommandRequest | ConfigurationRequest, *, timeout: float
    ) -> Outcome | None:
        """Ask ``member``; None if it is not known to be alive. Raises ``TimeoutError``."""
        if self._bridge is None:
            return None
        # Read afresh: a member restarted since the last heartbeat listens at a new address.
        await self.refresh_peers()
        peer = self._peers.get(member)
        if peer is None:
            return None
        request_id = next(self._ids)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            self._bridge.send(peer.address, Request(request_id, self.identity.address, body))
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._waiting.pop(request_id, None)

    # -- operator events ------------------------------------------------------------------------

    def _announce(self, type: str, member: str) -> None:
        if self._events is not None:
            self._events.publish(type, None, {"member": member})

    def _forward_event(self, event: Event) -> None:
        """Called by the bus for each event published here; never waits."""
        if len(self._peers) < 2:
            return  # alone in the cluster (this member is one of its peers)
        self._outgoing_events.append(event)
        if len(self._outgoing_events) >= EVENT_BATCH_MAX:
            self._send_events()
        elif self._event_timer is None:
            self._event_timer = asyncio.get_running_loop().call_later(
                EVENT_BATCH_SECONDS, self._send_events
            )

    def _send_events(self) -> None:
        if self._event_timer is not None:
            self._event_timer.cancel()
            self._event_timer = None
        events, self._outgoing_events = self._outgoing_events, []
        if events:
            self.broadcast(EventBatch(self.name, tuple(e.plain() for e in events)))

    # -- receiving ------------------------------------------------------------------------------

    def _receive(self, message: object) -> None:
        if isinstance(message, Outcome):
            future = self._waiting.get(message.request_id)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, Request):
            task = asyncio.create_task(self._serve(message), name="cluster-request")
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)
        elif isinstance(message, Evict):
            self._effects.evict(message.station_id, message.epoch)
        elif isinstance(message, StationChanged):
            self._effects.station_changed(message.station_id, message.deleted)
        elif isinstance(message, IdTokenChanged):
            self._effects.id_token_changed(message.id_token)
        elif isinstance(message, EventBatch):
            if message.member not in self._peers:
                # A member that just started (its node.joined): it gets our events from now on,
                # not from the next heartbeat.
                self._refresh_soon()
            if self._events is not None and message.member != self.name:
                for plain in message.events:
                    self._events.accept(Event.of_plain(plain))
        else:
            log.warning("unexpected cluster message %s", type(message).__name__)

    def _refresh_soon(self) -> None:
        if self._refreshing is None:
            self._refreshing = asyncio.create_task(self._refresh(), name="cluster-refresh")

    async def _refresh(self) -> None:
        try:
            await self.refresh_peers()
        except Exception:
            log.exception("cluster members not read")
        finally:
            self._refreshing = None

    async def _serve(self, request: Request) -> None:
        try:
            outcome = Outcome(request.request_id, value=await self._effects.answer(request.body))
        except Exception as exc:  # the asker gets every error, named
            details = {
                key: value
                for key in ("code", "description", "details")
                if isinstance(value := getattr(exc, key, None), str | dict)
            }
            outcome = Outcome(
                request.request_id, error=type(exc).__name__, message=str(exc), details=details
            )
        if self._bridge is not None:
            self._bridge.send(request.reply_to, outcome)
