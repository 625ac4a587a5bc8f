"""Charging profiles as a simulated station keeps them, and the limit they compose at an instant.

One model for both versions: a 1.6 ``csChargingProfiles`` and a 2.x ``chargingProfile`` are read
into a `Profile` (the 2.x first schedule only; a station may refuse more). The rules are those of
OCPP 1.6 section 3.13 and 2.0.1 K01 / K08 / SC.01, simply:

- within one purpose the profile in force with the highest stack level wins;
- a TxProfile (bound to the running transaction) overrides the TxDefaultProfile; a TxDefault on
  the EVSE itself overrides one on EVSE 0;
- the ChargePointMax / ChargingStationMax profile (EVSE 0) caps the whole station;
- a limit in A is ``A x voltage x phases`` watts; no profile in force means no limit.

Times are simulated `datetime`s; the station converts them to its clock's seconds.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Payload = dict[str, Any]

_RECURRENCE = {"Daily": 86_400.0, "Weekly": 604_800.0}


class Purpose(enum.Enum):
    """What a profile limits (the purposes a CSMS may set)."""

    STATION_MAX = "max"
    """1.6 ChargePointMaxProfile, 2.x ChargingStationMaxProfile: the whole station, EVSE 0."""
    TX_DEFAULT = "default"
    TX = "tx"


_PURPOSES = {
    "ChargePointMaxProfile": Purpose.STATION_MAX,
    "ChargingStationMaxProfile": Purpose.STATION_MAX,
    "TxDefaultProfile": Purpose.TX_DEFAULT,
    "TxProfile": Purpose.TX,
}


@dataclass(frozen=True, slots=True)
class Period:
    start: float
    """Seconds from the start of the schedule."""
    limit: float
    """In the schedule's unit (A per phase, or W)."""
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """One charging profile installed on one EVSE (0: the station)."""

    id: int
    evse: int
    stack_level: int
    purpose: Purpose
    kind: str
    """Absolute, Recurring or Relative."""
    unit: str
    """A or W."""
    periods: tuple[Period, ...]
    received_at: datetime
    start: datetime | None = None
    duration: float | None = None
    recurrency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None
    min_rate: float | None = None
    cycle: float = 86_400.0
    """A Recurring profile's period in station seconds (a day or a week of the CSMS's clock)."""
    raw: Payload | None = None
    """The profile as the CSMS sent it (2.x ReportChargingProfiles returns it)."""


def purpose_of(name: str) -> Purpose | None:
    """The purpose a CSMS may set, or None (ChargingStationExternalConstraints and the like)."""
    return _PURPOSES.get(name)


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _periods(schedule: Payload, scale: float) -> tuple[Period, ...]:
    periods = sorted(schedule["chargingSchedulePeriod"], key=lambda p: p["startPeriod"])
    return tuple(
        Period(
            float(p["startPeriod"]) * scale,
            float(p.get("limit", math.inf)),
            p.get("numberPhases"),
        )
        for p in periods
    )


def from_payload(
    profile: Payload,
    evse: int,
    received_at: datetime,
    clock: Callable[[datetime], datetime] = lambda moment: moment,
    scale: float = 1.0,
) -> Profile:
    """A 1.6 ``csChargingProfiles`` or a 2.x ``chargingProfile`` (the first schedule). The CSMS
    states times on its own clock: ``clock`` puts its instants on the station's, ``scale`` its
    seconds (period starts, duration, recurrence) in station seconds. Raises ValueError for a
    purpose a CSMS may not set."""

    def at(text: str | None) -> datetime | None:
        moment = _time(text)
        return None if moment is None else clock(moment)

    purpose = purpose_of(profile["chargingProfilePurpose"])
    if purpose is None:
        raise ValueError(f"purpose {profile['chargingProfilePurpose']} cannot be set")
    schedule = profile["chargingSchedule"]
    if isinstance(schedule, list):
        schedule = schedule[0]
    tx = profile.get("transactionId")
    return Profile(
        id=int(profile["chargingProfileId"] if "chargingProfileId" in profile else profile["id"]),
        evse=evse,
        stack_level=int(profile["stackLevel"]),
        purpose=purpose,
        kind=profile["chargingProfileKind"],
        unit=schedule["chargingRateUnit"],
        periods=_periods(schedule, scale),
        received_at=received_at,
        start=at(schedule.get("startSchedule")),
        duration=None if schedule.get("duration") is None else schedule["duration"] * scale,
        recurrency=profile.get("recurrencyKind"),
        cycle=_RECURRENCE.get(profile.get("recurrencyKind") or "Daily", 86_400.0) * scale,
        valid_from=at(profile.get("validFrom")),
        valid_to=at(profile.get("validTo")),
        transaction_id=None if tx is None else str(tx),
        min_rate=schedule.get("minChargingRate"),
        raw=profile,
    )


def watts(
    limit: float, unit: str, phases: int | None, voltage: float, default_phases: int
) -> float:
    """A limit in W (an A limit is per phase)."""
    if unit == "W":
        return limit
    return limit * voltage * (phases or default_phases)


def _base(profile: Profile, at: datetime, tx_start: datetime | None) -> datetime | None:
    """When the profile's schedule (its current recurrence) started, or None if not yet."""
    if profile.kind == "Relative":
        return tx_start if tx_start is not None else at
    start = profile.start or profile.valid_from or profile.received_at
    if profile.kind == "Recurring":
        length = profile.cycle
        if at < start:
            return None
        cycles = math.floor((at - start).total_seconds() / length)
        return start + timedelta(seconds=cycles * length)
    return start if at >= start else None


