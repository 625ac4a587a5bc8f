"""The cluster's one site loop: what makes a site rebalance, and one worker per site.

It runs on every member but works only while ``ctx.leads()``. A site is rebalanced when
- a session starts or ends at one of its members (``transaction.started``, ``transaction.ended``,
  published by the session actors of any member and forwarded to this one);
- the site is created, replaced or deleted (``site.changed``, published by the REST API);
- a member station connects (``station.connected``): it gets the site's TxDefaultProfile again,
  as a station that rebooted (and so connected again) may have lost it; or boots
  (``station.booted``): it gets the default if it has none accepted on this connection yet;
- its schedule's value changes, and every ``resync`` seconds whatever happened (a missed event,
  a station that rejected or did not answer and may accept now).

Each site has at most one round running; events that arrive meanwhile ask for one more round,
however many they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from csms.events import Event, EventFilter, Subscription
from csms.sites.balancer import SiteBalancer
from csms.sites.limits import next_budget_change
from csms.station.features import FeatureContext
from persistence.sites import Site, all_sites

log = logging.getLogger(__name__)

TRIGGERS = (
    "transaction.started",
    "transaction.evse",
    "transaction.ended",
    "site.changed",
    "station.connected",
    "station.booted",
)
"""Events that may change a site's allocation."""


@dataclass(slots=True)
class _Work:
    """What a site's next round must do."""

    wanted: bool = False
    defaults_for: set[str] = field(default_factory=set)
    """Stations that need the site's TxDefaultProfile (again)."""
    defaults_missing: set[str] = field(default_factory=set)
    """Stations that need it unless they accepted it already."""


class SiteWorkers:
    """One worker task per site with work, all owned by a task group."""

    def __init__(self, balancer: SiteBalancer, group: asyncio.TaskGroup) -> None:
        self.balancer = balancer
        self._group = group
        self._work: dict[str, _Work] = {}
        self._running: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def poke(
        self,
        site_id: str,
        *,
        defaults_for: set[str] | None = None,
        defaults_missing: set[str] | None = None,
    ) -> None:
        """Ask for a round of ``site_id`` (after the one running, if any)."""
        work = self._work.setdefault(site_id, _Work())
        work.wanted = True
        work.defaults_for |= defaults_for or set()
        work.defaults_missing |= defaults_missing or set()
        if site_id not in self._running:
            self._running.add(site_id)
            self._tasks[site_id] = self._group.create_task(
                self._run(site_id), name=f"site:{site_id}"
            )

    def idle(self) -> bool:
        return not self._running

    def stop_all(self) -> None:
        """This member no longer leads: what is asked for is dropped and the rounds under way are
        cancelled, so that only the new leader sends the sites' profiles."""
        self._work.clear()
        for task in self._tasks.values():
            task.cancel()

    async def _run(self, site_id: str) -> None:
        try:
            while (work := self._work.pop(site_id, None)) is not None and work.wanted:
                try:
                    await self.balancer.rebalance(
                        site_id,
                        defaults_for=work.defaults_for,
                        defaults_missing=work.defaults_missing,
                    )
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The next event or the resync tries again; the loop must outlive one round.
                    log.exception("site %s: rebalancing failed", site_id)
        finally:
            self._running.discard(site_id)
            self._tasks.pop(site_id, None)


