"""Raw numbers a worker collects, and their merge into one `LoadResult` in the parent.

Workers ship every measured latency, not percentiles: percentiles of merged samples are
correct, averages of per-worker percentiles are not.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sim.config import LoadConfig, LoadMode
from sim.result import LatencySummary, LoadResult


class Tally:
    """Mutable counters of one worker process; one event loop writes them, nothing locks.

    Call `set_window()` before the traffic starts. Two rules decide what is measured:
    - throughput (`messages`, `by_action`) counts CALLRESULTs *received* in the window, so it
      matches server CPU time sampled over the same window;
    - latency, errors and timeouts cover CALLs *scheduled* in the window, including replies
      that arrive after it, so a server that falls behind cannot hide its backlog.
    """

    __slots__ = (
        "by_action",
        "disconnects",
        "errors",
        "latencies_ms",
        "messages",
        "protocol_violations",
        "server_calls",
        "timeouts",
        "unexpected_replies",
        "unsent",
        "window_end",
        "window_start",
    )

    def __init__(self) -> None:
        self.window_start = float("inf")
        self.window_end = float("inf")
        self.latencies_ms = array("d")
        self.messages = 0
        self.errors: Counter[str] = Counter()
        self.timeouts = 0
        self.unsent = 0
        self.unexpected_replies = 0
        self.protocol_violations = 0
        self.disconnects = 0
        self.server_calls = 0
        self.by_action: Counter[str] = Counter()

    def set_window(self, start: float, end: float) -> None:
        """Set the measured window in `time.monotonic()` seconds."""
        self.window_start = start
        self.window_end = end

    def in_window(self, at: float) -> bool:
        """Whether a CALL scheduled at `at` is measured."""
        return self.window_start <= at < self.window_end

    def record_result(self, action: str, scheduled_at: float, received_at: float) -> None:
        """A CALLRESULT arrived at `received_at` for a CALL scheduled at `scheduled_at`."""
        if self.window_start <= received_at < self.window_end:
            self.messages += 1
            self.by_action[action] += 1
        if self.window_start <= scheduled_at < self.window_end:
            self.latencies_ms.append((received_at - scheduled_at) * 1000.0)

    def record_error(self, code: str, scheduled_at: float) -> None:
        """A CALLERROR with `code` arrived for a CALL scheduled at `scheduled_at`."""
        if self.window_start <= scheduled_at < self.window_end:
            self.errors[code] += 1

    def record_timeout(self, scheduled_at: float) -> None:
        """No reply arrived within the call timeout."""
        if self.window_start <= scheduled_at < self.window_end:
            self.timeouts += 1


@dataclass(frozen=True, slots=True)
class BootReport:
    """How the connect-and-boot phase went in one worker."""

    booted: int
    """Chargers that finished the boot sequence."""
    failures: dict[str, int]
    """Chargers that did not, by reason."""
    last_booted_at: float | None
    """`time.monotonic()` when the last charger finished booting; None if none did."""


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """Everything one worker measured, sent to the parent when the run ends."""

    worker: int
    """Index of the worker process."""
    stations: int
    """Chargers this worker simulated."""
    boot: BootReport
    """Outcome of the boot phase."""
    latencies_ms: array[float]
    """Latency in milliseconds of every answered CALL scheduled in the window."""
    messages: int
    """CALLRESULTs received in the window."""
    errors: dict[str, int]
    """Measured CALLERRORs by code."""
    timeouts: int
    """Measured CALLs without a reply."""
    unsent: int
    """Rate mode: CALLs scheduled in the window but never sent."""
    unexpected_replies: int
    """Replies that matched no waiting CALL."""
    protocol_violations: int
    """Invalid frames received."""
    disconnects: int
    """Connections closed by the server during the run."""
    server_calls: int
    """CALLs received from the central system."""
    by_action: dict[str, int] = field(default_factory=dict)
    """CALLRESULTs received in the window, per action."""

    @classmethod
    def from_tally(cls, worker: int, stations: int, boot: BootReport, tally: Tally) -> WorkerReport:
        """Freeze a worker's tally for sending to the parent."""
        return cls(
            worker=worker,
            stations=stations,
            boot=boot,
            latencies_ms=tally.latencies_ms,
            messages=tally.messages,
            errors=dict(tally.errors),
            timeouts=tally.timeouts,
            unsent=tally.unsent,
            unexpected_replies=tally.unexpected_replies,
            protocol_violations=tally.protocol_violations,
            disconnects=tally.disconnects,
            server_calls=tally.server_calls,
            by_action=dict(tally.by_action),
        )


def _sum_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for one in counts:
        total.update(one)
    return dict(sorted(total.items()))


def merge_reports(
    config: LoadConfig, reports: Iterable[WorkerReport], *, connect_seconds: float
) -> LoadResult:
    """Merge worker reports; percentiles are taken over the union of all latencies."""
    reports = list(reports)
    latencies = array("d")
    for report in reports:
        latencies.extend(report.latencies_ms)
    messages = sum(r.messages for r in reports)
    return LoadResult(
        mode=config.mode.value,
        offered_rate=config.rate if config.mode is LoadMode.RATE else None,
        stations=sum(r.stations for r in reports),
        booted=sum(r.boot.booted for r in reports),
        connect_seconds=round(connect_seconds, 3),
        messages=messages,
        duration=config.duration,
        msgs_per_s=round(messages / config.duration, 1),
        latency_ms=LatencySummary.of(latencies),
        errors=_sum_counts(r.errors for r in reports),
        timeouts=sum(r.timeouts for r in reports),
        unsent=sum(r.unsent for r in reports),
        boot_failures=_sum_counts(r.boot.failures for r in reports),
        unexpected_replies=sum(r.unexpected_replies for r in reports),
        protocol_violations=sum(r.protocol_violations for r in reports),
        disconnects=sum(r.disconnects for r in reports),
        server_calls=sum(r.server_calls for r in reports),
        by_action=_sum_counts(r.by_action for r in reports),
        workers=len(reports),
        concurrency=config.concurrency,
    )
