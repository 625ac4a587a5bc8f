"""One simulated station against a central system, outside a fleet run: for a test or a script that
wants a charger which obeys profiles, holds reservations, keeps a local list, walks firmware updates
and log uploads through their statuses and shows display messages, and that it can also drive
itself (`SimStation.arrive` plugs an EV in).

    async with simulated_station("ws://127.0.0.1:9000/ocpp", "CP1", "ocpp2.0.1") as station:
        station.arrive(1, "TAG1")
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from sim.fleet.clock import SimClock
from sim.fleet.plan import StationSpec
from sim.fleet.scenario import parse_scenario
from sim.fleet.station import SimStation
from sim.fleet.tally import FleetTally

RUN_SECONDS = 24 * 3600.0
"""How long the station runs at most (it stops when the context ends)."""


@contextlib.asynccontextmanager
async def simulated_station(
    url: str,
    station_id: str,
    version: str,
    *,
    behaviour: Mapping[str, Any] | None = None,
    password: str | None = None,
    evses: int = 1,
    max_power_kw: float = 22.0,
    meter_interval: float = 60.0,
    heartbeat_interval: float | None = None,
    acceleration: float = 1.0,
    sessions: Mapping[str, Any] | None = None,
    boot_timeout: float = 30.0,
) -> AsyncIterator[SimStation]:
    """A station ``station_id`` speaking ``version`` connected to ``url`` (the station connects to
    ``url/station_id``), booted and with its EVSEs reported when the context is entered; it has
    no EV traffic of its own. ``behaviour`` is a ``[fleet.behaviour]`` table, ``sessions`` a
    ``[sessions]`` table (what an EV that `arrive`s wants). Its clock starts now, running
    ``acceleration`` times faster. Raises TimeoutError if it has not booted in ``boot_timeout``
    seconds."""
    csms: dict[str, Any] = {"url": url}
    if password is not None:
        csms["password"] = password
    start = datetime.now(UTC).replace(microsecond=0)
    scenario = parse_scenario(
        {
            "duration": RUN_SECONDS,
            "acceleration": acceleration,
            "start_time": start.isoformat().replace("+00:00", "Z"),
            "csms": csms,
            "fleet": [
                {
                    "model": "single",
                    "count": 1,
                    "versions": {version: 1},
                    "evses": evses,
                    "max_power_kw": max_power_kw,
                    "meter_interval": meter_interval,
                    "heartbeat_interval": heartbeat_interval,
                    "behaviour": dict(behaviour or {}),
                }
            ],
            "arrivals": {"per_evse_per_hour": 0},
            "sessions": dict(sessions or {}),
            "faults": {"reconnect_backoff_min": 0.05, "reconnect_backoff_max": 1.0},
        },
        name="single",
    )
    spec = StationSpec(0, station_id, scenario.fleet[0], version)
    clock = SimClock(scenario.start, acceleration)
    async with aiohttp.ClientSession() as http:
        station = SimStation(spec, scenario, clock, FleetTally(), http, [])
        task = asyncio.create_task(station.run(time.monotonic() + RUN_SECONDS))
        try:
            async with asyncio.timeout(boot_timeout):
                await station.ready.wait()
            yield station
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
