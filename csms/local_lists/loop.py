"""Keeps the stations' local lists in sync, on the member that runs the cluster's single loops:
each round sends a Differential update to every connected station whose list changed, and a
station that connects or boots gets its version checked and what it misses (1.6 section 3.5,
2.0.1 D01/D02). A station that answered NotSupported is left alone until its filter is set again
or it boots; one that failed or did not answer is tried again after ``RETRY_INTERVAL``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from csms.events import Event, EventBus, EventFilter, Subscription
from csms.local_lists.entries import TokenSnapshot
from csms.local_lists.limits import items_per_message
from csms.local_lists.sync import NotManaged, Ports, reconcile, sync_list
from csms.station.features import FeatureContext
from csms.station.registration import standing_of
from gateway.calls import CommandError, CommandResult
from persistence.local_lists import LocalListState, dirty_lists, get_local_list, managed_lists
from persistence.records import RegistrationStatus
from persistence.stations import get_station
from persistence.writer import WriteOp
from transport.versions import OcppVersion

log = logging.getLogger(__name__)

ROUND_INTERVAL = 1.0
"""Seconds between rounds over the changed lists and the stations that arrived."""
RETRY_INTERVAL = 60.0
"""Seconds before a list whose last update failed or got no answer is sent again."""
CALL_TIMEOUT = 30.0
"""Seconds a station has to answer the loop's calls."""
MAX_CONCURRENT = 32
"""Stations the loop talks to at once."""
_STATION_EVENTS = ("station.connected", "station.booted")


async def _ports(
    ctx: FeatureContext,
    station_id: str,
    version: OcppVersion,
    tokens: TokenSnapshot | None = None,
) -> Ports:
    async def write(op: WriteOp) -> Any:
        (result,) = await ctx.writer.submit(op)
        return result

    async def send(action: str, payload: dict[str, Any]) -> CommandResult:
        return await ctx.router.call(station_id, action, payload, timeout=CALL_TIMEOUT)

    limit = await items_per_message(ctx.router, ctx.reads, station_id, version)
    return Ports(ctx.reads, write, send, version, limit, tokens)


def _due(state: LocalListState, ctx: FeatureContext) -> bool:
    if state.last_sync_status == "NotSupported":
        return False
    failed = state.last_error is not None or state.last_sync_status not in (None, "Accepted")
    if failed and state.last_attempt_at is not None:
        return ctx.clock() - state.last_attempt_at >= timedelta(seconds=RETRY_INTERVAL)
    return True


async def _accepted(ctx: FeatureContext, station_id: str) -> bool:
    """Lists go to accepted stations only (OCPP 1.6 section 4.2.1, 2.0.1 B02)."""
    station = await get_station(ctx.reads, station_id)
    return (
        station is not None
        and station.registered
        and station.allowed
        and standing_of(station) is RegistrationStatus.ACCEPTED
    )


Work = Callable[[], Awaitable[None]]


class StationWork:
    """The per-station work of the loop: at most one task per station (a station that does not
    answer holds up only itself), at most ``MAX_CONCURRENT`` at a time, owned by the loop's task
    group. Work asked for while the station's runs is kept (the latest only) and runs next: a
    boot that comes while the check after the connection waits for an answer is not lost."""

    def __init__(self, group: asyncio.TaskGroup) -> None:
        self._group = group
        self._busy: set[str] = set()
        self._next: dict[str, Work] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)

    def busy(self, station_id: str) -> bool:
        return station_id in self._busy

    def start(self, station_id: str, work: Work) -> None:
        """Run ``work`` for the station, after what runs for it already."""
        if station_id in self._busy:
            self._next[station_id] = work
            return
        self._busy.add(station_id)
        self._group.create_task(self._run(station_id, work), name=f"local-list:{station_id}")

    async def _run(self, station_id: str, work: Work) -> None:
        try:
            next_work: Work | None = work
            while next_work is not None:
                await self._attempt(station_id, next_work)
                next_work = self._next.pop(station_id, None)
        finally:
            self._busy.discard(station_id)

    async def _attempt(self, station_id: str, work: Work) -> None:
        try:
            async with self._slots:
                await work()
        except (CommandError, NotManaged) as exc:
            log.info("%s: local list not sent: %s", station_id, exc)
        except Exception:
            # A failing store now may work later; the list stays behind and is tried again.
            log.exception("%s: local list sync failed", station_id)


