"""The smart-charging messages a CSMS sends, and the profiles in the messages stations send, in
the wire form of each OCPP version; every area that sends a profile builds it here.

What differs at the edge (the model is ``csms.smart_charging.model``):
- 1.6 installs on ``connectorId`` (0: the charge point), 2.x on ``evseId`` (0: the station).
- 1.6 ``csChargingProfiles`` has ``chargingProfileId`` and one ``chargingSchedule`` object; 2.x
  ``chargingProfile`` has ``id`` and ``chargingSchedule`` as a list of one to three schedules, each
  with its own ``id`` (2.0.1 ChargingScheduleType).
- 1.6 calls the station maximum ``ChargePointMaxProfile`` and has no external constraints.
- 1.6 ``transactionId`` is the integer voltmesh issued; 2.x's is the charger's string, stored as
  ``<station>,<transactionId>``.
- 1.6 limits are multiples of 0.1 (the schema's ``multipleOf``); 2.1 periods may carry no limit.
- Clearing: 1.6 criteria sit beside ``id``; 2.x nests them in ``chargingProfileCriteria``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.payloads.timestamps import ocpp_time, parse_timestamp
from csms.smart_charging.model import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfile,
    Kind,
    ProfileError,
    Purpose,
    RateUnit,
    Recurrency,
    SchedulePeriod,
)
from persistence.records import v2_transaction_key
from transport.versions import OcppVersion

_V16_PURPOSE = {Purpose.STATION_MAX: "ChargePointMaxProfile"}
_FROM_V16_PURPOSE = {"ChargePointMaxProfile": Purpose.STATION_MAX}


def purpose_to_wire(version: OcppVersion, purpose: Purpose) -> str:
    if version is OcppVersion.V16:
        if purpose is Purpose.EXTERNAL:
            raise ProfileError("OCPP 1.6 has no ChargingStationExternalConstraints profiles")
        return _V16_PURPOSE.get(purpose, purpose.value)
    return purpose.value


def purpose_from_wire(value: str) -> Purpose:
    """A purpose of either version (the 1.6 and 2.x names differ only for the station maximum)."""
    return _FROM_V16_PURPOSE.get(value) or Purpose(value)


# -- transaction ids ---------------------------------------------------------------------------


def transaction_to_wire(version: OcppVersion, station_id: str, key: str) -> int | str:
    """The ``transactionId`` a station knows for a stored transaction id. A 2.x id given without
    the station prefix is taken as the charger's own."""
    if version is OcppVersion.V16:
        try:
            value = int(key)
        except ValueError:
            raise ProfileError(f"an OCPP 1.6 transaction_id is an integer, got {key!r}") from None
        return value
    prefix = v2_transaction_key(station_id, "")
    wire = key[len(prefix) :] if key.startswith(prefix) else key
    if not 1 <= len(wire) <= 36:
        raise ProfileError("an OCPP 2.x transaction_id has 1 to 36 characters")
    return wire


def transaction_from_wire(version: OcppVersion, station_id: str, wire: int | str) -> str:
    """The stored id of the transaction a station names."""
    if version is OcppVersion.V16:
        return str(wire)
    return v2_transaction_key(station_id, str(wire))


# -- profiles ------------------------------------------------------------------------------------


def _limit(version: OcppVersion, value: float) -> float:
    # 1.6 schema: multipleOf 0.1; one decimal is also what 2.x chargers show.
    return round(value, 1) if version is OcppVersion.V16 else round(value, 3)


def _period_to_wire(version: OcppVersion, period: SchedulePeriod) -> dict[str, Any]:
    wire: dict[str, Any] = {"startPeriod": period.start_period}
    if period.limit is not None:
        wire["limit"] = _limit(version, period.limit)
    elif version is not OcppVersion.V21:
        raise ProfileError("every period needs a limit before OCPP 2.1")
    if period.number_phases is not None:
        wire["numberPhases"] = period.number_phases
    if period.phase_to_use is not None and version.is_2x:
        wire["phaseToUse"] = period.phase_to_use
    return wire


def _schedule_to_wire(
    version: OcppVersion, schedule: ChargingSchedule, default_id: int
) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    if version.is_2x:
        wire["id"] = schedule.id if schedule.id is not None else default_id
    if schedule.start is not None:
        wire["startSchedule"] = ocpp_time(schedule.start)
    if schedule.duration is not None:
        wire["duration"] = schedule.duration
    wire["chargingRateUnit"] = schedule.unit.value
    wire["chargingSchedulePeriod"] = [_period_to_wire(version, p) for p in schedule.periods]
    if schedule.min_charging_rate is not None:
        wire["minChargingRate"] = _limit(version, schedule.min_charging_rate)
    return wire


