"""The deterministic part of the simulator: fleet, arrivals, faults and backoff from the seed; the
clock, the battery and the latency histogram."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from csms.payloads.timestamps import ocpp_time
from sim.fleet.clock import SimClock
from sim.fleet.latency import Histogram
from sim.fleet.physics import EvBattery
from sim.fleet.plan import Fault, arrivals, backoff, faults, fleet
from sim.fleet.scenario import Scenario, load_scenario, parse_scenario


def _scenario(seed: int = 1, **faults_: float) -> Scenario:
    return parse_scenario(
        {
            "duration": 60,
            "seed": seed,
            "acceleration": 60,
            "start_time": "2026-06-01T00:00:00Z",
            "fleet": [
                {"model": "a", "count": 300, "versions": {"ocpp1.6": 1, "ocpp2.0.1": 3}},
                {"model": "b", "count": 100, "versions": {"ocpp2.1": 1}, "evses": 2},
            ],
            "arrivals": {"per_evse_per_hour": 1.0},
            "faults": faults_,
        },
        name="plan",
    )


def test_same_seed_same_fleet_other_seed_other_versions() -> None:
    one, again, other = fleet(_scenario(1)), fleet(_scenario(1)), fleet(_scenario(2))
    assert one == again
    assert [s.station_id for s in one] == [s.station_id for s in other]
    assert [s.version for s in one] != [s.version for s in other]
    versions = Counter(s.version for s in one if s.model.model == "a")
    # Weights 1:3 over 300 stations.
    assert 45 <= versions["ocpp1.6"] <= 105
    assert versions["ocpp1.6"] + versions["ocpp2.0.1"] == 300
    assert {s.version for s in one if s.model.model == "b"} == {"ocpp2.1"}
    assert one[0].station_id == "SIM-a-00001"
    assert len({s.station_id for s in one}) == 400


def test_arrivals_repeat_with_the_seed_and_follow_the_daily_profile() -> None:
    scenario = _scenario(7)
    first = list(itertools.islice(arrivals(scenario, "SIM-a-00001", 1), 200))
    assert first == list(itertools.islice(arrivals(scenario, "SIM-a-00001", 1), 200))
    assert first != list(itertools.islice(arrivals(scenario, "SIM-a-00002", 1), 200))
    assert first != list(itertools.islice(arrivals(_scenario(8), "SIM-a-00001", 1), 200))
    assert all(b.at > a.at for a, b in itertools.pairwise(first))
    tags = {a.id_tag for a in first}
    assert tags <= {f"SIMTAG{n:05d}" for n in range(100)}
    # Many stations over a simulated week: the 18:00 peak gets far more EVs than 03:00.
    by_hour: Counter[int] = Counter()
    for index in range(1, 51):
        for arrival in arrivals(scenario, f"SIM-a-{index:05d}", 1):
            if arrival.at > 7 * 86400:
                break
            by_hour[int(arrival.at // 3600) % 24] += 1
    assert by_hour[18] > 5 * by_hour[3]
    mean_per_hour = sum(by_hour.values()) / (7 * 24 * 50)
    assert mean_per_hour == pytest.approx(1.0, rel=0.15)


def test_faults_repeat_with_the_seed_at_their_rates() -> None:
    scenario = _scenario(3, drop_per_hour=2, reboot_per_hour=0.5)
    events = list(itertools.takewhile(lambda e: e.at < 1000 * 3600, faults(scenario, "S1")))
    assert events == list(itertools.takewhile(lambda e: e.at < 1000 * 3600, faults(scenario, "S1")))
    kinds = Counter(e.fault for e in events)
    assert set(kinds) == {Fault.DROP, Fault.REBOOT}
    assert kinds[Fault.DROP] == pytest.approx(2000, rel=0.1)
    assert kinds[Fault.REBOOT] == pytest.approx(500, rel=0.15)
    assert all(b.at >= a.at for a, b in itertools.pairwise(events))
    assert list(faults(_scenario(3), "S1")) == []


def test_backoff_grows_within_bounds_with_jitter() -> None:
    delays = [backoff(1, "S", attempt, 1.0, 30.0) for attempt in range(10)]
    assert all(1.0 <= d <= 30.0 for d in delays)
    assert delays == [backoff(1, "S", attempt, 1.0, 30.0) for attempt in range(10)]
    assert max(delays[:2]) <= 2.0
    fleet_delays = {round(backoff(1, f"S{n}", 3, 1.0, 30.0), 6) for n in range(100)}
    assert len(fleet_delays) > 90


def test_clock_accelerates_and_converts() -> None:
    now = [100.0]
    clock = SimClock(
        datetime(2026, 6, 1, 6, 0, tzinfo=UTC), 60.0, origin=100.0, monotonic=lambda: now[0]
    )
    now[0] = 101.5
    assert clock.elapsed() == 90.0
    assert ocpp_time(clock.now()) == "2026-06-01T06:01:30.000Z"
    assert clock.wall_delay(150.0) == pytest.approx(1.0)
    assert clock.wall_delay(10.0) == 0.0
    assert clock.hour_of_day(3600 * 20) == 2


def test_battery_charges_at_full_power_then_tapers() -> None:
    battery = EvBattery(capacity_wh=60_000, soc=0.5, max_power_w=11_000, taper_soc=0.8)
    assert battery.power_w() == 11_000
    # Full power up to 80 % (18 kWh), less after it.
    assert battery.charge(3600, limit_wh=1_000_000) == pytest.approx(11_000, rel=0.01)
    assert battery.charge(3600, limit_wh=1_000_000) < 11_000
    assert battery.soc > 0.8
    assert battery.power_w() < 11_000
    limited = EvBattery(capacity_wh=60_000, soc=0.1, max_power_w=50_000, taper_soc=0.8)
    assert limited.charge(3600, limit_wh=5_000) == pytest.approx(5_000)
    full = EvBattery(capacity_wh=10_000, soc=0.95, max_power_w=50_000, taper_soc=0.8)
    full.charge(10 * 3600, limit_wh=1e9)
    assert full.soc == pytest.approx(1.0)
    assert full.power_w() == 0.0


def test_latency_histogram_percentiles_merge_within_two_percent() -> None:
    rng = random.Random(5)
    values = [rng.lognormvariate(1.5, 0.8) for _ in range(20_000)]
    halves = Histogram(), Histogram()
    for n, value in enumerate(values):
        halves[n % 2].add(value)
    merged = Histogram.from_wire(halves[0].to_wire())
    merged.merge(halves[1])
    ordered = sorted(values)
    for p in (50, 90, 99):
        exact = ordered[math.ceil(p / 100 * len(ordered)) - 1]
        estimate = merged.percentile(p)
        assert estimate is not None
        assert estimate == pytest.approx(exact, rel=0.021)
    assert merged.summary()["max"] == pytest.approx(max(values), abs=0.001)
    assert Histogram().percentile(50) is None


def test_shipped_smoke_scenario_is_a_mixed_fleet() -> None:
    smoke = load_scenario("smoke")
    specs = fleet(smoke)
    assert 40 <= len(specs) <= 60
    assert {s.version for s in specs} == {"ocpp1.6", "ocpp2.0.1", "ocpp2.1"}
