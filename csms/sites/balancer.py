"""One site's rebalancing: compute the shares, send them, keep what the stations accepted.

"Never over the limit at any moment it controls" decides the order of the calls. What a session may
draw is what its station last accepted for it: its TxProfile; else the site's TxDefaultProfile
(nothing for its first ``start_hold`` seconds, then the minimum: counted at the minimum), if its
station accepted that before the CSMS stored the session's start; else its EVSE's rating if known,
else the assumed maximum (a session that started before its station had the default, e.g. one
running when its station joined the site or right after a reboot, may draw anything).
A round:

1. computes the shares of the sessions it can reach, out of the limit (a value the schedule is
   about to lower it to, one call timeout ahead) less what the sessions it cannot reach (station
   not connected) may draw;
2. sends every decrease, together, and waits for their answers. A station that rejects one or does
   not answer keeps what it had, so the shares are computed again without it, and any new decrease
   is sent the same way;
3. then the shares of the sessions whose draw is not known (nothing of the site accepted for
   them): whatever they draw now, they draw no more than their share once it is applied, and the
   others were lowered to make room for it;
4. only then sends the increases. One that fails leaves the session at its lower, counted, value,
   and what it did not take is shared out among the others in one more pass.

After every profile the site sends, the sum of what the sessions may draw stays within the limit,
unless the sessions it cannot control already draw more than it (then every other session gets 0).
A session that starts under the default draws nothing until its share arrives (an increase, sent
after the others were lowered), so a start does not take the site over either, as long as the
round it causes has its decreases answered within the hold.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.events import EventBus
from csms.sites import profiles
from csms.sites.allocator import Demand, allocate
from csms.sites.limits import budget_at, from_watts, in_site_unit, limit_at, session_minimum
from csms.station.router import CommandRouter
from gateway.calls import CommandError
from persistence.reads import Reads
from persistence.sites import (
    WHOLE_STATION,
    ActiveSession,
    AllocationRow,
    Site,
    SiteMember,
    active_sessions,
    allocation_of,
    allocation_recorded,
    evse_power_ratings,
    get_site,
    members_in_other_sites,
)
from persistence.sqltypes import utcnow
from persistence.writer import Writer
from transport.versions import OcppVersion

log = logging.getLogger(__name__)

ASSUMED_MAX_CURRENT = 32.0
"""Amperes per phase a session is taken to draw while no limit of the site was accepted for it
and its EVSE's rating is unknown: the largest common AC rating (IEC 62196-2 type 2 at 32 A)."""

SessionKey = tuple[str, int]
"""(station id, EVSE id) of a session."""


@dataclass(frozen=True, slots=True)
class AcceptedDefault:
    """A TxDefaultProfile of the site that a station accepted."""

    counted: float
    """What a session under it may draw at most (the minimum, after the hold)."""
    at: datetime
    """When the CSMS got the acceptance (``utcnow``, the clock of ``transactions.created_at``)."""


@dataclass(slots=True)
class SessionControl:
    """What the site knows of one session's limit."""

    transaction_id: str
    counted: float | None
    """What the session may draw as far as the site knows (the last limit its station accepted
    for it); None: unknown, the assumed maximum is counted."""
    limit: float = 0.0
    """The share last computed for it."""
    status: str = "pending"
    """"pending", "sent", "accepted" or "rejected", as in the allocation view."""
    tx_accepted: bool = False
    """Whether its station accepted a TxProfile of the site for this transaction."""


