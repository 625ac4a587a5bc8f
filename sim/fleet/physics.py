"""How an EV charges: constant power up to the taper state of charge, then a linear taper.

Power is the lower of the station's and the EV's maximum; above ``taper_soc`` it falls linearly towards
a tenth of that at a full battery (the constant-current / constant-voltage shape of lithium cells).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TAPER_FLOOR = 0.1
"""Fraction of full power left at 100 % state of charge."""


@dataclass(slots=True)
class EvBattery:
    """The battery of one plugged-in EV."""

    capacity_wh: float
    soc: float
    """State of charge, 0..1."""
    max_power_w: float
    """The lower of the EV's and the EVSE's maximum."""
    taper_soc: float
    cap_w: float = math.inf
    """The limit the station's charging profiles put on this EVSE now (inf: none)."""

    def power_w(self) -> float:
        """Charging power at the present state of charge, within the station's limit."""
        return min(self.cap_w, self.demand_w())

    def demand_w(self) -> float:
        """What the EV would take without a limit."""
        if self.soc >= 1.0:
            return 0.0
        if self.soc < self.taper_soc:
            return self.max_power_w
        remaining = (1.0 - self.soc) / max(1e-9, 1.0 - self.taper_soc)
        return self.max_power_w * max(TAPER_FLOOR, remaining)

    def charge(self, seconds: float, limit_wh: float) -> float:
        """Charge for ``seconds`` (in steps of at most a minute, so the taper is followed), at most
        ``limit_wh``; returns the energy delivered in Wh."""
        delivered = 0.0
        left = seconds
        while left > 0 and delivered < limit_wh and self.soc < 1.0:
            step = min(60.0, left)
            energy = min(self.power_w() * step / 3600.0, limit_wh - delivered)
            energy = min(energy, (1.0 - self.soc) * self.capacity_wh)
            if energy <= 0:
                break
            delivered += energy
            self.soc += energy / self.capacity_wh
            left -= step
        return delivered
