"""A TxProfile for what an EV says it needs (2.0.1 K15-K17, ISO 15118 charging needs): charge
the energy it asks for by its departure time at an even rate, within what the EV and the station
allow, rather than at full power at once; without a departure time, at the most allowed.

Pure: the caller passes the time and the station's limit now: its composite schedule of what
bounds the hardware (ChargingStationMaxProfile, external limits), without the profiles in
``NOT_BOUNDING_THE_PLAN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from csms.payloads.timestamps import parse_timestamp
from csms.smart_charging.composite import DEFAULT_PHASES, NOMINAL_VOLTAGE
from csms.smart_charging.model import (
    ChargingProfile,
    ChargingSchedule,
    Kind,
    Purpose,
    RateUnit,
    SchedulePeriod,
)

NEEDS_PROFILE_ID_BASE = 2_000_000_000
"""The profile for an EVSE's charging needs has id base + EVSE id: a new plan replaces the last."""
NEEDS_STACK_LEVEL = 0
"""The lowest: a TxProfile an operator or the site load manager sends stacks above it."""
NOT_BOUNDING_THE_PLAN = frozenset({Purpose.TX, Purpose.TX_DEFAULT})
"""Profiles the plan is not bounded by: a TxProfile or TxDefaultProfile belongs to another planner
(an operator, or a site's load manager: its TxDefaultProfile holds a new session at 0 A during the
site's start hold, ``csms.sites.profiles``), whose own TxProfile for the session stacks above the
plan's (``NEEDS_STACK_LEVEL``; of one purpose the highest stack level wins, 2.0.1 K01, 1.6 section
3.13.2). Bounded by them, a plan made during that hold would be 0 A for the whole session; the
plan is bounded by the hardware (ChargingStationMaxProfile, external limits) and the EV instead."""
MARGIN = 1.2
"""The even rate is raised by this much, so that a slower start still ends in time."""


_AC_PHASES = {"AC_single_phase": 1, "AC_two_phase": 2, "AC_three_phase": 3}
"""EnergyTransferModeEnumType -> the phases an AC EV charges on."""


def needs_unit(needs: Mapping[str, Any]) -> RateUnit:
    """DC needs are planned in W, AC needs (and needs without parameters) in A per phase."""
    return RateUnit.W if needs.get("dcChargingParameters") else RateUnit.A


def ac_phases(needs: Mapping[str, Any]) -> int:
    """The phases an AC EV draws on (``requestedEnergyTransfer``; 3 when it does not say)."""
    return _AC_PHASES.get(str(needs.get("requestedEnergyTransfer")), DEFAULT_PHASES)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def plan_for_needs(
    needs: Mapping[str, Any],
    *,
    evse_id: int,
    transaction_id: str,
    now: datetime,
    station_limit: float | None,
) -> ChargingProfile | None:
    """The TxProfile for a ChargingNeedsType, or None when nothing bounds the rate (neither the
    EV's parameters nor a station limit). ``station_limit`` is in ``needs_unit(needs)``."""
    unit = needs_unit(needs)
    ac, dc = needs.get("acChargingParameters"), needs.get("dcChargingParameters")
    floor = 0.0
    # Amperes are per phase: the power an AC EV takes per ampere depends on its phases.
    ac_per_ampere = NOMINAL_VOLTAGE * ac_phases(needs)
    if dc:
        power = _float(dc.get("evMaxPower"))
        cap = power if power is not None else float(dc["evMaxCurrent"]) * float(dc["evMaxVoltage"])
        energy = _float(dc.get("energyAmount"))
        per_unit = 1.0
    elif ac:
        cap = float(ac["evMaxCurrent"])
        floor = float(ac["evMinCurrent"])
        energy = _float(ac.get("energyAmount"))
        per_unit = ac_per_ampere
    else:
        if station_limit is None:
            return None
        cap, energy, per_unit = station_limit, None, ac_per_ampere
    if station_limit is not None:
        cap = min(cap, station_limit)
    rate = cap
    duration: int | None = None
    departure_raw = needs.get("departureTime")
    if departure_raw is not None:
        seconds = (parse_timestamp(str(departure_raw)) - now).total_seconds()
        if seconds >= 60:
            duration = int(seconds)
            if energy is not None and energy > 0:
                even = energy / (seconds / 3600) / per_unit
                rate = min(cap, max(floor, even * MARGIN))
    # An EV cannot charge below its minimum current: a cap under it is the cap.
    rate = max(0.0, round(rate, 1))
    schedule = ChargingSchedule(
        unit=unit,
        periods=(SchedulePeriod(0, rate, None if dc else ac_phases(needs)),),
        id=1,
        start=now,
        duration=duration,
    )
    return ChargingProfile(
        id=NEEDS_PROFILE_ID_BASE + evse_id,
        stack_level=NEEDS_STACK_LEVEL,
        purpose=Purpose.TX,
        kind=Kind.ABSOLUTE,
        schedules=(schedule,),
        transaction_id=transaction_id,
    )
