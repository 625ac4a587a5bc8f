"""Sites of a load management run (``[[sites]]``): stations under a grid connection limit, created
in the central system through its REST API (``PUT /api/v1/sites/{id}``) before the stations
connect, and plotted in the report against the power the stations drew."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import StrictInt, StrictStr

from sim.fleet.scenario_fields import NonNegative, Positive, check, matching, table

_HHMM = matching(r"([01]\d|2[0-3]):[0-5]\d", "must be a time of day HH:MM (UTC)")


@table
class SiteLimit:
    """The grid connection's limit: per phase in A, or in total in W."""

    unit: Annotated[StrictStr, check(lambda u: u in ("A", "W"), "must be A or W")] = "A"
    value: NonNegative
    phases: Annotated[StrictInt, check(lambda n: 1 <= n <= 3, "must be 1, 2 or 3")] = 3


@table
class SiteScheduleEntry:
    """From ``start`` (UTC, HH:MM) until the next entry, ``value`` replaces the limit's value.
    The central system applies it on its own clock, the wall clock, whatever the run's
    acceleration."""

    start: Annotated[StrictStr, _HHMM]
    value: NonNegative


@table
class Site:
    """One site (an entry of ``[[sites]]``): whole stations of some models, or named ones."""

    id: Annotated[StrictStr, matching(r"[A-Za-z0-9._-]{1,64}", "must be 1-64 of A-Z a-z 0-9 . _ -")]
    name: StrictStr = ""
    limit: SiteLimit
    min_current: NonNegative = 6.0
    """A per phase below which a session gets 0 instead (2.0.1 K08 / 1.6 minChargingRate)."""
    schedule: tuple[SiteScheduleEntry, ...] = ()
    models: tuple[StrictStr, ...] = ()
    """Fleet models whose every station belongs to the site."""
    stations: tuple[StrictStr, ...] = ()
    """Station ids that belong to the site."""
    priority: StrictInt = 0
    """Priority of its members (higher is served first)."""
    voltage: Positive = 230.0
    """Volts per phase, to plot an A limit in W."""

    def value_at(self, moment: datetime) -> float:
        """The limit's value at ``moment`` (the schedule entry in force, else ``limit.value``)."""
        if not self.schedule:
            return self.limit.value
        minute = moment.hour * 60 + moment.minute
        entries = sorted(self.schedule, key=lambda e: e.start)
        # Before the day's first entry the previous day's last one is still in force.
        value = entries[-1].value
        for entry in entries:
            hours, minutes = entry.start.split(":")
            if int(hours) * 60 + int(minutes) <= minute:
                value = entry.value
        return value

    def limit_w_at(self, moment: datetime) -> float:
        """The limit at ``moment`` in W."""
        value = self.value_at(moment)
        if self.limit.unit == "W":
            return value
        return value * self.voltage * self.limit.phases

    def body(self, members: list[str]) -> dict[str, Any]:
        """The ``PUT /api/v1/sites/{id}`` body for these member stations."""
        body: dict[str, Any] = {
            "name": self.name or self.id,
            "limit": {
                "unit": self.limit.unit,
                "value": self.limit.value,
                "phases": self.limit.phases,
            },
            "min_current": self.min_current,
            "members": [
                {"station_id": station, "evse_id": None, "priority": self.priority}
                for station in members
            ],
        }
        if self.schedule:
            body["schedule"] = [{"start": e.start, "value": e.value} for e in self.schedule]
        return body
