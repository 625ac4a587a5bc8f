"""One charging profile for every OCPP version (1.6 section 3.13 and 7.8, 2.0.1 K01 and
ChargingProfileType): what voltmesh keeps, computes composite schedules from and shows operators.

``csms.smart_charging.translate`` turns it into the wire form of each version and back; the REST
resource reads and writes its JSON view (``profile_view`` / ``profile_from_view``). Purposes carry
the 2.x names: 1.6's ChargePointMaxProfile is ``Purpose.STATION_MAX``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from csms.payloads.timestamps import parse_timestamp

E = TypeVar("E", bound=StrEnum)


MAX_PERIODS = 1024
"""Periods per schedule: the 2.0.1 schema's bound (1.6 sets none); it also bounds the work of a
composite schedule."""


class ProfileError(ValueError):
    """A profile (from an operator, or in a station's message) that cannot be used; the message
    says what is wrong in the terms of the JSON view."""


class Purpose(StrEnum):
    """ChargingProfilePurposeEnumType (2.0.1 names)."""

    STATION_MAX = "ChargingStationMaxProfile"
    """Caps the whole station (1.6 ChargePointMaxProfile); only on EVSE 0."""
    TX_DEFAULT = "TxDefaultProfile"
    """Applies to every new transaction (EVSE 0: on every EVSE)."""
    TX = "TxProfile"
    """Applies to one running transaction; replaces the TxDefaultProfile for it."""
    EXTERNAL = "ChargingStationExternalConstraints"
    """Set by an external system (2.x only, reported, never sent by a CSMS)."""


class Kind(StrEnum):
    """ChargingProfileKindEnumType: when the schedule starts."""

    ABSOLUTE = "Absolute"
    """At ``start`` of the schedule."""
    RECURRING = "Recurring"
    """At ``start`` again every day or week."""
    RELATIVE = "Relative"
    """When the transaction starts."""


class Recurrency(StrEnum):
    DAILY = "Daily"
    WEEKLY = "Weekly"


class RateUnit(StrEnum):
    """ChargingRateUnitEnumType: a limit in ampere per phase, or in watt for the whole EVSE."""

    A = "A"
    W = "W"


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    """ChargingSchedulePeriodType: from ``start_period`` seconds after the schedule's start."""

    start_period: int
    limit: float | None
    """A per phase or W total; None only in an OCPP 2.1 period that sets no limit (setpoints)."""
    number_phases: int | None = None
    """Phases to charge with; None: 3 (the specifications' default)."""
    phase_to_use: int | None = None
    """2.x, with ``number_phases`` 1 on a station that can switch phases."""


@dataclass(frozen=True, slots=True)
class ChargingSchedule:
    """ChargingScheduleType; 1.6 has exactly one per profile, 2.x up to three (ISO 15118 offers)."""

    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    """Ordered by ``start_period``, the first at 0."""
    id: int | None = None
    """2.x schedule id; None in 1.6 (translated to the profile's id when sent to a 2.x station)."""
    start: datetime | None = None
    """startSchedule: when an Absolute or Recurring schedule starts."""
    duration: int | None = None
    """Seconds; None: the last period lasts until the profile ends (or the next recurrence)."""
    min_charging_rate: float | None = None


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    """ChargingProfileType (2.x) / csChargingProfiles (1.6), without the EVSE it is installed on."""

    id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    schedules: tuple[ChargingSchedule, ...]
    recurrency: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None
    """The transaction of a TxProfile as voltmesh stores it (1.6: the issued id; 2.x:
    ``<station>,<transactionId>``, see ``persistence.records.v2_transaction_key``)."""


@dataclass(frozen=True, slots=True)
class InstalledProfile:
    """A profile a station accepted, on EVSE ``evse_id`` (0: the whole station)."""

    evse_id: int
    profile: ChargingProfile


# -- JSON view (REST and the kept rows) -------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def schedule_view(schedule: ChargingSchedule) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "start": _time(schedule.start),
        "duration": schedule.duration,
        "unit": schedule.unit.value,
        "min_charging_rate": schedule.min_charging_rate,
        "periods": [
            {
                "start_period": p.start_period,
                "limit": p.limit,
                "number_phases": p.number_phases,
                "phase_to_use": p.phase_to_use,
            }
            for p in schedule.periods
        ],
    }


def profile_view(profile: ChargingProfile) -> dict[str, Any]:
    """The JSON view of a profile (snake_case, times RFC 3339 UTC); ``profile_from_view`` reads it."""
    return {
        "id": profile.id,
        "stack_level": profile.stack_level,
        "purpose": profile.purpose.value,
        "kind": profile.kind.value,
        "recurrency": None if profile.recurrency is None else profile.recurrency.value,
        "valid_from": _time(profile.valid_from),
        "valid_to": _time(profile.valid_to),
        "transaction_id": profile.transaction_id,
        "schedules": [schedule_view(s) for s in profile.schedules],
    }


