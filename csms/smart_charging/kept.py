"""What voltmesh keeps of a station's smart charging, read back as the model: the profiles it
accepted, the external limits it reported, and the composite schedule computed from both."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from csms.smart_charging.composite import CompositeSchedule, ExternalLimit, composite_schedule
from csms.smart_charging.model import InstalledProfile, Purpose, RateUnit
from csms.smart_charging.translate import profile_from_wire, schedule_from_wire
from persistence.charging_profiles import active_transaction, list_limits, list_profiles
from persistence.reads import Reads
from transport.versions import OcppVersion


def installed_of_row(row: Mapping[str, Any]) -> InstalledProfile:
    """A kept row as the model (from the wire form the station accepted, with the transaction a
    TxProfile sent without one was bound to)."""
    version = OcppVersion(row["protocol"])
    profile = profile_from_wire(version, row["station_id"], row["wire"])
    profile = dataclasses.replace(profile, transaction_id=row["transaction_id"])
    return InstalledProfile(int(row["evse_id"]), profile)


def external_of_rows(rows: Iterable[Mapping[str, Any]]) -> list[ExternalLimit]:
    """The reported limits that come with a schedule."""
    return [
        ExternalLimit(int(row["evse_id"]), schedule_from_wire(schedule))
        for row in rows
        for schedule in (row["schedules"] or [])[:1]
    ]


async def computed_composite(
    reads: Reads,
    station_id: str,
    *,
    evse_id: int,
    start: datetime,
    duration: int,
    unit: RateUnit,
    without: frozenset[Purpose] = frozenset(),
) -> CompositeSchedule:
    """voltmesh's composite schedule of an EVSE from what it keeps of the station, with the
    transaction running there now; ``without`` leaves out the profiles of those purposes."""
    installed = [
        p
        for p in map(installed_of_row, await list_profiles(reads, station_id))
        if p.profile.purpose not in without
    ]
    external = external_of_rows(await list_limits(reads, station_id))
    running = await active_transaction(reads, station_id, evse_id) if evse_id else None
    return composite_schedule(
        installed,
        evse_id=evse_id,
        start=start,
        duration=duration,
        unit=unit,
        transaction_id=None if running is None else running[0],
        transaction_start=None if running is None else running[1],
        external=external,
    )
