"""voltmesh's own composite schedule of an EVSE: what the profiles it keeps for a station allow,
second by second, computed the way a station computes its answer to GetCompositeSchedule.

The rules (OCPP 1.6 section 3.13.2-3.13.4, 2.0.1 K08 and the "Charging profile stacking" section):
- Within one purpose the profile with the highest stack level that is in force at that moment
  wins: valid (``valid_from`` <= t < ``valid_to``) and with a schedule period covering t (a
  schedule ends after its ``duration``; then the next stack level below applies). A profile on
  the EVSE itself is preferred to one on EVSE 0 at the same stack level.
- A TxProfile applies only while a transaction runs on the EVSE (and only to its own
  transaction, when it names one); it then replaces the TxDefaultProfile.
- The EVSE's limit is the minimum of the station maximum (ChargingStationMaxProfile on EVSE 0),
  the transaction's limit (TxProfile, else TxDefaultProfile) and any external limit the station
  reported (NotifyChargingLimit, ChargingStationExternalConstraints). EVSE 0's composite is the
  station maximum and the external limits on the station.
- Absolute schedules start at their start; Recurring ones at their start plus whole days or
  weeks (the recurrence in force at t); Relative ones when the transaction started (without a
  transaction: at the window's start, as for a session that starts now).
- Limits are converted between A (per phase) and W (total) with ``voltage`` volts per phase and
  the period's number of phases (3 when not given).

Pure: no I/O, no clock; the caller passes the window and what is known of the transaction.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from csms.smart_charging.model import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfile,
    Kind,
    Purpose,
    RateUnit,
    Recurrency,
    SchedulePeriod,
)

NOMINAL_VOLTAGE = 230.0
"""Volts per phase used to convert A to W (EN 50160 nominal low voltage)."""
DEFAULT_PHASES = 3
"""OCPP 1.6 and 2.0.1: numberPhases absent means 3."""
_CYCLE = {Recurrency.DAILY: timedelta(days=1), Recurrency.WEEKLY: timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class CompositePeriod:
    start_period: int
    """Seconds after the composite schedule's start."""
    limit: float | None
    """In the composite's unit; None: no profile limits the EVSE then."""
    number_phases: int | None
    """Of the profile period that sets the limit."""


@dataclass(frozen=True, slots=True)
class CompositeSchedule:
    evse_id: int
    start: datetime
    duration: int
    unit: RateUnit
    periods: tuple[CompositePeriod, ...]
    """From 0, each until the next (the last until ``duration``); neighbours always differ."""


@dataclass(frozen=True, slots=True)
class ExternalLimit:
    """A limit a station reported as set by another system (2.0.1 K12 NotifyChargingLimit)."""

    evse_id: int
    schedule: ChargingSchedule


@dataclass(frozen=True, slots=True)
class _Placed:
    """A profile or an external limit as a candidate for one purpose."""

    evse_id: int
    profile: ChargingProfile


def schedule_view(schedule: CompositeSchedule) -> dict[str, Any]:
    """The JSON view: ``{"evse_id", "start", "duration", "unit", "periods": [...]}``."""
    return {
        "evse_id": schedule.evse_id,
        "start": schedule.start,
        "duration": schedule.duration,
        "unit": schedule.unit.value,
        "periods": [
            {"start_period": p.start_period, "limit": p.limit, "number_phases": p.number_phases}
            for p in schedule.periods
        ],
    }


def _anchor(
    profile: ChargingProfile, schedule: ChargingSchedule, t: datetime, relative_start: datetime
) -> datetime:
    """When the schedule (in force at ``t``, for a recurring one) started."""
    if profile.kind is Kind.RELATIVE:
        return relative_start
    base = schedule.start or relative_start
    if profile.kind is Kind.RECURRING:
        cycle = _CYCLE[profile.recurrency or Recurrency.DAILY]
        return base + cycle * math.floor((t - base) / cycle)
    return base


def _period_at(
    profile: ChargingProfile, t: datetime, relative_start: datetime
) -> tuple[SchedulePeriod, RateUnit] | None:
    """The period of the profile's (first) schedule in force at ``t``, if any."""
    if profile.valid_from is not None and t < profile.valid_from:
        return None
    if profile.valid_to is not None and t >= profile.valid_to:
        return None
    schedule = profile.schedules[0]
    offset = (t - _anchor(profile, schedule, t, relative_start)).total_seconds()
    if offset < 0 or (schedule.duration is not None and offset >= schedule.duration):
        return None
    # Periods are ordered by start: the last one started by ``offset`` (a schedule may have a
    # thousand periods, and this runs for every candidate at every boundary).
    index = bisect.bisect_right(schedule.periods, offset, key=lambda p: p.start_period)
    return None if index == 0 else (schedule.periods[index - 1], schedule.unit)


