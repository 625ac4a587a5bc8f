"""How a run's counts become figures, and figures become text: the one place where the fleet
simulator's reports (`summary.json`, `report.html`, the status line) and the benchmarks' tables
(`sim.bench`, `sim.costs`) compute throughput, CPU per message and medians over runs, and print
numbers and ratios.

Latency percentiles come from one place too: `sim.fleet.latency.Histogram.summary`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

MISSING = "n/a"
"""What a table prints for a figure that could not be measured."""


def per_second(count: float, seconds: float) -> float | None:
    """``count`` over ``seconds``; None for an empty window."""
    return count / seconds if seconds > 0 else None


def us_per_message(cpu_seconds: float, messages: int) -> float | None:
    """CPU microseconds per message; None when no message was measured."""
    return cpu_seconds * 1e6 / messages if messages > 0 else None


def median(values: Iterable[float | None]) -> float | None:
    """The median of the figures that were measured (None ones left out); None if none was."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def number(value: float | None, digits: int = 1, *, missing: str = MISSING) -> str:
    """``value`` with thousands separators and ``digits`` decimals; ``missing`` for a figure
    that is None or not finite."""
    if value is None or not math.isfinite(value):
        return missing
    return f"{value:,.{digits}f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    """``ours / theirs`` as ``1.23x``; ``n/a`` when either is missing or ``theirs`` is 0."""
    if ours is None or theirs is None or theirs == 0:
        return MISSING
    return f"{ours / theirs:.2f}x"


def markdown_row(cells: Sequence[str]) -> str:
    """One row of a Markdown table; an empty cell is written ``| |``."""
    return "|" + "".join(f" {cell} |" if cell else " |" for cell in cells)