class SiteBalancer:
    """Rebalances sites one round at a time; the caller runs at most one round per site at once."""

    def __init__(
        self,
        *,
        reads: Reads,
        writer: Writer,
        router: CommandRouter,
        events: EventBus,
        clock: Callable[[], datetime],
        call_timeout: float,
        start_hold: float = 0.0,
    ) -> None:
        self._reads = reads
        self._writer = writer
        self._router = router
        self._events = events
        self._clock = clock
        self._call_timeout = call_timeout
        self._start_hold = math.ceil(start_hold)
        self._sessions: dict[str, dict[SessionKey, SessionControl]] = {}
        """Site id -> its sessions' control state."""
        self._defaults: dict[SessionKey, AcceptedDefault] = {}
        """(station, EVSE; 0 the whole station) -> the TxDefaultProfile it accepted."""
        self._known: dict[str, Site] = {}
        """Site id -> the site as last rebalanced (to clear what leaves it)."""
        self._published: dict[str, Any] = {}
        """Site id -> the allocation last published (without its time)."""
        self._written: dict[str, list[AllocationRow]] = {}
        """Site id -> the allocation rows last stored."""

    def forget(self) -> None:
        """Drop what this member knew of the stations (it stops or starts leading: another
        member may have changed their profiles meanwhile); the stored allocations remain."""
        self._sessions.clear()
        self._defaults.clear()
        self._known.clear()
        self._published.clear()
        self._written.clear()

    # -- calls -----------------------------------------------------------------------------------

    async def _call(self, station_id: str, action: str, payload: dict[str, Any]) -> bool:
        """Send a call; True if the station answered Accepted."""
        try:
            result = await self._router.call(
                station_id, action, payload, timeout=self._call_timeout
            )
        except CommandError as exc:
            log.info("%s: %s of its site not carried out: %s", station_id, action, exc)
            return False
        return result.violation is None and result.payload.get("status") == "Accepted"

    # -- membership ------------------------------------------------------------------------------

    async def send_defaults(self, site: Site, station_ids: set[str] | None = None) -> None:
        """Give ``site``'s members (those of ``station_ids`` if given) a TxDefaultProfile: 0 for
        the hold, then the minimum, so that a session starting there waits for its share."""
        minimum = session_minimum(site)

        async def send(station_id: str, evse_id: int) -> None:
            version = await self._router.version_of(station_id)
            if version is None:
                return
            payload = profiles.default_profile(
                version,
                evse_id=evse_id,
                limit=minimum,
                unit=site.limit_unit,
                phases=site.phases,
                hold=self._start_hold,
            )
            if await self._call(station_id, "SetChargingProfile", payload):
                self._defaults[(station_id, evse_id)] = AcceptedDefault(minimum, utcnow())
            else:
                self._defaults.pop((station_id, evse_id), None)

        await asyncio.gather(
            *(
                send(m.station_id, WHOLE_STATION if m.evse_id is None else m.evse_id)
                for m in site.members
                if station_ids is None or m.station_id in station_ids
            )
        )

    def _has_defaults(self, site: Site, station_id: str) -> bool:
        """Whether every member of ``site`` at ``station_id`` accepted the site's default."""
        return all(
            (m.station_id, WHOLE_STATION if m.evse_id is None else m.evse_id) in self._defaults
            for m in site.members
            if m.station_id == station_id
        )

    async def clear_left(self, before: Site, after: Site | None) -> None:
        """Clear the site profiles of the members of ``before`` that ``after`` no longer has,
        unless another site has them now: that site's profiles replace these (same ids), and a
        clear arriving after them would remove them."""
        staying = {(m.station_id, m.evse_id) for m in after.members} if after else set()
        gone = [m for m in before.members if (m.station_id, m.evse_id) not in staying]

        async def clear(station_id: str, evse_id: int | None) -> None:
            member = SiteMember(station_id, evse_id)
            if await members_in_other_sites(self._reads, before.id, [member]):
                return
            version = await self._router.version_of(station_id)
            if version is not None:
                await self._call(
                    station_id, "ClearChargingProfile", _clear_site_profiles(version, evse_id)
                )
            for key in list(self._defaults):
                if key[0] == station_id and (evse_id is None or key[1] == evse_id):
                    del self._defaults[key]
            # Its sessions' TxProfiles are gone too: they are sent again if still in a site.
            controls = self._sessions.get(before.id, {})
            for key in list(controls):
                if key[0] == station_id and (evse_id is None or key[1] == evse_id):
                    del controls[key]

        await asyncio.gather(*(clear(m.station_id, m.evse_id) for m in gone))

    # -- a round ---------------------------------------------------------------------------------

    async def rebalance(
        self,
        site_id: str,
        *,
        defaults_for: set[str] | None = None,
        defaults_missing: set[str] | None = None,
    ) -> None:
        """One round for ``site_id``: membership changes first (``defaults_for``: stations that
        need their TxDefaultProfile again; ``defaults_missing``: those that need it unless they
        accepted it already), then the sessions' shares."""
        site = await get_site(self._reads, site_id)
        before = self._known.get(site_id)
        if before is not None:
            await self.clear_left(before, site)
        if site is None:
            self._known.pop(site_id, None)
            self._sessions.pop(site_id, None)
            self._published.pop(site_id, None)
            self._written.pop(site_id, None)
            return
        self._known[site_id] = site
        if before is not None and (before.limit_unit, before.phases) != (
            site.limit_unit,
            site.phases,
        ):
            # Limits counted in another unit mean nothing now, the stored ones neither: the
            # sessions start over, counted as uncontrolled until they accept a new share.
            self._sessions[site_id] = {}
        wanted = set(defaults_for or ()) | {
            station_id
            for station_id in defaults_missing or ()
            if not self._has_defaults(site, station_id)
        }
        if wanted:
            await self.send_defaults(site, wanted)
        await self._share(site)

    async def _share(self, site: Site) -> None:
        # A falling scheduled value is shared out one call timeout ahead: lowered in time.
        budget = budget_at(site, self._clock(), self._call_timeout)
        minimum = session_minimum(site)
        active = await active_sessions(self._reads, site)
        controls = await self._controls(site, active)
        versions = {s.station_id: await self._router.version_of(s.station_id) for s in active}
        ratings = await evse_power_ratings(self._reads, [s.station_id for s in active])
        maxima = {key: from_watts(site, watts) for key, watts in ratings.items()}

        def drawn(key: SessionKey) -> float:
            counted = controls[key].counted
            return uncontrolled_draw(site, maxima.get(key)) if counted is None else counted

        # Sessions the site cannot reach keep what they may draw.
        fixed: set[SessionKey] = set()
        for s in active:
            key = (s.station_id, s.evse_id)
            if versions[s.station_id] is None:
                fixed.add(key)
                controls[key].status = "pending"
                controls[key].limit = drawn(key)

        while True:
            free = [s for s in active if _key(s) not in fixed]
            shares = allocate(
                budget - sum(drawn(k) for k in fixed),
                [Demand(_key(s), minimum, maxima.get(_key(s)), s.priority) for s in free],
            )
            for s in free:
                controls[_key(s)].limit = shares[_key(s)]
            phases = _phases(free, shares, controls)
            first = next((i for i, phase in enumerate(phases) if phase), None)
            if first is None:
                break
            batch = phases[first]
            for later in phases[first + 1 :]:
                for s in later:
                    controls[_key(s)].status = "pending"
            await self._record(site, active, controls, maxima, sending=[_key(s) for s in batch])
            results = await asyncio.gather(
                *(self._send_share(site, s, versions, controls) for s in batch)
            )
            # What a station that refused or did not answer had stays counted, and the others
            # are shared out again around it before anything else is sent.
            fixed.update(_key(s) for s, ok in zip(batch, results, strict=True) if not ok)
        await self._record(site, active, controls, maxima, sending=[])

    async def _controls(
        self, site: Site, active: list[ActiveSession]
    ) -> dict[SessionKey, SessionControl]:
        """The control state of the site's active sessions: kept from the last round, else taken
        from the stored allocation (a member that just took over the loop), else what the
        station's TxDefaultProfile allows if it had it before the session was stored."""
        known = self._sessions.get(site.id)
        if known is None:
            stored = {
                (r.station_id, r.evse_id): r for r in await allocation_of(self._reads, site.id)
            }
            known = {
                key: SessionControl(
                    row.transaction_id or "",
                    row.accepted_limit,
                    row.limit,
                    row.status,
                    tx_accepted=row.accepted_limit is not None,
                )
                for key, row in stored.items()
            }
        controls: dict[SessionKey, SessionControl] = {}
        for s in active:
            key = _key(s)
            control = known.get(key)
            if control is None or control.transaction_id != s.transaction_id:
                control = SessionControl(s.transaction_id, self._default_for(s))
            controls[key] = control
        self._sessions[site.id] = controls
        return controls

    def _default_for(self, session: ActiveSession) -> float | None:
        """What ``session`` may draw under its site's TxDefaultProfile, or None if its station
        did not have that when the session began (it may draw anything: a session running when
        its station joined the site, or one started between a reboot and the default's return).
        The CSMS stores a start after it got it, and a station sends the answer to the default
        before a start it makes under it: a start stored later came under the default."""
        default = self._defaults.get(
            _key(session), self._defaults.get((session.station_id, WHOLE_STATION))
        )
        if default is None or default.at >= session.stored_at:
            return None
        return default.counted

    async def _send_share(
        self,
        site: Site,
        session: ActiveSession,
        versions: dict[str, OcppVersion | None],
        controls: dict[SessionKey, SessionControl],
    ) -> bool:
        control = controls[_key(session)]
        version = versions[session.station_id]
        if version is None:
            control.status = "pending"
            return False
        payload = profiles.tx_profile(
            version,
            evse_id=session.evse_id,
            transaction_id=session.transaction_id,
            limit=control.limit,
            unit=site.limit_unit,
            phases=site.phases,
            min_rate=session_minimum(site) if site.limit_unit == "A" else None,
        )
        control.status = "sent"
        if await self._call(session.station_id, "SetChargingProfile", payload):
            control.counted = control.limit
            control.status = "accepted"
            control.tx_accepted = True
            return True
        control.status = "rejected"
        return False

    # -- the view --------------------------------------------------------------------------------

    async def _record(
        self,
        site: Site,
        active: list[ActiveSession],
        controls: dict[SessionKey, SessionControl],
        maxima: dict[SessionKey, float],
        *,
        sending: list[SessionKey],
    ) -> None:
        """Store the allocation as it stands (``sending``: about to be sent, shown as "sent"
        or "pending") and publish it when it changed."""
        about_to_send = set(sending)
        rows = []
        for s in active:
            key = _key(s)
            c = controls[key]
            status = c.status
            if key in about_to_send:
                status = "sent"
            rows.append(
                AllocationRow(
                    station_id=s.station_id,
                    evse_id=s.evse_id,
                    transaction_id=s.transaction_id,
                    limit=c.limit,
                    unit=site.limit_unit,
                    priority=s.priority,
                    status=status,
                    accepted_limit=c.counted,
                )
            )
        now = self._clock()
        if self._written.get(site.id) == rows:
            return
        await self._writer.submit(allocation_recorded(site.id, now, rows))
        self._written[site.id] = rows
        view = allocation_view(site, rows, now, limit=limit_at(site, now), maxima=maxima)
        unchanged = {k: v for k, v in view.items() if k != "computed_at"}
        if self._published.get(site.id) != unchanged:
            self._published[site.id] = unchanged
            self._events.publish("site.allocated", None, view)