def _boundaries(
    profile: ChargingProfile, start: datetime, end: datetime, relative_start: datetime
) -> Iterator[datetime]:
    """Every moment in [start, end) at which the profile's limit may change."""
    for moment in (profile.valid_from, profile.valid_to):
        if moment is not None:
            yield moment
    schedule = profile.schedules[0]
    anchors: Iterable[datetime]
    if profile.kind is Kind.RECURRING:
        first = _anchor(profile, schedule, start, relative_start)
        cycle = _CYCLE[profile.recurrency or Recurrency.DAILY]
        count = math.floor((end - first) / cycle) + 1
        anchors = (first + cycle * k for k in range(count + 1))
    else:
        anchors = (_anchor(profile, schedule, start, relative_start),)
    for anchor in anchors:
        for period in schedule.periods:
            yield anchor + timedelta(seconds=period.start_period)
        if schedule.duration is not None:
            yield anchor + timedelta(seconds=schedule.duration)


def _convert(
    limit: float, source: RateUnit, target: RateUnit, phases: int, voltage: float
) -> float:
    if source is target:
        return limit
    if target is RateUnit.W:
        return limit * voltage * phases
    return limit / (voltage * phases)


def _top(
    candidates: Sequence[_Placed], t: datetime, relative_start: datetime
) -> tuple[SchedulePeriod, RateUnit] | None:
    """The period of the highest-stacked candidate in force at ``t`` (the EVSE's own first)."""
    best: tuple[SchedulePeriod, RateUnit] | None = None
    best_key: tuple[int, bool, int] | None = None
    for placed in candidates:
        found = _period_at(placed.profile, t, relative_start)
        if found is None:
            continue
        key = (placed.profile.stack_level, placed.evse_id != 0, placed.profile.id)
        if best_key is None or key > best_key:
            best, best_key = found, key
    return best


def _external_profile(limit: ExternalLimit, index: int) -> _Placed:
    profile = ChargingProfile(
        id=-1 - index,
        stack_level=0,
        purpose=Purpose.EXTERNAL,
        kind=Kind.ABSOLUTE,
        schedules=(limit.schedule,),
    )
    return _Placed(limit.evse_id, profile)


def composite_schedule(
    installed: Iterable[InstalledProfile],
    *,
    evse_id: int,
    start: datetime,
    duration: int,
    unit: RateUnit,
    transaction_id: str | None = None,
    transaction_start: datetime | None = None,
    external: Iterable[ExternalLimit] = (),
    voltage: float = NOMINAL_VOLTAGE,
) -> CompositeSchedule:
    """The composite schedule of ``evse_id`` (0: the station) over ``duration`` seconds from
    ``start``, in ``unit``. ``transaction_id``/``transaction_start``: the transaction running on
    the EVSE, if any (TxProfiles apply only then; Relative profiles start with it)."""
    if duration < 1:
        raise ValueError("duration must be at least one second")
    start = start.astimezone(UTC)
    end = start + timedelta(seconds=duration)
    relative_start = transaction_start or start
    station_max: list[_Placed] = []
    tx: list[_Placed] = []
    tx_default: list[_Placed] = []
    constraints: list[list[_Placed]] = []
    for item in installed:
        if item.evse_id not in (0, evse_id):
            continue
        placed = _Placed(item.evse_id, item.profile)
        purpose = item.profile.purpose
        if purpose is Purpose.STATION_MAX and item.evse_id == 0:
            station_max.append(placed)
        elif evse_id == 0:
            if purpose is Purpose.EXTERNAL:
                constraints.append([placed])
        elif purpose is Purpose.TX and item.evse_id == evse_id:
            if transaction_id is not None and item.profile.transaction_id in (None, transaction_id):
                tx.append(placed)
        elif purpose is Purpose.TX_DEFAULT:
            tx_default.append(placed)
        elif purpose is Purpose.EXTERNAL:
            constraints.append([placed])
    for index, reported in enumerate(external):
        if reported.evse_id in (0, evse_id):
            constraints.append([_external_profile(reported, index)])
    groups = [station_max, *constraints]
    everything = [*station_max, *tx, *tx_default, *(p for g in constraints for p in g)]

    offsets = {0}
    for placed in everything:
        for moment in _boundaries(placed.profile, start, end, relative_start):
            offset = math.ceil((moment - start).total_seconds())
            if 0 < offset < duration:
                offsets.add(offset)

    periods: list[CompositePeriod] = []
    for offset in sorted(offsets):
        t = start + timedelta(seconds=offset)
        found: list[tuple[SchedulePeriod, RateUnit]] = []
        for group in groups:
            top = _top(group, t, relative_start)
            if top is not None:
                found.append(top)
        transaction_limit = _top(tx, t, relative_start) or _top(tx_default, t, relative_start)
        if transaction_limit is not None and evse_id != 0:
            found.append(transaction_limit)
        limit: float | None = None
        phases: int | None = None
        for period, source in found:
            if period.limit is None:
                continue
            used = period.number_phases or DEFAULT_PHASES
            value = _convert(period.limit, source, unit, used, voltage)
            if limit is None or value < limit:
                limit, phases = value, period.number_phases
        if limit is not None:
            limit = round(limit, 3)
        if periods and (periods[-1].limit, periods[-1].number_phases) == (limit, phases):
            continue
        periods.append(CompositePeriod(offset, limit, phases))
    return CompositeSchedule(evse_id, start, duration, unit, tuple(periods))