def period_at(profile: Profile, at: datetime, tx_start: datetime | None = None) -> Period | None:
    """The period of ``profile`` in force at ``at``, or None (not valid, not started, ended)."""
    if profile.valid_from is not None and at < profile.valid_from:
        return None
    if profile.valid_to is not None and at >= profile.valid_to:
        return None
    base = _base(profile, at, tx_start)
    if base is None:
        return None
    offset = (at - base).total_seconds()
    if profile.duration is not None and offset >= profile.duration:
        return None
    found = None
    for period in profile.periods:
        if period.start <= offset:
            found = period
    return found


def _winner(
    profiles: Iterable[Profile], at: datetime, tx_start: datetime | None
) -> tuple[Profile, Period] | None:
    best: tuple[Profile, Period] | None = None
    for profile in profiles:
        period = period_at(profile, at, tx_start)
        if period is not None and (best is None or profile.stack_level > best[0].stack_level):
            best = (profile, period)
    return best


@dataclass(frozen=True, slots=True)
class Electrical:
    """How a station turns amperes into watts."""

    voltage: float = 230.0
    phases: int = 3


def _limit_w(found: tuple[Profile, Period] | None, grid: Electrical) -> float:
    if found is None:
        return math.inf
    profile, period = found
    return watts(period.limit, profile.unit, period.phases, grid.voltage, grid.phases)


def evse_limit_w(
    profiles: Sequence[Profile],
    evse: int,
    at: datetime,
    grid: Electrical,
    *,
    transaction_id: str | None = None,
    tx_start: datetime | None = None,
) -> float:
    """The EVSE's own limit (TxProfile, else TxDefault), before the station's maximum; inf if
    no profile is in force."""
    if transaction_id is not None:
        tx = [
            p
            for p in profiles
            if p.purpose is Purpose.TX
            and p.evse == evse
            and p.transaction_id in (None, transaction_id)
        ]
        found = _winner(tx, at, tx_start)
        if found is not None:
            return _limit_w(found, grid)
    defaults = [p for p in profiles if p.purpose is Purpose.TX_DEFAULT]
    found = _winner((p for p in defaults if p.evse == evse), at, tx_start)
    if found is None:
        found = _winner((p for p in defaults if p.evse == 0), at, tx_start)
    return _limit_w(found, grid)


def station_limit_w(profiles: Sequence[Profile], at: datetime, grid: Electrical) -> float:
    """The whole station's maximum (EVSE 0's ChargePointMax / ChargingStationMax); inf if none."""
    found = _winner((p for p in profiles if p.purpose is Purpose.STATION_MAX), at, None)
    return _limit_w(found, grid)


def share(demands: dict[int, float], caps: dict[int, float], station_w: float) -> dict[int, float]:
    """Each EVSE's cap once the station's maximum is shared: an EVSE takes at most its cap and
    what its EV asks; when the sum is over ``station_w`` every EVSE is scaled down alike."""
    wanted = {n: min(demands[n], caps.get(n, math.inf)) for n in demands}
    total = sum(wanted.values())
    if total <= station_w or total <= 0:
        return {n: caps.get(n, math.inf) for n in demands}
    factor = station_w / total
    return {n: w * factor for n, w in wanted.items()}


def changes(
    profiles: Iterable[Profile], after: datetime, tx_start: datetime | None = None
) -> datetime | None:
    """The first instant after ``after`` at which a profile's limit may change, or None."""
    candidates: list[datetime] = []
    for profile in profiles:
        for edge in (profile.valid_from, profile.valid_to):
            if edge is not None and edge > after:
                candidates.append(edge)
        if profile.kind == "Relative" and tx_start is None:
            # Without a transaction a Relative profile reads as its first period from any
            # instant (`_base`): it never changes, and must not wake an idle station.
            continue
        base = _base(profile, after, tx_start)
        if base is None:
            base = profile.start or profile.valid_from or profile.received_at
        bases = [base]
        if profile.kind == "Recurring":
            bases.append(base + timedelta(seconds=profile.cycle))
        for start in bases:
            offsets = [p.start for p in profile.periods]
            if profile.duration is not None:
                offsets.append(float(profile.duration))
            for offset in offsets:
                moment = start + timedelta(seconds=offset)
                if moment > after:
                    candidates.append(moment)
    return min(candidates) if candidates else None


def composite(
    profiles: Sequence[Profile],
    evse: int,
    start: datetime,
    duration: float,
    unit: str,
    grid: Electrical,
    hardware_w: float,
    *,
    transaction_id: str | None = None,
    tx_start: datetime | None = None,
) -> list[Payload]:
    """The composite schedule of an EVSE (0: the station) from ``start`` for ``duration`` seconds
    in ``unit``, as ``chargingSchedulePeriod`` entries (1.6 section 5.7, 2.0.1 K08): the lowest of
    the limits in force, the hardware's maximum where no profile limits."""
    end = start + timedelta(seconds=duration)
    periods: list[Payload] = []
    at = start
    while at < end:
        limit = min(station_limit_w(profiles, at, grid), hardware_w)
        if evse != 0:
            limit = min(
                limit,
                evse_limit_w(
                    profiles, evse, at, grid, transaction_id=transaction_id, tx_start=tx_start
                ),
            )
        value = limit if unit == "W" else limit / (grid.voltage * grid.phases)
        value = round(value, 1)
        if not periods or periods[-1]["limit"] != value:
            entry: Payload = {"startPeriod": int((at - start).total_seconds()), "limit": value}
            if unit == "A":
                entry["numberPhases"] = grid.phases
            periods.append(entry)
        following = changes(profiles, at, tx_start)
        if following is None:
            break
        at = following
    return periods
