"""The result of one load run, as printed and written to JSON."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None when there are none."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    if not sorted_values:
        return None
    rank = math.ceil(p / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Reply latency percentiles in milliseconds; None when nothing was measured."""

    p50: float | None
    """Median."""
    p90: float | None
    """90th percentile."""
    p99: float | None
    """99th percentile."""
    max: float | None
    """Largest latency seen."""

    @classmethod
    def of(cls, values: Sequence[float]) -> LatencySummary:
        """Summarise raw latencies (any order)."""
        ordered = sorted(values)
        return cls(
            p50=_round(percentile(ordered, 50)),
            p90=_round(percentile(ordered, 90)),
            p99=_round(percentile(ordered, 99)),
            max=_round(ordered[-1] if ordered else None),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Merged numbers of one load run over all worker processes."""

    mode: str
    """`saturate` or `rate`."""
    offered_rate: float | None
    """Messages per second offered in rate mode; None in saturate mode."""
    stations: int
    """Chargers asked for."""
    booted: int
    """Chargers whose BootNotification was accepted and whose status reports were answered."""
    connect_seconds: float
    """From the start of the connect ramp until the last charger had booted."""
    messages: int
    """CALLRESULTs received in the measured window (the server's work in that window)."""
    duration: float
    """Length of the measured window in seconds."""
    msgs_per_s: float
    """`messages / duration`."""
    latency_ms: LatencySummary
    """Reply latency of the CALLRESULTs to CALLs scheduled in the window, also when they
    arrive after it; in rate mode measured from the scheduled send time."""
    errors: dict[str, int]
    """CALLERRORs to CALLs scheduled in the window, by error code."""
    timeouts: int
    """CALLs scheduled in the window with no reply within the call timeout."""
    unsent: int
    """Rate mode: CALLs scheduled in the window that could not be sent before the run ended."""
    boot_failures: dict[str, int]
    """Chargers that did not boot, by reason."""
    unexpected_replies: int
    """Replies whose unique id matched no CALL waiting for one (late or wrong)."""
    protocol_violations: int
    """Frames from the server that are not valid OCPP-J."""
    disconnects: int
    """Connections the server closed before the run ended."""
    server_calls: int
    """CALLs the central system sent to the chargers (answered, not measured)."""
    by_action: dict[str, int]
    """CALLRESULTs received in the window, per action."""
    workers: int
    """Worker processes used."""
    concurrency: int
    """CALLs in flight per charger."""

    @property
    def clean(self) -> bool:
        """True when every charger booted and nothing went wrong."""
        return (
            self.booted == self.stations
            and not self.errors
            and not self.boot_failures
            and self.timeouts == 0
            and self.unsent == 0
            and self.unexpected_replies == 0
            and self.protocol_violations == 0
            and self.disconnects == 0
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dataclasses.asdict(self)

    def to_json(self) -> bytes:
        """Indented JSON with sorted keys."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
