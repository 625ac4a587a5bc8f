"""Dividing a site's limit among its active sessions: a pure function, no I/O.

The rules, in order:

1. Admission. A session either gets at least its minimum or nothing (2.0.1 K08 "a limit below
   the minimum charging rate is not supported"; 1.6 section 7.13 ``minChargingRate``). Sessions
   are admitted by priority (higher first) and, within a priority, by arrival (earlier first), as
   long as the admitted minimums fit in the budget; the first that does not fit, and every session
   after it in that order, gets 0.
2. Priority. Once every admitted session holds its minimum, what is left goes to the highest
   priority first: a lower priority gets more than its minimum only when every session above it
   is at its maximum.
3. Fairness. Within a priority the budget is water-filled: all get the same, except those whose
   maximum is below that level, whose unused share goes to the others.

Everything is computed in whole ``step`` units (0.1 A or W by default: what chargers resolve), so
the sum never exceeds the limit by a rounding error, and shares within a priority differ by at most
one step.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

NOMINAL_VOLTAGE = 230.0
"""Volts per phase used to turn a minimum current into watts on a site limited in W (IEC 60038)."""


@dataclass(frozen=True, slots=True)
class Demand:
    """One active session asking for a share."""

    key: Hashable
    """What identifies the session to the caller (e.g. station, EVSE)."""
    minimum: float
    """The least it may be given if given anything, in the site's unit."""
    maximum: float | None = None
    """The most it can use, in the site's unit; None: unknown (no cap but the budget)."""
    priority: int = 0
    """Higher is served first."""


def allocate(
    budget: float, demands: Sequence[Demand], *, step: float = 0.1
) -> dict[Hashable, float]:
    """Each demand's share of ``budget`` (its key -> a multiple of ``step``, 0 or at least its
    minimum). ``demands`` are in arrival order: among equals, the earlier are admitted first and
    get a leftover step first."""
    if step <= 0:
        raise ValueError("step must be positive")
    total = max(0, math.floor(budget / step + 1e-9))
    # Serve order: priority descending, then arrival (sorted() is stable).
    order = sorted(range(len(demands)), key=lambda i: -demands[i].priority)
    low = [max(0, math.ceil(d.minimum / step - 1e-9)) for d in demands]
    high = [
        total if d.maximum is None else max(low[i], math.floor(d.maximum / step + 1e-9))
        for i, d in enumerate(demands)
    ]
    units = [0] * len(demands)

    admitted: list[int] = []
    reserved = 0
    for i in order:
        if reserved + low[i] > total:
            break
        admitted.append(i)
        reserved += low[i]
    for i in admitted:
        units[i] = low[i]

    spare = total - reserved
    for members in _classes(admitted, demands):
        if spare == 0:
            break
        spare = _water_fill(members, units, high, spare)
    return {d.key: round(units[i] * step, 6) for i, d in enumerate(demands)}


def _classes(admitted: list[int], demands: Sequence[Demand]) -> list[list[int]]:
    """The admitted indices grouped by priority, highest first, arrival order within."""
    groups: dict[int, list[int]] = {}
    for i in admitted:
        groups.setdefault(demands[i].priority, []).append(i)
    return [groups[p] for p in sorted(groups, reverse=True)]


def _water_fill(members: list[int], units: list[int], high: list[int], spare: int) -> int:
    """Raise ``members`` (each already at its minimum in ``units``) towards a common level with
    ``spare`` units, none above its ``high``; returns the units left over."""
    base = sum(units[i] for i in members)
    budget = base + spare
    capacity = sum(high[i] for i in members)
    if capacity <= budget:
        for i in members:
            units[i] = high[i]
        return budget - capacity

    def filled(level: int) -> int:
        return sum(min(high[i], max(units[i], level)) for i in members)

    # The highest level whose fill fits: filled() is non-decreasing in the level.
    lo, hi = 0, max(high[i] for i in members)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if filled(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    left = budget - filled(lo)
    for i in members:
        units[i] = min(high[i], max(units[i], lo))
    # Fewer units are left than sessions that could take one more: the earliest get them.
    for i in members:
        if left == 0:
            break
        if units[i] == lo and units[i] < high[i]:
            units[i] += 1
            left -= 1
    return left
