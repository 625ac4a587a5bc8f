"""A site's limit at a given moment, and what it means for one session.

A schedule is a daily cycle in UTC: each entry's value replaces ``limit.value`` from its start until
the next entry's start, the last entry's until the first's on the next day. With a schedule,
``limit.value`` is therefore never in force; without one, always.

The site shares out a budget that anticipates the schedule by a lead (about the time a station has
to answer): a value that falls is shared out that much before it starts, so the sessions are
lowered by the time it is in force; one that rises is shared out when it starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from csms.sites.allocator import NOMINAL_VOLTAGE
from persistence.sites import Site

MINUTES_PER_DAY = 24 * 60


def _minute_of_day(now: datetime) -> int:
    return now.hour * 60 + now.minute


def limit_at(site: Site, now: datetime) -> float:
    """The site's limit at ``now`` (UTC), in its unit."""
    if not site.schedule:
        return site.limit_value
    minute = _minute_of_day(now)
    # Before the day's first entry, the previous day's last one is in force.
    value = site.schedule[-1].value
    for entry in site.schedule:
        if entry.start_minute <= minute:
            value = entry.value
    return value


def next_change(site: Site, now: datetime) -> datetime | None:
    """When the site's limit may next change by its schedule (the next entry's start, today or
    the first one's tomorrow); None without a schedule."""
    if not site.schedule:
        return None
    minute = _minute_of_day(now)
    starts = [e.start_minute for e in site.schedule if e.start_minute > minute]
    at = starts[0] if starts else MINUTES_PER_DAY + site.schedule[0].start_minute
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(minutes=at)


MAX_LEAD = 60.0
"""Seconds: at most one schedule entry starts within a lead (entries are whole minutes apart)."""


def budget_at(site: Site, now: datetime, lead: float) -> float:
    """What the site shares out at ``now``: the lower of its limit now and ``lead`` seconds from
    now (at most ``MAX_LEAD``)."""
    ahead = now + timedelta(seconds=min(lead, MAX_LEAD))
    return min(limit_at(site, now), limit_at(site, ahead))


def next_budget_change(site: Site, now: datetime, lead: float) -> datetime | None:
    """When ``budget_at`` may next change: the next entry's start, or ``lead`` before it."""
    change = next_change(site, now)
    if change is None:
        return None
    lead = min(lead, MAX_LEAD)
    early = next_change(site, now + timedelta(seconds=lead))
    return change if early is None else min(change, early - timedelta(seconds=lead))


def session_minimum(site: Site) -> float:
    """The least a session may be given, in the site's unit: ``min_current`` per phase, in W on
    the site's phases at the nominal voltage for a site limited in W."""
    if site.limit_unit == "W":
        return site.min_current * NOMINAL_VOLTAGE * site.phases
    return site.min_current


def in_site_unit(site: Site, amperes: float) -> float:
    """A current per phase (a session's known maximum) in the site's unit."""
    if site.limit_unit == "W":
        return amperes * NOMINAL_VOLTAGE * site.phases
    return amperes


def from_watts(site: Site, watts: float) -> float:
    """A power (an EVSE's rating) in the site's unit: per phase on the site's phases for A."""
    if site.limit_unit == "W":
        return watts
    return watts / (NOMINAL_VOLTAGE * site.phases)