def _integer(body: Mapping[str, Any], name: str, *, required: bool, minimum: int = 0) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ProfileError(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileError(f"{name} must be an integer")
    if value < minimum:
        raise ProfileError(f"{name} must be at least {minimum}")
    return value


def _number(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"{name} must be a number")
    if value < 0:
        raise ProfileError(f"{name} must not be negative")
    return float(value)


def _enum(enum: type[E], body: Mapping[str, Any], name: str, *, required: bool) -> E | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ProfileError(f"{name} is required")
        return None
    try:
        return enum(value)
    except ValueError:
        raise ProfileError(
            f"{name} must be one of {', '.join(e.value for e in enum)}, got {value!r}"
        ) from None


def _datetime(body: Mapping[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProfileError(f"{name} must be an RFC 3339 date-time")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise ProfileError(f"{name} must be an RFC 3339 date-time, got {value!r}") from None


def _unknown(body: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(body) - known
    if unknown:
        raise ProfileError(f"unknown fields in {where}: {', '.join(sorted(unknown))}")


_PERIOD_FIELDS = {"start_period", "limit", "number_phases", "phase_to_use"}
_SCHEDULE_FIELDS = {"id", "start", "duration", "unit", "min_charging_rate", "periods"}
PROFILE_FIELDS = {
    "id",
    "stack_level",
    "purpose",
    "kind",
    "recurrency",
    "valid_from",
    "valid_to",
    "transaction_id",
    "schedules",
}


def _period_from_view(body: Any) -> SchedulePeriod:
    if not isinstance(body, dict):
        raise ProfileError("each period must be an object")
    _unknown(body, _PERIOD_FIELDS, "a period")
    phases = _integer(body, "number_phases", required=False, minimum=1)
    if phases is not None and phases > 3:
        raise ProfileError("number_phases must be 1, 2 or 3")
    phase_to_use = _integer(body, "phase_to_use", required=False, minimum=1)
    if phase_to_use is not None and (phase_to_use > 3 or phases != 1):
        raise ProfileError("phase_to_use must be 1, 2 or 3, and only with number_phases 1")
    limit = _number(body, "limit")
    if limit is None:
        raise ProfileError("limit is required in each period")
    start = _integer(body, "start_period", required=True)
    assert start is not None
    return SchedulePeriod(start, limit, phases, phase_to_use)


def _schedule_from_view(body: Any) -> ChargingSchedule:
    if not isinstance(body, dict):
        raise ProfileError("each schedule must be an object")
    _unknown(body, _SCHEDULE_FIELDS, "a schedule")
    unit = _enum(RateUnit, body, "unit", required=True)
    assert unit is not None
    raw_periods = body.get("periods")
    if not isinstance(raw_periods, list) or not 1 <= len(raw_periods) <= MAX_PERIODS:
        raise ProfileError(f"periods must be a list of 1 to {MAX_PERIODS} periods")
    periods = tuple(_period_from_view(p) for p in raw_periods)
    starts = [p.start_period for p in periods]
    if starts[0] != 0 or any(b <= a for a, b in itertools.pairwise(starts)):
        raise ProfileError("periods must start at start_period 0 and be in increasing order")
    duration = _integer(body, "duration", required=False, minimum=1)
    return ChargingSchedule(
        unit=unit,
        periods=periods,
        id=_integer(body, "id", required=False),
        start=_datetime(body, "start"),
        duration=duration,
        min_charging_rate=_number(body, "min_charging_rate"),
    )


def profile_from_view(body: Mapping[str, Any]) -> ChargingProfile:
    """A profile from its JSON view (an operator's request); ``ProfileError`` says what is wrong.
    Checks what both OCPP versions require of a profile a CSMS sends (1.6 section 3.13, 2.0.1 K01)."""
    _unknown(body, PROFILE_FIELDS, "the profile")
    profile_id = _integer(body, "id", required=True)
    stack_level = _integer(body, "stack_level", required=True)
    purpose = _enum(Purpose, body, "purpose", required=True)
    kind = _enum(Kind, body, "kind", required=True)
    if profile_id is None or stack_level is None or purpose is None or kind is None:
        raise ProfileError("id, stack_level, purpose and kind are required")
    if purpose is Purpose.EXTERNAL:
        raise ProfileError("ChargingStationExternalConstraints profiles are set by the station")
    recurrency = _enum(Recurrency, body, "recurrency", required=kind is Kind.RECURRING)
    if recurrency is not None and kind is not Kind.RECURRING:
        raise ProfileError("recurrency is only for a Recurring profile")
    raw_schedules = body.get("schedules")
    if not isinstance(raw_schedules, list) or not 1 <= len(raw_schedules) <= 3:
        raise ProfileError("schedules must be a list of one to three schedules")
    schedules = tuple(_schedule_from_view(s) for s in raw_schedules)
    for schedule in schedules:
        if kind is Kind.RELATIVE and schedule.start is not None:
            raise ProfileError("a Relative profile's schedule has no start (the transaction's)")
        if kind is not Kind.RELATIVE and schedule.start is None:
            raise ProfileError(f"a {kind.value} profile's schedule needs a start")
    transaction_id = body.get("transaction_id")
    if transaction_id is not None:
        if purpose is not Purpose.TX:
            raise ProfileError("transaction_id is only for a TxProfile")
        if isinstance(transaction_id, bool) or not isinstance(transaction_id, str | int):
            raise ProfileError("transaction_id must be a string")
        transaction_id = str(transaction_id)
    valid_from, valid_to = _datetime(body, "valid_from"), _datetime(body, "valid_to")
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        raise ProfileError("valid_to must be after valid_from")
    return ChargingProfile(
        id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        schedules=schedules,
        recurrency=recurrency,
        valid_from=valid_from,
        valid_to=valid_to,
        transaction_id=transaction_id,
    )


def check_placement(evse_id: int, profile: ChargingProfile) -> None:
    """Where a profile may be installed (1.6 section 5.16.2, 2.0.1 K01.FR.03/FR.16): a station
    maximum on EVSE 0 only, a TxProfile on an EVSE only."""
    if evse_id < 0:
        raise ProfileError("evse_id must be 0 (the station) or an EVSE id")
    if profile.purpose is Purpose.STATION_MAX and evse_id != 0:
        raise ProfileError("a ChargingStationMaxProfile is installed on evse_id 0")
    if profile.purpose is Purpose.TX and evse_id == 0:
        raise ProfileError("a TxProfile is installed on the EVSE of its transaction, not 0")
