"""A mergeable latency histogram: log-spaced buckets 2 % apart, so percentiles of merged workers stay
within 2 % of the exact value and a run of millions of calls costs a few kilobytes."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

_RESOLUTION = math.log(1.02)
_FLOOR_MS = 0.01


def _bucket(ms: float) -> int:
    return 0 if ms <= _FLOOR_MS else 1 + int(math.log(ms / _FLOOR_MS) / _RESOLUTION)


def _value(bucket: int) -> float:
    """The upper bound of a bucket, in milliseconds."""
    return _FLOOR_MS * math.exp(bucket * _RESOLUTION)


class Histogram:
    """Counts of latencies by bucket; ``merge`` adds another worker's."""

    __slots__ = ("buckets", "count", "max_ms")

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.count = 0
        self.max_ms = 0.0

    def add(self, ms: float) -> None:
        self.buckets[_bucket(ms)] += 1
        self.count += 1
        if ms > self.max_ms:
            self.max_ms = ms

    def merge(self, other: Histogram) -> None:
        self.buckets.update(other.buckets)
        self.count += other.count
        self.max_ms = max(self.max_ms, other.max_ms)

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile (upper bucket bound, capped at the largest value seen)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(p / 100 * self.count))
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                return round(min(_value(bucket), self.max_ms), 3)
        return round(self.max_ms, 3)

    def summary(self, points: Iterable[float] = (50, 90, 95, 99)) -> dict[str, float | None]:
        result: dict[str, float | None] = {f"p{p:g}": self.percentile(p) for p in points}
        result["max"] = round(self.max_ms, 3) if self.count else None
        return result

    def to_wire(self) -> tuple[dict[int, int], int, float]:
        """A picklable snapshot, to send to the parent process."""
        return dict(self.buckets), self.count, self.max_ms

    @classmethod
    def from_wire(cls, wire: tuple[dict[int, int], int, float]) -> Histogram:
        histogram = cls()
        histogram.buckets.update(wire[0])
        histogram.count, histogram.max_ms = wire[1], wire[2]
        return histogram