@dataclass(frozen=True, slots=True)
class SiteLoopSettings:
    """The loop's timings, from ``VOLTMESH_SITE_*`` environment variables read once at start."""

    resync: float = 60.0
    """VOLTMESH_SITE_RESYNC: seconds between rounds of every site whatever happened."""
    call_timeout: float = 30.0
    """VOLTMESH_SITE_CALL_TIMEOUT: seconds a station has to answer a site's profile; one that
    does not is counted at what it had."""
    start_hold: float = 120.0
    """VOLTMESH_SITE_START_HOLD: seconds a session that starts at a site member is held at 0 by
    the site's TxDefaultProfile, waiting for its share, before it may draw the minimum (0: no
    hold, the minimum from the start). Longer than a round takes to lower the others (about
    the call timeout) and than ``resync`` (a 2.x session whose EVSE is named late is picked up
    by the periodic round), so that a start never takes the site over its limit."""
    follower_poll: float = 5.0
    """Seconds between two looks at whether this member leads now."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SiteLoopSettings:
        defaults = cls()
        return cls(
            resync=_seconds(env, "VOLTMESH_SITE_RESYNC", defaults.resync),
            call_timeout=_seconds(env, "VOLTMESH_SITE_CALL_TIMEOUT", defaults.call_timeout),
            start_hold=_seconds(
                env, "VOLTMESH_SITE_START_HOLD", defaults.start_hold, zero_allowed=True
            ),
        )


def _seconds(
    env: Mapping[str, str], name: str, default: float, *, zero_allowed: bool = False
) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not (value >= 0 if zero_allowed else value > 0) or not math.isfinite(value):
        raise ValueError(
            f"{name} must be {'zero or more' if zero_allowed else 'positive'}, not {raw!r}"
        )
    return value


async def site_loop(ctx: FeatureContext, settings: SiteLoopSettings | None = None) -> None:
    """Run the site workers while this member leads; see the module docstring."""
    s = settings or SiteLoopSettings.from_env()
    resync, follower_poll = s.resync, s.follower_poll
    balancer = SiteBalancer(
        reads=ctx.reads,
        writer=ctx.writer,
        router=ctx.router,
        events=ctx.events,
        clock=ctx.clock,
        call_timeout=s.call_timeout,
        start_hold=s.start_hold,
    )
    while True:
        subscription = ctx.events.subscribe(EventFilter(types=TRIGGERS), internal=True)
        try:
            async with asyncio.TaskGroup() as group:
                workers = SiteWorkers(balancer, group)
                await _follow(ctx, subscription, workers, resync, follower_poll, s.call_timeout)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("site loop failed; starting again")
            # A store that fails would fail the next attempt at once as well.
            await asyncio.sleep(follower_poll)
        finally:
            subscription.close()


async def _follow(
    ctx: FeatureContext,
    subscription: Subscription,
    workers: SiteWorkers,
    resync: float,
    follower_poll: float,
    lead: float,
) -> None:
    """Turn events and timers into site rounds until the subscription is dropped (then the
    caller subscribes again, and every site is rebalanced: events were missed)."""
    leading = False
    next_resync = 0.0
    loop = asyncio.get_running_loop()
    schedule_at: datetime | None = None
    memberships: dict[str, list[str]] = {}
    while subscription.dropped is None:
        if not ctx.leads():
            if leading:
                leading = False
                workers.stop_all()
                workers.balancer.forget()
            # Another member runs the sites; keep the queue empty and look again later.
            await _next_event(subscription, follower_poll)
            while subscription.take_now() is not None:
                pass
            continue
        if not leading or loop.time() >= next_resync or _due(ctx, schedule_at):
            # Newly leading, or time for the periodic round: every site, with its defaults.
            fresh = not leading
            leading = True
            if fresh:
                workers.balancer.forget()
            sites = await all_sites(ctx.reads)
            for site in sites:
                members = {m.station_id for m in site.members} if fresh else None
                workers.poke(site.id, defaults_for=members)
            schedule_at = _earliest(ctx.clock(), sites, lead)
            memberships = _memberships(sites)
            next_resync = loop.time() + resync
        wait = next_resync - loop.time()
        if schedule_at is not None:
            wait = min(wait, max(0.0, (schedule_at - ctx.clock()).total_seconds()))
        event = await _next_event(subscription, max(0.0, wait))
        sites_changed = False
        while event is not None:
            sites_changed |= _handle(event, workers, memberships)
            event = subscription.take_now()
        if sites_changed:
            # A new or changed schedule may change the limit sooner; members come and go.
            sites = await all_sites(ctx.reads)
            schedule_at = _earliest(ctx.clock(), sites, lead)
            memberships = _memberships(sites)


def _due(ctx: FeatureContext, at: datetime | None) -> bool:
    return at is not None and ctx.clock() >= at


def _earliest(now: datetime, sites: list[Site], lead: float) -> datetime | None:
    changes = [next_budget_change(s, now, lead) for s in sites]
    times = [c for c in changes if c is not None]
    return min(times) if times else None


async def _next_event(subscription: Subscription, timeout: float) -> Event | None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            return await subscription.next()
    return None


def _memberships(sites: list[Site]) -> dict[str, list[str]]:
    """Station id -> the ids of the sites it or one of its EVSEs is in."""
    by_station: dict[str, list[str]] = {}
    for site in sites:
        for station_id in sorted({m.station_id for m in site.members}):
            by_station.setdefault(station_id, []).append(site.id)
    return by_station


def _handle(event: Event, workers: SiteWorkers, memberships: dict[str, list[str]]) -> bool:
    """Ask for the rounds an event calls for; True if it was a site's change. A session event of
    a station that joined a site since ``memberships`` was read is covered by the round the
    site's change asks for."""
    if event.type == "site.changed":
        site_id = event.data.get("site_id")
        if isinstance(site_id, str):
            members = event.data.get("stations")
            stations = {s for s in members if isinstance(s, str)} if members else None
            workers.poke(site_id, defaults_for=stations)
        return True
    if event.station_id is None:
        return False
    station = {event.station_id}
    for site_id in memberships.get(event.station_id, ()):
        if event.type == "station.connected":
            workers.poke(site_id, defaults_for=station)
        elif event.type == "station.booted":
            workers.poke(site_id, defaults_missing=station)
        else:
            workers.poke(site_id)
    return False
