"""How often the firmware and log loop looks, and how long it waits for news."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import timedelta


def _seconds(name: str, default: float) -> float:
    """A positive, finite number of seconds from the environment; a bad one stops the node with
    an error that names the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class FirmwareSettings:
    tick: float = 5.0
    """Seconds between two rounds of the loop (retries due, campaigns, silence)."""
    stale_after: timedelta = timedelta(hours=2)
    """An update or log request in progress with no news for this long is TimedOut."""
    default_retry_interval: timedelta = timedelta(minutes=5)
    """Between a failed update and its retry, when the update names no interval."""
    call_timeout: float = 30.0
    """Seconds the loop waits for a station's answer to an UpdateFirmware."""

    @classmethod
    def from_environment(cls) -> FirmwareSettings:
        default = cls()
        return cls(
            tick=_seconds("VOLTMESH_FIRMWARE_TICK", default.tick),
            stale_after=timedelta(
                seconds=_seconds(
                    "VOLTMESH_FIRMWARE_STALE_AFTER", default.stale_after.total_seconds()
                )
            ),
        )


SETTINGS = FirmwareSettings.from_environment()
"""Read once at start; the loop reads this name each round (tests replace it)."""
