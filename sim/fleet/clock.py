"""Simulated time: the scenario's start time plus wall-clock time since the run began, accelerated.

Stations write simulated timestamps into their messages and schedule their behaviour (arrivals, meter
values, heartbeats) in simulated seconds; the clock converts both ways so that a station can sleep
until a simulated instant.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    """``sim_now() = start + (monotonic() - origin) * acceleration``."""

    def __init__(
        self,
        start: datetime,
        acceleration: float,
        *,
        origin: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if acceleration <= 0:
            raise ValueError("acceleration must be positive")
        self.start = start.astimezone(UTC)
        self.acceleration = acceleration
        self._monotonic = monotonic
        self.origin = monotonic() if origin is None else origin
        """Monotonic time of the simulated start (shared by the workers of one run)."""

    def elapsed(self) -> float:
        """Simulated seconds since the start."""
        return (self._monotonic() - self.origin) * self.acceleration

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed())

    def at(self, elapsed: float) -> datetime:
        """The simulated instant ``elapsed`` simulated seconds after the start."""
        return self.start + timedelta(seconds=elapsed)

    def wall_delay(self, elapsed: float) -> float:
        """Wall-clock seconds from now until simulated second ``elapsed`` (0 if past)."""
        return max(0.0, (elapsed - self.elapsed()) / self.acceleration)

    def hour_of_day(self, elapsed: float) -> int:
        return self.at(elapsed).hour