def profile_to_wire(
    version: OcppVersion, station_id: str, profile: ChargingProfile
) -> dict[str, Any]:
    """1.6 ``csChargingProfiles`` or 2.x ``chargingProfile``."""
    if version is OcppVersion.V16 and len(profile.schedules) != 1:
        raise ProfileError("an OCPP 1.6 profile has exactly one schedule")
    if version.is_2x and profile.purpose is Purpose.STATION_MAX and profile.kind is Kind.RELATIVE:
        # 2.0.1 K01.FR.38: a station maximum does not follow a transaction.
        raise ProfileError("a ChargingStationMaxProfile is not Relative in OCPP 2.x")
    wire: dict[str, Any] = {
        "chargingProfileId" if version is OcppVersion.V16 else "id": profile.id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": purpose_to_wire(version, profile.purpose),
        "chargingProfileKind": profile.kind.value,
    }
    if profile.transaction_id is not None:
        wire["transactionId"] = transaction_to_wire(version, station_id, profile.transaction_id)
    if profile.recurrency is not None:
        wire["recurrencyKind"] = profile.recurrency.value
    if profile.valid_from is not None:
        wire["validFrom"] = ocpp_time(profile.valid_from)
    if profile.valid_to is not None:
        wire["validTo"] = ocpp_time(profile.valid_to)
    # 2.x schedule ids: the profile's id for the first unless given (unique per profile is enough).
    schedules = [
        _schedule_to_wire(version, s, profile.id + i) for i, s in enumerate(profile.schedules)
    ]
    wire["chargingSchedule"] = schedules[0] if version is OcppVersion.V16 else schedules
    return wire


def _time_field(wire: Mapping[str, Any], name: str) -> datetime | None:
    value = wire.get(name)
    return None if value is None else parse_timestamp(str(value))


def schedule_from_wire(wire: Mapping[str, Any]) -> ChargingSchedule:
    """A ChargingScheduleType of either version (a profile's, or a reported limit's)."""
    periods = tuple(
        SchedulePeriod(
            start_period=int(p["startPeriod"]),
            limit=None if p.get("limit") is None else float(p["limit"]),
            number_phases=p.get("numberPhases"),
            phase_to_use=p.get("phaseToUse"),
        )
        for p in wire["chargingSchedulePeriod"]
    )
    rate = wire.get("minChargingRate")
    return ChargingSchedule(
        unit=RateUnit(wire["chargingRateUnit"]),
        periods=tuple(sorted(periods, key=lambda p: p.start_period)),
        id=wire.get("id"),
        start=_time_field(wire, "startSchedule"),
        duration=wire.get("duration"),
        min_charging_rate=None if rate is None else float(rate),
    )


_KINDS = {k.value: k for k in Kind}


def profile_from_wire(
    version: OcppVersion, station_id: str, wire: Mapping[str, Any]
) -> ChargingProfile:
    """A profile as a station accepted or reported it (already valid against the schema)."""
    raw_schedules = wire["chargingSchedule"]
    if isinstance(raw_schedules, Mapping):
        raw_schedules = [raw_schedules]
    recurrency = wire.get("recurrencyKind")
    transaction = wire.get("transactionId")
    return ChargingProfile(
        id=int(wire["chargingProfileId" if version is OcppVersion.V16 else "id"]),
        stack_level=int(wire["stackLevel"]),
        purpose=purpose_from_wire(wire["chargingProfilePurpose"]),
        # 2.1's Dynamic kind is kept as Absolute: its limits come by UpdateDynamicSchedule.
        kind=_KINDS.get(wire["chargingProfileKind"], Kind.ABSOLUTE),
        schedules=tuple(schedule_from_wire(s) for s in raw_schedules),
        recurrency=None if recurrency is None else Recurrency(recurrency),
        valid_from=_time_field(wire, "validFrom"),
        valid_to=_time_field(wire, "validTo"),
        transaction_id=None
        if transaction is None
        else transaction_from_wire(version, station_id, transaction),
    )


# -- requests ------------------------------------------------------------------------------------


def set_charging_profile(
    version: OcppVersion, station_id: str, evse_id: int, profile: ChargingProfile
) -> dict[str, Any]:
    """SetChargingProfile request (1.6 section 5.16, 2.0.1 K01)."""
    if version is OcppVersion.V16:
        return {
            "connectorId": evse_id,
            "csChargingProfiles": profile_to_wire(version, station_id, profile),
        }
    return {"evseId": evse_id, "chargingProfile": profile_to_wire(version, station_id, profile)}


def installed_from_set_request(
    version: OcppVersion, station_id: str, request: Mapping[str, Any]
) -> InstalledProfile:
    """What an accepted SetChargingProfile installed."""
    if version is OcppVersion.V16:
        return InstalledProfile(
            int(request["connectorId"]),
            profile_from_wire(version, station_id, request["csChargingProfiles"]),
        )
    return InstalledProfile(
        int(request["evseId"]),
        profile_from_wire(version, station_id, request["chargingProfile"]),
    )


