"""The deterministic part of a run: which stations exist, and what happens to each when.

Everything random is drawn from streams seeded by (scenario seed, station id, purpose), never from a
shared generator, so a station's EV arrivals, sessions and faults are the same in every run with the
same seed, whatever the network timing, the number of workers or the order stations are served in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.fleet.scenario import Scenario, StationModel

VERSIONS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")


@dataclass(frozen=True, slots=True)
class StationSpec:
    """One simulated station."""

    index: int
    """Position in the fleet (0-based); worker ``index % workers`` runs it."""
    station_id: str
    model: StationModel
    version: str
    """Subprotocol it offers: ocpp1.6, ocpp2.0.1 or ocpp2.1."""


def stream(seed: int, station_id: str, purpose: str) -> random.Random:
    """An independent generator for one purpose of one station (str seeds hash deterministically,
    unlike ``hash()``)."""
    return random.Random(f"{seed}/{station_id}/{purpose}")


def fleet(scenario: Scenario) -> list[StationSpec]:
    """Every station of the scenario, models in file order, versions drawn by the mix weights."""
    specs: list[StationSpec] = []
    for model in scenario.fleet:
        versions = [v for v in VERSIONS if model.versions.get(v, 0) > 0]
        weights = [model.versions[v] for v in versions]
        for n in range(model.count):
            station_id = scenario.station_id(model.model, n + 1)
            version = stream(scenario.seed, station_id, "version").choices(versions, weights)[0]
            specs.append(StationSpec(len(specs), station_id, model, version))
    return specs


@dataclass(frozen=True, slots=True)
class Arrival:
    """An EV that plugs in."""

    at: float
    """Simulated seconds since the start."""
    id_tag: str
    energy_wh: float
    """What the driver wants; the EV leaves earlier if its dwell ends first."""
    dwell_s: float
    """Simulated seconds it stays plugged in."""
    soc: float
    """State of charge on arrival."""


def arrivals(scenario: Scenario, station_id: str, evse: int) -> Iterator[Arrival]:
    """EV arrivals at one EVSE: a Poisson process whose rate follows the time-of-day profile
    (thinning: candidates at the peak rate, each kept with probability weight / peak)."""
    rng = stream(scenario.seed, station_id, f"arrivals/{evse}")
    sessions = scenario.sessions
    peak = max(scenario.profile_weight(h) for h in range(24))
    rate = scenario.arrivals.per_evse_per_hour * peak / 3600.0
    if rate <= 0:
        return
    start_hour = _start_seconds_of_day(scenario)
    at = 0.0
    while True:
        at += rng.expovariate(rate)
        hour = int(((start_hour + at) // 3600) % 24)
        keep = rng.random() < scenario.profile_weight(hour) / peak
        energy_kwh = max(1.0, rng.gauss(sessions.energy_kwh_mean, sessions.energy_kwh_sd))
        energy_kwh = min(energy_kwh, sessions.battery_kwh * 0.95)
        dwell = rng.expovariate(1.0 / (sessions.dwell_minutes_mean * 60.0))
        tag = rng.randrange(sessions.id_tags)
        soc = max(0.0, 1.0 - energy_kwh / sessions.battery_kwh - rng.uniform(0.0, 0.05))
        if keep:
            yield Arrival(
                at=at,
                id_tag=f"{sessions.id_tag_prefix}{tag:05d}",
                energy_wh=energy_kwh * 1000.0,
                # At least one meter interval, so that every session reports energy.
                dwell_s=max(dwell, 2 * 60.0),
                soc=soc,
            )


def _start_seconds_of_day(scenario: Scenario) -> float:
    start = scenario.start
    return start.hour * 3600.0 + start.minute * 60.0 + start.second


class Fault(StrEnum):
    """What can go wrong at a station."""

    DROP = "drop"
    """The connection breaks; the station reconnects with backoff."""
    REBOOT = "reboot"
    """The station restarts: sessions end, it boots again."""
    OFFLINE = "offline"
    """The network is gone for a while: transaction messages queue and are replayed."""
    MALFORMED = "malformed"
    """The station sends a frame that is not OCPP-J."""
    SCHEMA_VIOLATION = "schema_violation"
    """The station sends a payload that breaks the schema."""


@dataclass(frozen=True, slots=True)
class FaultEvent:
    at: float
    """Simulated seconds since the start."""
    fault: Fault


def faults(scenario: Scenario, station_id: str) -> Iterator[FaultEvent]:
    """The station's faults in time order: one Poisson process per kind, merged."""
    f = scenario.faults
    rates = {
        Fault.DROP: f.drop_per_hour,
        Fault.REBOOT: f.reboot_per_hour,
        Fault.OFFLINE: f.offline_per_hour,
        Fault.MALFORMED: f.malformed_per_hour,
        Fault.SCHEMA_VIOLATION: f.schema_violation_per_hour,
    }
    streams = {
        kind: stream(scenario.seed, station_id, f"fault/{kind.value}")
        for kind, rate in rates.items()
        if rate > 0
    }
    upcoming = {kind: rng.expovariate(rates[kind] / 3600.0) for kind, rng in streams.items()}
    while upcoming:
        kind = min(upcoming, key=lambda k: (upcoming[k], k.value))
        at = upcoming[kind]
        if not math.isfinite(at):
            return
        yield FaultEvent(at, kind)
        upcoming[kind] = at + streams[kind].expovariate(rates[kind] / 3600.0)


def backoff(seed: int, station_id: str, attempt: int, low: float, high: float) -> float:
    """Wall-clock seconds before reconnect attempt ``attempt`` (0-based): exponential from ``low``,
    capped at ``high``, with full jitter so that a fleet does not reconnect in lockstep."""
    rng = stream(seed, station_id, f"backoff/{attempt}")
    ceiling = min(high, low * 2**attempt)
    return rng.uniform(low, max(low, ceiling))
