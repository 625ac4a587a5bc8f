"""The site allocator's rules, as properties over any limit and any set of sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from csms.sites.allocator import Demand, allocate
from csms.sites.limits import (
    budget_at,
    limit_at,
    next_budget_change,
    next_change,
    session_minimum,
)
from persistence.sites import ScheduleEntry, Site

STEP = 0.1
EPS = 1e-6


@st.composite
def demands(draw: st.DrawFn) -> list[Demand]:
    minimum = draw(st.sampled_from([1.0, 6.0, 8.0]))
    count = draw(st.integers(0, 25))
    return [
        Demand(
            key=i,
            minimum=minimum,
            maximum=draw(st.one_of(st.none(), st.floats(0.0, 64.0).map(lambda v: round(v, 1)))),
            priority=draw(st.integers(0, 2)),
        )
        for i in range(count)
    ]


budgets = st.floats(0.0, 400.0).map(lambda v: round(v, 2))


def _cap(d: Demand, budget: float) -> float:
    return budget if d.maximum is None else max(d.maximum, d.minimum)


@settings(max_examples=400, deadline=None)
@given(budgets, demands())
def test_never_over_the_limit_and_nobody_between_zero_and_the_minimum(
    budget: float, sessions: list[Demand]
) -> None:
    shares = allocate(budget, sessions, step=STEP)
    assert sum(shares.values()) <= budget + EPS
    for d in sessions:
        share = shares[d.key]
        assert share == 0 or share >= d.minimum - EPS
        assert share <= _cap(d, budget) + EPS


@settings(max_examples=400, deadline=None)
@given(budgets, demands())
def test_priorities_are_served_first(budget: float, sessions: list[Demand]) -> None:
    shares = allocate(budget, sessions, step=STEP)
    for low in sessions:
        for high in sessions:
            if high.priority <= low.priority:
                continue
            # Nobody is cut off while someone below them is admitted...
            if shares[high.key] == 0:
                assert shares[low.key] == 0
            # ...and nobody below gets more than the minimum while someone above could use more.
            if shares[low.key] > low.minimum + EPS:
                assert shares[high.key] >= _cap(high, budget) - STEP - EPS


@settings(max_examples=400, deadline=None)
@given(budgets, demands())
def test_fair_within_a_priority(budget: float, sessions: list[Demand]) -> None:
    shares = allocate(budget, sessions, step=STEP)
    for a in sessions:
        for b in sessions:
            if a.priority != b.priority or shares[a.key] == 0 or shares[b.key] == 0:
                continue
            # a gets less than b only because a is at its own maximum (or by one leftover step).
            if shares[a.key] < shares[b.key] - STEP - EPS:
                assert shares[a.key] >= _cap(a, budget) - EPS


@settings(max_examples=400, deadline=None)
@given(budgets, demands())
def test_nothing_is_left_unused_that_someone_could_take(
    budget: float, sessions: list[Demand]
) -> None:
    shares = allocate(budget, sessions, step=STEP)
    left = budget - sum(shares.values())
    hungry = [d for d in sessions if 0 < shares[d.key] < _cap(d, budget) - EPS]
    if hungry:
        assert left < STEP + EPS


def test_water_filling_gives_a_capped_sessions_rest_to_the_others() -> None:
    sessions = [
        Demand("a", minimum=6, maximum=10),
        Demand("b", minimum=6),
        Demand("c", minimum=6),
    ]
    assert allocate(70, sessions) == {"a": 10.0, "b": 30.0, "c": 30.0}


def test_sessions_that_cannot_get_the_minimum_get_nothing_latest_and_lowest_first() -> None:
    sessions = [
        Demand("old-low", minimum=6, priority=0),
        Demand("high", minimum=6, priority=1),
        Demand("new-low", minimum=6, priority=0),
    ]
    assert allocate(13, sessions) == {"old-low": 6.0, "high": 7.0, "new-low": 0.0}
    assert allocate(5.9, sessions) == {"old-low": 0.0, "high": 0.0, "new-low": 0.0}


def test_priority_takes_what_it_can_use_then_the_next_priority() -> None:
    sessions = [
        Demand("vip", minimum=6, maximum=32, priority=5),
        Demand("a", minimum=6, priority=0),
        Demand("b", minimum=6, priority=0),
    ]
    assert allocate(100, sessions) == {"vip": 32.0, "a": 34.0, "b": 34.0}


def test_without_a_minimum_everyone_shares() -> None:
    sessions = [Demand(k, minimum=0) for k in "ab"]
    assert allocate(0.3, sessions) == {"a": 0.2, "b": 0.1}


def test_leftover_steps_go_to_the_earliest() -> None:
    sessions = [Demand(k, minimum=6) for k in "abc"]
    assert allocate(20, sessions) == {"a": 6.7, "b": 6.7, "c": 6.6}


def _site(schedule: tuple[ScheduleEntry, ...] = (), unit: str = "A") -> Site:
    return Site(
        id="s",
        name="s",
        limit_unit=unit,
        limit_value=250.0,
        phases=3,
        min_current=6.0,
        schedule=schedule,
    )


def _at(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 12, 4, hh, mm, tzinfo=UTC)


def test_the_schedule_replaces_the_limit_from_each_start_until_the_next() -> None:
    site = _site((ScheduleEntry(18 * 60, 120.0), ScheduleEntry(22 * 60, 200.0)))
    assert limit_at(site, _at(0)) == 200.0  # the previous day's last entry
    assert limit_at(site, _at(17, 59)) == 200.0
    assert limit_at(site, _at(18)) == 120.0
    assert limit_at(site, _at(21, 59)) == 120.0
    assert limit_at(site, _at(23, 59)) == 200.0
    assert next_change(site, _at(12)) == _at(18)
    assert next_change(site, _at(18)) == _at(22)
    assert next_change(site, _at(22, 30)) == _at(18) + timedelta(days=1)
    assert limit_at(_site(), _at(12)) == 250.0
    assert next_change(_site(), _at(12)) is None


def test_a_site_in_watts_counts_the_minimum_on_its_phases() -> None:
    assert session_minimum(_site()) == 6.0
    assert session_minimum(_site(unit="W")) == 6.0 * 230.0 * 3


def test_a_falling_value_is_shared_out_ahead_a_rising_one_when_it_starts() -> None:
    site = _site((ScheduleEntry(8 * 60, 100.0), ScheduleEntry(18 * 60, 40.0)))
    lead = 30.0
    second = timedelta(seconds=1)
    # Falling at 18:00: from 17:59:30 on.
    assert budget_at(site, _at(17, 59) + 29 * second, lead) == 100.0
    assert budget_at(site, _at(17, 59) + 30 * second, lead) == 40.0
    # Rising at 08:00: not before.
    assert budget_at(site, _at(8) - second, lead) == 40.0
    assert budget_at(site, _at(8), lead) == 100.0
    assert next_budget_change(site, _at(12), lead) == _at(17, 59) + 30 * second
    # The lead's own round, then the change itself (the budget stays), then 08:00 less the lead.
    assert next_budget_change(site, _at(17, 59) + 30 * second, lead) == _at(18)
    assert next_budget_change(site, _at(18), lead) == _at(7, 59) + timedelta(days=1, seconds=30)
    # A lead longer than a minute is cut to one: only one entry starts within it.
    assert budget_at(site, _at(17, 58), 600.0) == 100.0
    assert next_budget_change(_site(), _at(12), lead) is None