@dataclass(frozen=True, slots=True)
class ClearCriteria:
    """Which profiles a ClearChargingProfile removes: the one with ``profile_id``, or those that
    match every criterion given (none given: all of the station's)."""

    profile_id: int | None = None
    evse_id: int | None = None
    purpose: Purpose | None = None
    stack_level: int | None = None


def clear_charging_profile(version: OcppVersion, criteria: ClearCriteria) -> dict[str, Any]:
    """ClearChargingProfile request (1.6 section 5.5, 2.0.1 K10)."""
    if version is OcppVersion.V16:
        v16: dict[str, Any] = {}
        if criteria.profile_id is not None:
            v16["id"] = criteria.profile_id
        if criteria.evse_id is not None:
            v16["connectorId"] = criteria.evse_id
        if criteria.purpose is not None:
            v16["chargingProfilePurpose"] = purpose_to_wire(version, criteria.purpose)
        if criteria.stack_level is not None:
            v16["stackLevel"] = criteria.stack_level
        return v16
    wire: dict[str, Any] = {}
    if criteria.profile_id is not None:
        wire["chargingProfileId"] = criteria.profile_id
    nested: dict[str, Any] = {}
    if criteria.evse_id is not None:
        nested["evseId"] = criteria.evse_id
    if criteria.purpose is not None:
        nested["chargingProfilePurpose"] = criteria.purpose.value
    if criteria.stack_level is not None:
        nested["stackLevel"] = criteria.stack_level
    if nested:
        wire["chargingProfileCriteria"] = nested
    return wire


def clear_criteria_from_request(version: OcppVersion, request: Mapping[str, Any]) -> ClearCriteria:
    """The criteria of a ClearChargingProfile as sent."""
    if version is OcppVersion.V16:
        purpose = request.get("chargingProfilePurpose")
        return ClearCriteria(
            profile_id=request.get("id"),
            evse_id=request.get("connectorId"),
            purpose=None if purpose is None else purpose_from_wire(purpose),
            stack_level=request.get("stackLevel"),
        )
    nested = request.get("chargingProfileCriteria") or {}
    purpose = nested.get("chargingProfilePurpose")
    return ClearCriteria(
        profile_id=request.get("chargingProfileId"),
        evse_id=nested.get("evseId"),
        purpose=None if purpose is None else purpose_from_wire(purpose),
        stack_level=nested.get("stackLevel"),
    )


def get_composite_schedule(
    version: OcppVersion, evse_id: int, duration: int, unit: RateUnit | None
) -> dict[str, Any]:
    """GetCompositeSchedule request (1.6 section 5.7, 2.0.1 K08)."""
    wire: dict[str, Any] = {
        "connectorId" if version is OcppVersion.V16 else "evseId": evse_id,
        "duration": duration,
    }
    if unit is not None:
        wire["chargingRateUnit"] = unit.value
    return wire


def composite_from_response(
    version: OcppVersion, response: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The schedule of a GetCompositeSchedule answer in the view of ``composite.schedule_view``
    (None when the station gave none)."""
    if version is OcppVersion.V16:
        schedule = response.get("chargingSchedule")
        start = response.get("scheduleStart") or (schedule or {}).get("startSchedule")
    else:
        schedule = response.get("schedule")
        start = (schedule or {}).get("scheduleStart")
    if not schedule:
        return None
    return {
        "start": None if start is None else parse_timestamp(str(start)),
        "duration": schedule.get("duration"),
        "unit": schedule.get("chargingRateUnit"),
        "periods": [
            {
                "start_period": p.get("startPeriod"),
                "limit": p.get("limit"),
                "number_phases": p.get("numberPhases"),
            }
            for p in schedule.get("chargingSchedulePeriod", [])
        ],
    }


def get_charging_profiles(
    request_id: int,
    *,
    evse_id: int | None = None,
    purpose: Purpose | None = None,
    stack_level: int | None = None,
    profile_ids: list[int] | None = None,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """GetChargingProfiles request (2.0.1 K09; 1.6 has none)."""
    criterion: dict[str, Any] = {}
    if purpose is not None:
        criterion["chargingProfilePurpose"] = purpose.value
    if stack_level is not None:
        criterion["stackLevel"] = stack_level
    if profile_ids:
        criterion["chargingProfileId"] = profile_ids
    if sources:
        criterion["chargingLimitSource"] = sources
    wire: dict[str, Any] = {"requestId": request_id, "chargingProfile": criterion}
    if evse_id is not None:
        wire["evseId"] = evse_id
    return wire
