"""One simulated station against the in-process `FakeCsms`, for the tests of its behaviours."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sim.fleet.single import simulated_station
from sim.fleet.station import SimStation
from tests.sim.fleet.fake_csms import Answer, FakeCsms
from tests.timing import UNIT

ACCELERATION = 60.0
"""Simulated seconds per wall-clock second: a 60 s meter interval is one second."""


STATION_ID = "SIM-t-00001"


@contextlib.asynccontextmanager
async def station_against_csms(
    version: str,
    behaviour: dict[str, Any] | None = None,
    *,
    evses: int = 1,
    answers: dict[str, Answer] | None = None,
    password: str | None = None,
    authorize: bool = True,
) -> AsyncIterator[tuple[FakeCsms, SimStation]]:
    """A booted station of ``version`` (no EV traffic of its own: the test brings the EVs with
    `SimStation.arrive`) and the CSMS it is connected to; nothing either sent may break the
    schemas."""
    csms = FakeCsms(dict(answers or {}))
    await csms.start()
    try:
        async with simulated_station(
            csms.url,
            STATION_ID,
            version,
            behaviour=behaviour,
            password=password,
            evses=evses,
            max_power_kw=22,
            meter_interval=60,
            heartbeat_interval=3600,
            acceleration=ACCELERATION,
            sessions={"ev_max_power_kw": 22, "authorize": authorize},
            boot_timeout=100 * UNIT,
        ) as station:
            yield csms, station
    finally:
        await csms.stop()
    assert not csms.violations, csms.violations
    assert not station.tally.violations, station.tally.violations


def power_samples(csms: FakeCsms) -> list[float]:
    """Power.Active.Import of every meter value the station sent (1.6 MeterValues, 2.x
    TransactionEvent), in order."""
    samples: list[float] = []
    for received in csms.received:
        if received.action not in ("MeterValues", "TransactionEvent"):
            continue
        for meter in received.payload.get("meterValue", []):
            for sampled in meter["sampledValue"]:
                if sampled.get("measurand") == "Power.Active.Import":
                    samples.append(float(sampled["value"]))
    return samples


def statuses(csms: FakeCsms, action: str) -> list[str]:
    return [p["status"] for p in csms.of(action)]


def connector_statuses(csms: FakeCsms) -> list[str]:
    return [p.get("status") or p["connectorStatus"] for p in csms.of("StatusNotification")]