def _key(session: ActiveSession) -> SessionKey:
    return (session.station_id, session.evse_id)


def _phases(
    free: list[ActiveSession],
    shares: Mapping[Any, float],
    controls: Mapping[SessionKey, SessionControl],
) -> tuple[list[ActiveSession], list[ActiveSession], list[ActiveSession]]:
    """The profiles still to send, in the order that never raises what the sessions may draw
    together above the shares: (decreases, uncertain, increases). Each phase is sent only once
    the one before it was answered.

    - decreases: below what the session may draw now: nothing rises;
    - uncertain: sessions whose draw is not known (nothing of the site accepted for them: it may
      be anything from 0, held by the default, to their maximum), once the others are lowered;
    - increases: above what it may draw, or equal but not yet carried by its own TxProfile."""
    decreases, uncertain, increases = [], [], []
    for s in free:
        control = controls[_key(s)]
        share = shares[_key(s)]
        if control.counted is None:
            uncertain.append(s)
        elif share < control.counted:
            decreases.append(s)
        elif share > control.counted or not control.tx_accepted:
            increases.append(s)
    return decreases, uncertain, increases


def _clear_site_profiles(version: OcppVersion, evse_id: int | None) -> dict[str, Any]:
    """ClearChargingProfile of every site profile (recognised by its stack level) of a station, or
    of one of its EVSEs (1.6 section 5.4, 2.0.1 K10 chargingProfileCriteria)."""
    if version.is_2x:
        criteria: dict[str, Any] = {"stackLevel": profiles.SITE_STACK_LEVEL}
        if evse_id is not None:
            criteria["evseId"] = evse_id
        return {"chargingProfileCriteria": criteria}
    payload: dict[str, Any] = {"stackLevel": profiles.SITE_STACK_LEVEL}
    if evse_id is not None:
        payload["connectorId"] = evse_id
    return payload


