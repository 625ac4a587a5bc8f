"""The operators' live event stream of one member: what happened to stations, sessions, commands and
the cluster, in the order this member learnt it.

``publish`` is called on the message path, so it never waits and costs a few microseconds when
nobody listens: the event gets its id, joins a bounded replay buffer, and is offered to each
subscriber's bounded queue. A subscriber whose queue is full is dropped (its client is too slow);
publishing never waits for one. Events published on other members arrive through ``accept`` with
their ids kept, so that every member's buffer holds the whole cluster's recent events.

Ids are microseconds since the epoch at the member that published the event, made strictly
increasing per member (``max(now, last + 1)``): a client that saw id N asks for what came after N.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

REPLAY_EVENTS = 10_000
"""Events each member keeps for clients that resume with ``after``."""
SUBSCRIBER_QUEUE = 1_000
"""Events a subscriber may have waiting before it is dropped."""
TOO_SLOW = "client too slow"
"""Why a subscriber whose queue filled up was dropped."""

PlainEvent = tuple[int, str, int, str | None, dict[str, Any]]
"""An event as plain data (id, type, at in µs, station id, data): what crosses members."""


class Event:
    """One event. Its JSON is encoded once, for every subscriber that receives it."""

    __slots__ = ("_json", "at_us", "data", "id", "station_id", "type")

    def __init__(
        self, id: int, type: str, at_us: int, station_id: str | None, data: dict[str, Any]
    ) -> None:
        self.id = id
        self.type = type
        self.at_us = at_us
        """When it was published, in microseconds since the epoch (at its member)."""
        self.station_id = station_id
        self.data = data
        self._json: bytes | None = None

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.at_us / 1_000_000, UTC)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "at": self.at,
            "station_id": self.station_id,
            "data": self.data,
        }

    def json(self) -> bytes:
        if self._json is None:
            self._json = orjson.dumps(self.view(), option=orjson.OPT_UTC_Z)
        return self._json

    def plain(self) -> PlainEvent:
        return (self.id, self.type, self.at_us, self.station_id, self.data)

    @classmethod
    def of_plain(cls, plain: PlainEvent) -> Event:
        return cls(*plain)

    def __repr__(self) -> str:
        return f"Event({self.id}, {self.type!r}, {self.station_id!r}, {self.data!r})"


def notice(type: str, data: dict[str, Any]) -> Event:
    """An event about the stream itself (``stream.behind``, ``stream.dropped``): no id, so that
    a client never resumes from it."""
    now = time.time_ns() // 1000
    event = Event(0, type, now, None, data)
    event._json = orjson.dumps(
        {"id": None, "type": type, "at": event.at, "station_id": None, "data": data},
        option=orjson.OPT_UTC_Z,
    )
    return event


class EventFilter:
    """Which events a subscriber wants: one station (exact id), and types (exact, or a prefix when
    the item ends in ``.``, e.g. ``transaction.``)."""

    __slots__ = ("_prefixes", "_types", "station_id")

    def __init__(self, station_id: str | None = None, types: Iterable[str] | None = None) -> None:
        self.station_id = station_id
        wanted = [t for t in types or () if t]
        self._types = frozenset(t for t in wanted if not t.endswith(".")) if wanted else None
        self._prefixes = tuple(t for t in wanted if t.endswith("."))

    def matches(self, event: Event) -> bool:
        if self.station_id is not None and event.station_id != self.station_id:
            return False
        if self._types is None:
            return True
        return event.type in self._types or event.type.startswith(self._prefixes)


class Subscription:
    """A subscriber's view of the stream: first the replayed events it asked for, then live ones,
    until it closes or is dropped."""

    def __init__(
        self, bus: EventBus, wanted: EventFilter, backlog: list[Event], *, internal: bool = False
    ) -> None:
        self._bus = bus
        self.wanted = wanted
        self.internal = internal
        """A loop of the node itself (a site's rebalancing), not an operator's stream: it does not
        count against the streams an operator may open."""
        self.behind: int | None = None
        """Set when the client's ``after`` is older than what the buffer holds: the oldest id
        it holds (0 when empty). The client missed events."""
        self._backlog = deque(backlog)
        self._live: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.dropped: str | None = None
        """Why the bus dropped this subscriber (None: it was not)."""
        self.on_drop: Callable[[str], object] | None = None
        """Called once when the bus drops it (the stream's writer may be stuck on a slow socket)."""

    def offer(self, event: Event) -> bool:
        """Queue a live event; False if the queue is full (the caller drops the subscriber)."""
        if len(self._live) >= SUBSCRIBER_QUEUE:
            return False
        self._live.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    def pending(self) -> int:
        return len(self._backlog) + len(self._live)

    def take_now(self) -> Event | None:
        """The next event if one waits, else None (never waits)."""
        if self._backlog:
            return self._backlog.popleft()
        if self._live:
            return self._live.popleft()
        return None

    async def next(self) -> Event | None:
        """The next event; None once closed or dropped (what was queued before is given first,
        unless dropped: a dropped client gets nothing more)."""
        while True:
            if self.dropped is not None:
                return None
            event = self.take_now()
            if event is not None:
                return event
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def close(self) -> None:
        """Stop receiving (the client left). Idempotent."""
        if not self.closed:
            self.closed = True
            self._bus._remove(self)
            self._wake()

    def _drop(self, reason: str) -> None:
        self.dropped = reason
        self.closed = True
        self._backlog.clear()
        self._live.clear()
        self._wake()
        if self.on_drop is not None:
            self.on_drop(reason)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class EventBus:
    """One member's events: publish, accept from other members, replay and fan out."""

    def __init__(self, member: str = "", *, replay: int = REPLAY_EVENTS) -> None:
        self.member = member
        """This member's name (``<pod>/<shard>``), carried in the events that need it."""
        self._buffer: deque[Event] = deque(maxlen=replay)
        self._last_id = 0
        # Events before this bus existed are unknown to it: a client resuming from earlier missed
        # some. Raised as the buffer forgets events.
        self._forgotten_up_to = time.time_ns() // 1000
        self._subscribers: list[Subscription] = []
        self.forward: Callable[[Event], None] | None = None
        """Takes each event published here (not accepted ones) to the other members."""

    # -- in -------------------------------------------------------------------------------------

    def publish(self, type: str, station_id: str | None, data: dict[str, Any]) -> Event:
        """Record an event of this member and hand it to the subscribers; never waits."""
        now = time.time_ns() // 1000
        event_id = now if now > self._last_id else self._last_id + 1
        self._last_id = event_id
        event = Event(event_id, type, now, station_id, data)
        self._add(event)
        if self.forward is not None:
            self.forward(event)
        return event

    def accept(self, event: Event) -> None:
        """An event another member published (its id kept); never waits."""
        self._add(event)

    def _add(self, event: Event) -> None:
        buffer = self._buffer
        if len(buffer) == buffer.maxlen:
            oldest = buffer[0].id
            if oldest > self._forgotten_up_to:
                self._forgotten_up_to = oldest
        buffer.append(event)
        if self._subscribers:
            self._fan_out(event)

    def _fan_out(self, event: Event) -> None:
        # offer() queues the event; those that cannot take it are dropped after the loop.
        too_slow = [s for s in self._subscribers if s.wanted.matches(event) and not s.offer(event)]
        for subscriber in too_slow:
            self._remove(subscriber)
            subscriber._drop(TOO_SLOW)

    # -- out ------------------------------------------------------------------------------------

    def subscribe(
        self,
        wanted: EventFilter | None = None,
        *,
        after: int | None = None,
        internal: bool = False,
    ) -> Subscription:
        """Live events matching ``wanted``; with ``after``, first the buffered ones with a larger
        id (and ``behind`` set if events after it were forgotten already). ``internal``: for the
        node's own loops (see ``Subscription.internal``); like any subscriber, one that falls
        behind is dropped, and must subscribe again."""
        wanted = wanted or EventFilter()
        backlog: list[Event] = []
        behind = None
        if after is not None:
            backlog = [e for e in self._buffer if e.id > after and wanted.matches(e)]
            if after < self._forgotten_up_to:
                behind = self.oldest_id() or 0
        subscription = Subscription(self, wanted, backlog, internal=internal)
        subscription.behind = behind
        self._subscribers.append(subscription)
        return subscription

    def oldest_id(self) -> int | None:
        """The smallest id the buffer holds (None when empty)."""
        return min((e.id for e in self._buffer), default=None)

    def recent(self) -> list[Event]:
        """The buffered events, in the order this member learnt them."""
        return list(self._buffer)

    def subscriber_count(self) -> int:
        """Operators' streams open now (the node's own loops are not counted)."""
        return sum(1 for s in self._subscribers if not s.internal)

    def close(self) -> None:
        """End every subscription (the member stops): their streams end after what is queued."""
        for subscription in self._subscribers:
            subscription.close()

    def _remove(self, subscription: Subscription) -> None:
        # A new list, so that a fan-out in progress keeps iterating the old one.
        self._subscribers = [s for s in self._subscribers if s is not subscription]


def plain_events(events: Iterable[Event]) -> tuple[PlainEvent, ...]:
    return tuple(e.plain() for e in events)


def events_of_plain(events: Iterable[PlainEvent]) -> list[Event]:
    return [Event.of_plain(e) for e in events]