async def sync_changed_lists(ctx: FeatureContext, stations: StationWork) -> None:
    """One round: a Differential update for each connected station whose list changed. What
    may wait on a store or a station runs in the station's own work, not in the round."""
    tokens = TokenSnapshot(ctx.reads)
    for state in await dirty_lists(ctx.reads):
        if not ctx.leads():
            return
        station_id = state.station_id
        if not _due(state, ctx) or stations.busy(station_id):
            continue
        if await ctx.router.version_of(station_id) is None:
            continue

        async def send(station_id: str = station_id, generation: int = state.generation) -> None:
            version = await ctx.router.version_of(station_id)
            if version is None or not await _accepted(ctx, station_id):
                return
            # The snapshot of the id tokens is read after the generations were: it is at least
            # as new as they are.
            ports = await _ports(ctx, station_id, version, tokens)
            await sync_list(ports, station_id, full=False, generation=generation, if_changed=True)

        stations.start(station_id, send)


async def check_arrived(ctx: FeatureContext, station_id: str) -> None:
    """A station connected or booted: check its version and send what it misses. Everything is
    read when it runs, which may be after an earlier check of the station ended."""
    state = await get_local_list(ctx.reads, station_id)
    if state is None or state.filter is None:
        return
    version = await ctx.router.version_of(station_id)
    if version is None or not await _accepted(ctx, station_id):
        return
    await reconcile(await _ports(ctx, station_id, version), station_id)


def _check_when_free(ctx: FeatureContext, stations: StationWork, station_id: str) -> None:
    async def check() -> None:
        await check_arrived(ctx, station_id)

    stations.start(station_id, check)


def station_arrived(ctx: FeatureContext, event: Event, stations: StationWork) -> None:
    if event.station_id is None:
        return
    if event.type == "station.booted" and event.data.get("boot_status") != "Accepted":
        return
    _check_when_free(ctx, stations, event.station_id)


class Arrivals:
    """The stations that connected or booted (on any member: their events are forwarded here),
    from a subscription of the node's own (``internal``: not one of the operators' streams).
    ``follow`` drains it as events come, so that a reconnecting fleet does not make the bus drop
    it; should it be dropped all the same, it subscribes again, and ``take`` says that arrivals
    were missed: then every managed list is checked."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._subscription = self._subscribe()
        self._latest: dict[str, Event] = {}
        self._missed = False

    def _subscribe(self) -> Subscription:
        return self._bus.subscribe(EventFilter(types=_STATION_EVENTS), internal=True)

    async def follow(self) -> None:
        """Runs until cancelled."""
        try:
            while True:
                event = await self._subscription.next()
                if event is None:
                    self._missed = True
                    self._subscription = self._subscribe()
                elif event.station_id is not None:
                    # The latest of a station says the most (a boot after its connection).
                    self._latest.pop(event.station_id, None)
                    self._latest[event.station_id] = event
        finally:
            self._subscription.close()

    def pending(self) -> int:
        """Stations whose arrival was not taken yet."""
        return len(self._latest)

    def take(self) -> list[Event] | None:
        """The latest arrival of each station since the last call, oldest first; None when some
        were missed."""
        taken = list(self._latest.values())
        self._latest.clear()
        if self._missed:
            self._missed = False
            return None
        return taken


async def _every_managed_station(ctx: FeatureContext, stations: StationWork) -> None:
    """Arrivals were missed: check every station whose list voltmesh builds (those not connected
    are passed over when their check runs)."""
    log.warning("station arrivals were missed: checking every local list")
    for station_id, _ in await managed_lists(ctx.reads):
        _check_when_free(ctx, stations, station_id)


async def keep_lists_in_sync(ctx: FeatureContext) -> None:
    """Runs while the member does; acts only while it leads the cluster's single loops."""
    arrivals = Arrivals(ctx.events)
    async with asyncio.TaskGroup() as group:
        group.create_task(arrivals.follow(), name="local-list:arrivals")
        stations = StationWork(group)
        leading = False
        while True:
            await asyncio.sleep(ROUND_INTERVAL)
            arrived = arrivals.take()
            if not ctx.leads():
                leading = False
                continue
            try:
                if arrived is None or not leading:
                    # Newly leading (arrivals before this were another member's to handle, and
                    # it may have died with them), or events were missed: every list is checked.
                    leading = True
                    await _every_managed_station(ctx, stations)
                else:
                    for event in arrived:
                        station_arrived(ctx, event, stations)
                await sync_changed_lists(ctx, stations)
            except Exception:
                log.exception("local list round failed")
                leading = False  # what this round took is lost: check every list next time