def uncontrolled_draw(site: Site, maximum: float | None) -> float:
    """What a session is counted for while no limit of the site was accepted for it: its EVSE's
    rating if known (in the site's unit), else the assumed maximum, whichever is lower."""
    assumed = in_site_unit(site, ASSUMED_MAX_CURRENT)
    return assumed if maximum is None else min(assumed, maximum)


def allocation_view(
    site: Site,
    rows: list[AllocationRow],
    computed_at: datetime | None,
    *,
    limit: float,
    maxima: Mapping[SessionKey, float],
) -> dict[str, Any]:
    """The allocation as the REST API and the ``site.allocated`` event show it. ``allocated`` is
    what the sessions may draw by what their stations accepted (``uncontrolled_draw`` where
    nothing was); ``maxima``: the known EVSE ratings in the site's unit."""

    def counted(r: AllocationRow) -> float:
        if r.accepted_limit is not None:
            return r.accepted_limit
        return uncontrolled_draw(site, maxima.get((r.station_id, r.evse_id)))

    return {
        "site_id": site.id,
        "limit": {"unit": site.limit_unit, "value": limit, "phases": site.phases},
        "allocated": round(sum(counted(r) for r in rows), 6),
        "sessions": [
            {
                "station_id": r.station_id,
                "evse_id": r.evse_id,
                "transaction_id": r.transaction_id,
                "limit": r.limit,
                "unit": r.unit,
                "priority": r.priority,
                "status": r.status,
                "accepted_limit": r.accepted_limit,
            }
            for r in rows
        ],
        "computed_at": computed_at,
    }
