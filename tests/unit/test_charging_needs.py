"""What bounds the plan for an EV's charging needs (2.0.1 K15-K17): the station's hardware limits
and the EV's, not a TxDefaultProfile or TxProfile another planner owns (a site's start hold of 0 A
would otherwise make the whole plan 0 A)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.smart_charging.composite import composite_schedule
from csms.smart_charging.model import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfile,
    Kind,
    Purpose,
    RateUnit,
    SchedulePeriod,
)
from csms.smart_charging.needs import NOT_BOUNDING_THE_PLAN, plan_for_needs

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
STATION_MAX = InstalledProfile(
    0,
    ChargingProfile(
        id=1,
        stack_level=0,
        purpose=Purpose.STATION_MAX,
        kind=Kind.ABSOLUTE,
        schedules=(
            ChargingSchedule(RateUnit.A, (SchedulePeriod(0, 20.0),), start=NOW - timedelta(days=1)),
        ),
    ),
)
SITE_START_HOLD = InstalledProfile(
    0,
    ChargingProfile(
        id=911_000,
        stack_level=90,
        purpose=Purpose.TX_DEFAULT,
        kind=Kind.RELATIVE,
        schedules=(
            ChargingSchedule(RateUnit.A, (SchedulePeriod(0, 0.0), SchedulePeriod(60, 6.0))),
        ),
    ),
)
NEEDS = {
    "requestedEnergyTransfer": "AC_three_phase",
    "departureTime": (NOW + timedelta(minutes=30)).isoformat(),
    "acChargingParameters": {
        "energyAmount": 20_700,
        "evMinCurrent": 6,
        "evMaxCurrent": 32,
        "evMaxVoltage": 400,
    },
}


def _limit_now(installed: list[InstalledProfile]) -> float | None:
    """As the NotifyEVChargingNeeds handler asks: the first second, the transaction just begun."""
    composite = composite_schedule(
        [p for p in installed if p.profile.purpose not in NOT_BOUNDING_THE_PLAN],
        evse_id=1,
        start=NOW,
        duration=1,
        unit=RateUnit.A,
        transaction_id="CP,tx-1",
        transaction_start=NOW,
    )
    return composite.periods[0].limit


def test_a_site_start_hold_does_not_bound_the_plan() -> None:
    assert Purpose.TX_DEFAULT in NOT_BOUNDING_THE_PLAN and Purpose.TX in NOT_BOUNDING_THE_PLAN
    limit = _limit_now([STATION_MAX, SITE_START_HOLD])
    assert limit == 20.0
    plan = plan_for_needs(NEEDS, evse_id=1, transaction_id="CP,tx-1", now=NOW, station_limit=limit)
    assert plan is not None and plan.purpose is Purpose.TX
    (period,) = plan.schedules[0].periods
    # 20.7 kWh in 30 min would take 60 A: the station's 20 A bounds it.
    assert period.limit == 20.0


def test_without_a_station_limit_the_ev_bounds_the_plan() -> None:
    limit = _limit_now([SITE_START_HOLD])
    assert limit is None
    plan = plan_for_needs(NEEDS, evse_id=1, transaction_id="CP,tx-1", now=NOW, station_limit=limit)
    assert plan is not None
    assert plan.schedules[0].periods[0].limit == 32.0  # the EV's evMaxCurrent
