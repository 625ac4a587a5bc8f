"""voltmesh's composite schedule (OCPP 1.6 section 3.13, 2.0.1 K08): stacking by stack level,
purposes combined as the minimum of the station maximum and the transaction's limit, recurring
and relative schedules, validity, units, and external limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.smart_charging.composite import (
    CompositePeriod,
    ExternalLimit,
    composite_schedule,
)
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

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def profile(
    profile_id: int,
    purpose: Purpose,
    periods: list[tuple[int, float]],
    *,
    stack_level: int = 0,
    kind: Kind = Kind.ABSOLUTE,
    start: datetime | None = T0,
    duration: int | None = None,
    unit: RateUnit = RateUnit.A,
    recurrency: Recurrency | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    transaction_id: str | None = None,
    phases: int | None = None,
) -> ChargingProfile:
    schedule = ChargingSchedule(
        unit=unit,
        periods=tuple(SchedulePeriod(s, limit, phases) for s, limit in periods),
        start=None if kind is Kind.RELATIVE else start,
        duration=duration,
    )
    return ChargingProfile(
        id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        schedules=(schedule,),
        recurrency=recurrency,
        valid_from=valid_from,
        valid_to=valid_to,
        transaction_id=transaction_id,
    )


def limits(schedule: object) -> list[tuple[int, float | None]]:
    periods: tuple[CompositePeriod, ...] = schedule.periods  # type: ignore[attr-defined]
    return [(p.start_period, p.limit) for p in periods]


def test_no_profiles_no_limit() -> None:
    result = composite_schedule([], evse_id=1, start=T0, duration=600, unit=RateUnit.A)
    assert limits(result) == [(0, None)]
    assert result.start == T0 and result.duration == 600


def test_higher_stack_level_wins_and_falls_through_when_it_ends() -> None:
    low = profile(1, Purpose.TX_DEFAULT, [(0, 16.0)], stack_level=0)
    high = profile(2, Purpose.TX_DEFAULT, [(0, 10.0), (300, 12.0)], stack_level=3, duration=600)
    installed = [InstalledProfile(1, low), InstalledProfile(1, high)]
    result = composite_schedule(installed, evse_id=1, start=T0, duration=1200, unit=RateUnit.A)
    # The high stack level rules while its schedule lasts (600 s), then the lower one again.
    assert limits(result) == [(0, 10.0), (300, 12.0), (600, 16.0)]


def test_station_max_and_tx_default_combine_as_their_minimum() -> None:
    station_max = profile(1, Purpose.STATION_MAX, [(0, 20.0), (600, 8.0)])
    default = profile(2, Purpose.TX_DEFAULT, [(0, 12.0)])
    installed = [InstalledProfile(0, station_max), InstalledProfile(0, default)]
    result = composite_schedule(installed, evse_id=1, start=T0, duration=1200, unit=RateUnit.A)
    assert limits(result) == [(0, 12.0), (600, 8.0)]
    # EVSE 0's composite is the station maximum alone.
    station = composite_schedule(installed, evse_id=0, start=T0, duration=1200, unit=RateUnit.A)
    assert limits(station) == [(0, 20.0), (600, 8.0)]


def test_tx_profile_replaces_tx_default_only_while_its_transaction_runs() -> None:
    default = profile(1, Purpose.TX_DEFAULT, [(0, 16.0)], stack_level=5)
    tx = profile(2, Purpose.TX, [(0, 6.0)], transaction_id="42")
    installed = [InstalledProfile(0, default), InstalledProfile(1, tx)]
    running = composite_schedule(
        installed, evse_id=1, start=T0, duration=60, unit=RateUnit.A, transaction_id="42"
    )
    assert limits(running) == [(0, 6.0)]
    idle = composite_schedule(installed, evse_id=1, start=T0, duration=60, unit=RateUnit.A)
    assert limits(idle) == [(0, 16.0)]
    other = composite_schedule(
        installed, evse_id=1, start=T0, duration=60, unit=RateUnit.A, transaction_id="43"
    )
    assert limits(other) == [(0, 16.0)]


def test_evse_specific_default_beats_station_wide_at_the_same_level() -> None:
    everywhere = profile(1, Purpose.TX_DEFAULT, [(0, 16.0)], stack_level=1)
    here = profile(2, Purpose.TX_DEFAULT, [(0, 11.0)], stack_level=1)
    installed = [InstalledProfile(0, everywhere), InstalledProfile(2, here)]
    assert limits(
        composite_schedule(installed, evse_id=2, start=T0, duration=60, unit=RateUnit.A)
    ) == [(0, 11.0)]
    assert limits(
        composite_schedule(installed, evse_id=1, start=T0, duration=60, unit=RateUnit.A)
    ) == [(0, 16.0)]


def test_daily_recurrence_repeats_across_midnight() -> None:
    # From 18:00 every day: 10 A for 4 h, then no limit (the schedule's duration ends).
    evening = profile(
        1,
        Purpose.TX_DEFAULT,
        [(0, 10.0)],
        kind=Kind.RECURRING,
        recurrency=Recurrency.DAILY,
        start=datetime(2026, 11, 20, 18, 0, tzinfo=UTC),
        duration=4 * 3600,
    )
    start = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    result = composite_schedule(
        [InstalledProfile(0, evening)],
        evse_id=1,
        start=start,
        duration=26 * 3600,
        unit=RateUnit.A,
    )
    hour = 3600
    assert limits(result) == [
        (0, None),
        (1 * hour, 10.0),
        (5 * hour, None),
        (25 * hour, 10.0),
    ]


def test_weekly_recurrence() -> None:
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    weekly = profile(
        1,
        Purpose.STATION_MAX,
        [(0, 32.0), (24 * 3600, 16.0)],
        kind=Kind.RECURRING,
        recurrency=Recurrency.WEEKLY,
        start=monday - timedelta(weeks=3),
    )
    result = composite_schedule(
        [InstalledProfile(0, weekly)],
        evse_id=0,
        start=monday + timedelta(days=6),
        duration=2 * 24 * 3600,
        unit=RateUnit.A,
    )
    assert limits(result) == [(0, 16.0), (24 * 3600, 32.0)]


def test_relative_profile_starts_with_the_transaction() -> None:
    relative = profile(1, Purpose.TX_DEFAULT, [(0, 6.0), (600, 16.0)], kind=Kind.RELATIVE)
    result = composite_schedule(
        [InstalledProfile(1, relative)],
        evse_id=1,
        start=T0,
        duration=1200,
        unit=RateUnit.A,
        transaction_id="7",
        transaction_start=T0 - timedelta(seconds=400),
    )
    assert limits(result) == [(0, 6.0), (200, 16.0)]
    # Without a transaction: as for one that starts at the window's start.
    idle = composite_schedule(
        [InstalledProfile(1, relative)], evse_id=1, start=T0, duration=1200, unit=RateUnit.A
    )
    assert limits(idle) == [(0, 6.0), (600, 16.0)]


def test_validity_bounds_a_profile() -> None:
    bounded = profile(
        1,
        Purpose.TX_DEFAULT,
        [(0, 8.0)],
        start=T0 - timedelta(hours=1),
        valid_from=T0 + timedelta(seconds=100),
        valid_to=T0 + timedelta(seconds=400),
    )
    result = composite_schedule(
        [InstalledProfile(1, bounded)], evse_id=1, start=T0, duration=600, unit=RateUnit.A
    )
    assert limits(result) == [(0, None), (100, 8.0), (400, None)]


def test_units_convert_with_phases() -> None:
    watts = profile(1, Purpose.STATION_MAX, [(0, 11040.0)], unit=RateUnit.W)
    amps = profile(2, Purpose.TX_DEFAULT, [(0, 10.0)], phases=1)
    installed = [InstalledProfile(0, watts), InstalledProfile(1, amps)]
    in_amps = composite_schedule(installed, evse_id=1, start=T0, duration=60, unit=RateUnit.A)
    # 11040 W over 3 phases of 230 V is 16 A; the single-phase 10 A is less.
    assert limits(in_amps) == [(0, 10.0)]
    in_watts = composite_schedule(installed, evse_id=1, start=T0, duration=60, unit=RateUnit.W)
    assert limits(in_watts) == [(0, 2300.0)]
    assert in_watts.periods[0].number_phases == 1


def test_external_limit_bounds_the_evse() -> None:
    default = profile(1, Purpose.TX_DEFAULT, [(0, 16.0)])
    external = ExternalLimit(
        0,
        ChargingSchedule(
            unit=RateUnit.A, periods=(SchedulePeriod(0, 9.0),), start=T0 + timedelta(seconds=30)
        ),
    )
    result = composite_schedule(
        [InstalledProfile(0, default)],
        evse_id=1,
        start=T0,
        duration=60,
        unit=RateUnit.A,
        external=[external],
    )
    assert limits(result) == [(0, 16.0), (30, 9.0)]


def test_a_schedule_of_the_most_periods_over_a_week() -> None:
    # 1024 periods (the 2.0.1 bound) of 60 s each, from 08:00 every day, over seven days: every
    # period is found at each recurrence (the lookup is by bisection, not a walk of the list).
    periods = [(60 * k, float(6 + k % 10)) for k in range(1024)]
    daily = profile(
        1,
        Purpose.TX_DEFAULT,
        periods,
        kind=Kind.RECURRING,
        recurrency=Recurrency.DAILY,
        duration=1024 * 60,
    )
    week = 7 * 24 * 3600
    result = composite_schedule(
        [InstalledProfile(0, daily)], evse_id=1, start=T0, duration=week, unit=RateUnit.A
    )
    by_start = dict(limits(result))
    day = 24 * 3600
    for day_index in range(7):
        for k in (0, 1, 9, 10, 511, 1023):
            assert by_start[day_index * day + 60 * k] == float(6 + k % 10)
        assert by_start[day_index * day + 1024 * 60] is None


def test_a_zero_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="duration"):
        composite_schedule([], evse_id=1, start=T0, duration=0, unit=RateUnit.A)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([Purpose.STATION_MAX, Purpose.TX_DEFAULT, Purpose.TX]),
            st.integers(0, 3),
            st.lists(st.tuples(st.integers(1, 3000), st.floats(0, 64)), max_size=4),
            st.floats(0, 64),
        ),
        max_size=6,
    )
)
def test_never_above_any_station_max_in_force(
    specs: list[tuple[Purpose, int, list[tuple[int, float]], float]],
) -> None:
    installed = []
    for index, (purpose, level, later, first) in enumerate(specs):
        periods = [(0, first), *sorted({s: v for s, v in later}.items())]
        placed = 0 if purpose is Purpose.STATION_MAX else 1
        installed.append(
            InstalledProfile(placed, profile(index + 1, purpose, periods, stack_level=level))
        )
    result = composite_schedule(
        installed, evse_id=1, start=T0, duration=3600, unit=RateUnit.A, transaction_id="1"
    )
    starts = [p.start_period for p in result.periods]
    assert starts[0] == 0 and starts == sorted(set(starts))
    maxima = [p for p in installed if p.profile.purpose is Purpose.STATION_MAX]
    for period in result.periods:
        if not maxima:
            continue
        top = max(maxima, key=lambda p: (p.profile.stack_level, p.profile.id))
        in_force = [
            x.limit
            for x in top.profile.schedules[0].periods
            if x.start_period <= period.start_period and x.limit is not None
        ]
        assert period.limit is not None
        assert period.limit <= round(in_force[-1], 3) + 1e-9
