"""The composite limit of a simulated station's charging profiles (sim.fleet.profiles)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sim.fleet.profiles import (
    Electrical,
    Purpose,
    changes,
    composite,
    evse_limit_w,
    from_payload,
    share,
    station_limit_w,
)

T0 = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
GRID = Electrical(230.0, 3)


def profile(
    pid: int,
    purpose: str,
    level: int,
    periods: list[tuple[int, float]],
    *,
    unit: str = "A",
    kind: str = "Absolute",
    start: datetime | None = T0,
    duration: int | None = None,
    tx: str | None = None,
    recurrency: str | None = None,
) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": v} for s, v in periods],
    }
    if start is not None:
        schedule["startSchedule"] = start.isoformat()
    if duration is not None:
        schedule["duration"] = duration
    body: dict[str, Any] = {
        "chargingProfileId": pid,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
    }
    if tx is not None:
        body["transactionId"] = tx
    if recurrency is not None:
        body["recurrencyKind"] = recurrency
    return body


def test_the_highest_stack_level_in_force_wins_and_a_tx_profile_beats_the_default() -> None:
    profiles = [
        from_payload(profile(1, "TxDefaultProfile", 0, [(0, 32)]), 0, T0),
        from_payload(profile(2, "TxDefaultProfile", 1, [(0, 16)], duration=600), 0, T0),
        from_payload(profile(3, "TxProfile", 0, [(0, 10)], tx="7"), 1, T0),
    ]
    at = T0 + timedelta(seconds=60)
    assert evse_limit_w(profiles, 1, at, GRID) == 16 * 230 * 3
    assert evse_limit_w(profiles, 1, at, GRID, transaction_id="7") == 10 * 230 * 3
    assert evse_limit_w(profiles, 1, at, GRID, transaction_id="8") == 16 * 230 * 3
    # Past its duration the level-1 profile no longer applies: level 0 again.
    later = T0 + timedelta(seconds=601)
    assert evse_limit_w(profiles, 2, later, GRID) == 32 * 230 * 3
    assert changes(profiles, at) == T0 + timedelta(seconds=600)


def test_a_default_on_the_evse_overrides_the_one_on_evse_0() -> None:
    profiles = [
        from_payload(profile(1, "TxDefaultProfile", 5, [(0, 32)]), 0, T0),
        from_payload(profile(2, "TxDefaultProfile", 0, [(0, 6)]), 2, T0),
    ]
    assert evse_limit_w(profiles, 2, T0, GRID) == 6 * 690
    assert evse_limit_w(profiles, 1, T0, GRID) == 32 * 690


def test_watts_and_phases() -> None:
    profiles = [
        from_payload(profile(1, "TxDefaultProfile", 0, [(0, 7000)], unit="W"), 0, T0),
        from_payload(
            {
                **profile(2, "TxDefaultProfile", 0, [(0, 16)]),
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "startSchedule": T0.isoformat(),
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16, "numberPhases": 1}],
                },
            },
            1,
            T0,
        ),
    ]
    assert evse_limit_w(profiles, 2, T0, GRID) == 7000
    assert evse_limit_w(profiles, 1, T0, GRID) == 16 * 230


def test_no_profile_no_limit_and_not_before_its_start() -> None:
    later = from_payload(
        profile(1, "TxDefaultProfile", 0, [(0, 6)], start=T0 + timedelta(hours=1)), 0, T0
    )
    assert evse_limit_w([], 1, T0, GRID) == math.inf
    assert evse_limit_w([later], 1, T0, GRID) == math.inf
    assert evse_limit_w([later], 1, T0 + timedelta(hours=1), GRID) == 6 * 690


def test_a_relative_profile_runs_from_the_transaction_start() -> None:
    relative = from_payload(
        profile(1, "TxProfile", 0, [(0, 32), (1800, 8)], kind="Relative", start=None), 1, T0
    )
    started = T0 - timedelta(seconds=1700)
    assert evse_limit_w([relative], 1, T0, GRID, transaction_id="x", tx_start=started) == 32 * 690
    after = T0 + timedelta(seconds=200)
    assert evse_limit_w([relative], 1, after, GRID, transaction_id="x", tx_start=started) == 8 * 690
    assert changes([relative], T0, started) == T0 + timedelta(seconds=100)


def test_a_daily_profile_repeats() -> None:
    night = from_payload(
        profile(
            1,
            "ChargePointMaxProfile",
            0,
            [(0, 10), (3600, 40)],
            kind="Recurring",
            recurrency="Daily",
        ),
        0,
        T0,
    )
    assert station_limit_w([night], T0 + timedelta(days=3, minutes=5), GRID) == 10 * 690
    assert station_limit_w([night], T0 + timedelta(days=3, hours=2), GRID) == 40 * 690
    assert changes([night], T0 + timedelta(hours=2)) == T0 + timedelta(days=1)


def test_the_station_maximum_is_shared_among_the_evses_that_charge() -> None:
    assert share({1: 11000, 2: 11000}, {1: math.inf, 2: math.inf}, 11000) == {1: 5500, 2: 5500}
    # Under the maximum every EVSE keeps its own cap.
    assert share({1: 3000, 2: 4000}, {1: math.inf, 2: 5000}, 11000) == {1: math.inf, 2: 5000}
    # An EV that takes little leaves the rest to the other.
    assert share({1: 2000, 2: 20000}, {1: math.inf, 2: math.inf}, 11000) == {
        1: 2000 * 11000 / 22000,
        2: 20000 * 11000 / 22000,
    }


def test_the_composite_schedule_is_the_lowest_limit_over_time() -> None:
    profiles = [
        from_payload(profile(1, "ChargePointMaxProfile", 0, [(0, 20)]), 0, T0),
        from_payload(profile(2, "TxDefaultProfile", 0, [(0, 32), (900, 10), (1800, 16)]), 0, T0),
    ]
    periods = composite(profiles, 1, T0, 3600, "A", GRID, 22_000)
    assert periods == [
        {"startPeriod": 0, "limit": 20.0, "numberPhases": 3},
        {"startPeriod": 900, "limit": 10.0, "numberPhases": 3},
        {"startPeriod": 1800, "limit": 16.0, "numberPhases": 3},
    ]
    station = composite(profiles, 0, T0, 3600, "W", GRID, 44_000)
    assert station == [{"startPeriod": 0, "limit": 20 * 690.0}]
    # No profile: the hardware's maximum.
    assert composite([], 1, T0, 600, "W", GRID, 22_000) == [{"startPeriod": 0, "limit": 22_000.0}]


def test_the_composite_is_the_lowest_of_the_station_maximum_and_the_tx_limit() -> None:
    """1.6 section 3.13.3 / 2.0.1 K08: a TxProfile overrides every TxDefault whatever their stack
    levels, and the composite is the minimum of it and the station's maximum."""
    profiles = [
        from_payload(profile(1, "ChargePointMaxProfile", 0, [(0, 12), (600, 40)]), 0, T0),
        from_payload(profile(2, "TxDefaultProfile", 9, [(0, 6)]), 1, T0),
        from_payload(profile(3, "TxProfile", 0, [(0, 16)], tx="7"), 1, T0),
    ]
    periods = composite(profiles, 1, T0, 1200, "A", GRID, 44_000, transaction_id="7")
    assert periods == [
        {"startPeriod": 0, "limit": 12.0, "numberPhases": 3},
        {"startPeriod": 600, "limit": 16.0, "numberPhases": 3},
    ]
    # Without the transaction the default (stack level 9) is in force, under the maximum.
    assert composite(profiles, 1, T0, 1200, "A", GRID, 44_000) == [
        {"startPeriod": 0, "limit": 6.0, "numberPhases": 3}
    ]


def test_a_relative_profile_without_a_transaction_never_changes() -> None:
    """An idle station with a Relative default must not wake at its period starts."""
    relative = from_payload(
        profile(1, "TxDefaultProfile", 0, [(0, 32), (60, 8)], kind="Relative", start=None), 0, T0
    )
    assert changes([relative], T0) is None
    assert changes([relative], T0, T0) == T0 + timedelta(seconds=60)
    assert composite([relative], 1, T0, 3600, "A", GRID, 44_000) == [
        {"startPeriod": 0, "limit": 32.0, "numberPhases": 3}
    ]


def test_purposes() -> None:
    assert from_payload(profile(1, "ChargingStationMaxProfile", 0, [(0, 1)]), 0, T0).purpose is (
        Purpose.STATION_MAX
    )
    with pytest.raises(ValueError, match="cannot be set"):
        from_payload(profile(1, "ChargingStationExternalConstraints", 0, [(0, 1)]), 0, T0)
